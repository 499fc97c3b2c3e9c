"""Real detector output through raw, MediaPipe's own smoothing, the classic filters and a trained model.

    python examples/real_video.py                                        # raw, MediaPipe, 5 filters
    python examples/real_video.py --checkpoint runs/conv3d/1.2-realistic # and a trained model
    python examples/real_video.py --stats                                # statistics behind RealisticNoise

Input: MediaPipe Pose (BlazePose, 33 landmarks) on the Sports2D demo video, 30 fps, 230 frames
(`examples/data/`, see its README for the source and licence): `sports2d_demo_raw.json` (no temporal
smoothing) and `sports2d_demo_mpsmooth.json` (MediaPipe's own landmark smoothing). `--data` points to
another folder holding files of those names.

Written to `--out` (default `runs/examples/real_video/`): one denoised file per method in the input's
format (all 33 landmarks, image ids and scores as read), `wrist.png` (a wrist's x and y over time),
`jitter.png` (jitter per joint), `jitter.json` and `jitter.md` (the figures). By default every landmark is
smoothed as detected, whatever its visibility, as MediaPipe's smoothing does; `--min-score 0.3` treats
less visible landmarks as missing and fills them from their neighbours (`denoise --fill-missing`), and
`--keep-missing` leaves them as detected.

Jitter is the mean |second difference| |p[t+1] - 2 p[t] + p[t-1]| in px/frame^2, per joint of the 25-joint
layout, over the triples of consecutive frames inside one track segment: no triple spans a frame without
a detection or one of the raw track's breaks (the single-person tracker jumping to someone else at
frames 172 and 203), where a jump is the tracker's, not jitter. Every landmark counts, whatever its
visibility. A method that flattens everything has no jitter, so the table also gives how far each method
moves the landmarks from the detector's output (mean distance to raw, px).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from posedenoise.breaks import segments, track_breaks  # noqa: E402
from posedenoise.denoise import denoise_file  # noqa: E402
from posedenoise.filter_options import FILTERS  # noqa: E402
from posedenoise.layout import BLAZEPOSE33_TO_25, FLIP_PAIRS, GROUPS, JOINTS  # noqa: E402
from posedenoise.tracks import layout25, read_tracks  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parent / "data"
RAW, MPSMOOTH = "sports2d_demo_raw.json", "sports2d_demo_mpsmooth.json"
CHAPTER_JOINTS = sorted(j for group in GROUPS.values() for j in group)  # the 15 joints BRACE/Penn Action have
VIDEO_FRAMES = 230  # frames of the video (its README); frames without a detection are absent from the file
LABELS = {
    "raw": "MediaPipe raw",
    "mediapipe": "MediaPipe smoothing",
    "oneeuro": "One Euro",
    "savgol": "Savitzky-Golay",
    "gaussian": "Gaussian",
    "butterworth": "Butterworth",
    "kalman": "Kalman/RTS",
    "model": "model",
}


# ----------------------------------------------------------------------------------------------- figures


def read_layout25(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The file's single track in the 25-joint layout: frames (T,), coords (T, 25, 2) px and
    visibility (T, 25)."""
    track = read_tracks(path).tracks[0]
    coords, _ = layout25(track, "blazepose33", min_score=0.0)
    has = BLAZEPOSE33_TO_25 >= 0
    visibility = np.zeros(coords.shape[:2])
    visibility[:, has] = track.scores[:, BLAZEPOSE33_TO_25[has]]
    return track.frames, coords, visibility


def break_frames(path: Path) -> list[int]:
    """Frames where `denoise` splits the file's track (whole-body jumps, long gaps)."""
    track = read_tracks(path).tracks[0]
    return [b.frame for b in track_breaks(track.frames, track.keypoints, track.present(0.0))]


def valid_triples(frames: np.ndarray, breaks: list[int]) -> np.ndarray:
    """(M,) indices i with frames i-1, i, i+1 consecutive video frames and no break inside the triple."""
    f = np.asarray(frames)
    i = np.arange(1, len(f) - 1)
    ok = (f[i + 1] - f[i] == 1) & (f[i] - f[i - 1] == 1)
    for b in breaks:
        ok &= ~((f[i - 1] < b) & (b <= f[i + 1]))  # the triple would straddle the jump
    return i[ok]


def jitter_per_joint(frames: np.ndarray, coords: np.ndarray, breaks: list[int]) -> np.ndarray:
    """(K,) mean |second difference| (px/frame^2) of each joint over the valid triples."""
    i = valid_triples(frames, breaks)
    second = coords[i + 1] - 2 * coords[i] + coords[i - 1]  # (M, K, 2)
    return np.nanmean(np.linalg.norm(second, axis=-1), axis=0)


def run_methods(
    data: Path,
    out: Path,
    checkpoint: Path | None = None,
    min_score: float = 0.0,
    fill_missing: bool = True,
    device: str = "cpu",
) -> dict[str, Path]:
    """Denoise the raw file with every classic smoother (and the model); returns method -> file."""
    raw = data / RAW
    files = {"raw": raw, "mediapipe": data / MPSMOOTH}
    out.mkdir(parents=True, exist_ok=True)
    options = dict(min_score=min_score, fill_missing=fill_missing)
    for name in FILTERS:
        files[name] = out / f"{name}.json"
        denoise_file(raw, files[name], filter=name, **options)
    if checkpoint is not None:
        files["model"] = out / "model.json"
        denoise_file(raw, files["model"], checkpoint, device=device, **options)
    return files


def figures(files: dict[str, Path], breaks: list[int]) -> dict[str, dict]:
    """Per method: jitter per joint, its mean over the 25 joints, over the chapter's 15 (the joints its
    datasets have, the only ones a model pretrained on them has learnt), the wrists', and the mean
    distance to raw."""
    frames, raw, _ = read_layout25(files["raw"])
    result = {}
    for name, path in files.items():
        f, coords, _ = read_layout25(path)
        if not np.array_equal(f, frames):
            raise ValueError(f"{path}: frames differ from the raw file's")
        per_joint = jitter_per_joint(f, coords, breaks)
        wrists = [JOINTS.index("left_wrist"), JOINTS.index("right_wrist")]
        result[name] = {
            "label": LABELS[name],
            "file": str(path),
            "jitter_mean": float(np.mean(per_joint)),
            "jitter_chapter_joints": float(np.mean(per_joint[CHAPTER_JOINTS])),
            "jitter_wrists": float(np.mean(per_joint[wrists])),
            "moved_from_raw_px": float(np.mean(np.linalg.norm(coords - raw, axis=-1))),
            "jitter_per_joint": {joint: float(v) for joint, v in zip(JOINTS, per_joint, strict=True)},
        }
    base = result["raw"]["jitter_mean"]
    for r in result.values():
        r["jitter_vs_raw"] = r["jitter_mean"] / base
    return result


def markdown_table(result: dict[str, dict]) -> str:
    lines = [
        "| method | jitter, 25 joints (px/frame²) | vs raw | jitter, chapter's 15 joints | jitter, wrists "
        "| mean distance to raw (px) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result.values():
        lines.append(
            f"| {r['label']} | {r['jitter_mean']:.2f} | {100 * r['jitter_vs_raw']:.0f}% "
            f"| {r['jitter_chapter_joints']:.2f} | {r['jitter_wrists']:.2f} | {r['moved_from_raw_px']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot_wrist(
    files: dict[str, Path], breaks: list[int], joint: str, path: Path, zoom: tuple[int, int] = (140, 170)
) -> None:
    """x and y of `joint` over the clip (left) and over the frames `zoom` (right), every method."""
    j = JOINTS.index(joint)
    fig, axes = plt.subplots(2, 2, figsize=(13, 6), sharex="col", gridspec_kw={"width_ratios": [2, 1]})
    for name, file in files.items():
        frames, coords, _ = read_layout25(file)
        x = frames.astype(float)
        cut = np.flatnonzero((np.diff(frames) > 1) | np.isin(frames[1:], breaks)) + 1  # no line across a gap
        x, coords = np.insert(x, cut, np.nan), np.insert(coords, cut, np.nan, axis=0)
        style = {"raw": dict(color="k", lw=0.8, marker=".", ms=3, zorder=5)}.get(name, dict(lw=1.3))
        for c in range(2):
            for ax in axes[c]:
                ax.plot(x, coords[:, j, c], label=LABELS[name], **style)
    for c, label in enumerate(("x (px)", "y (px)")):
        for b in breaks:
            axes[c, 0].axvline(b, color="k", ls=":", lw=0.8)
        axes[c, 0].set_ylabel(label)
        axes[c, 1].set_xlim(*zoom)
    raw_frames, raw, _ = read_layout25(files["raw"])
    inside = (raw_frames >= zoom[0]) & (raw_frames <= zoom[1])
    for c in range(2):  # the zoom's y range: the raw values in it, with a margin
        lo, hi = raw[inside, j, c].min(), raw[inside, j, c].max()
        axes[c, 1].set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    axes[0, 0].set_title(
        f"{joint}, MediaPipe Pose on the Sports2D demo (dotted: tracker jumps to another person)"
    )
    axes[0, 1].set_title(f"frames {zoom[0]}-{zoom[1]}")
    for ax in axes[1]:
        ax.set_xlabel("frame")
    axes[0, 0].legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_jitter(result: dict[str, dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(13, 4.5))
    width = 0.8 / len(result)
    x = np.arange(len(JOINTS))
    for i, r in enumerate(result.values()):
        values = [r["jitter_per_joint"][j] for j in JOINTS]
        ax.bar(
            x + (i - (len(result) - 1) / 2) * width,
            values,
            width,
            label=f"{r['label']} ({r['jitter_mean']:.1f})",
        )
    ax.set_xticks(x, [j.replace("_", " ") for j in JOINTS], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("mean |second difference| (px/frame²)")
    ax.set_title("Jitter per joint (legend: mean over the 25 joints)")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- statistics


def _runs(on: np.ndarray) -> list[int]:
    edges = np.flatnonzero(np.diff(np.r_[0, on.astype(np.int8), 0]))
    return (edges[1::2] - edges[::2]).tolist()


def real_sample_statistics(raw: Path, video_frames: int = VIDEO_FRAMES) -> dict:
    """The statistics of the real sample that set `noise.RealisticNoise`'s default rates."""
    from scipy.stats import norm

    from posedenoise.geometry import crop_to_grid

    frames, coords, vis = read_layout25(raw)
    breaks = break_frames(raw)
    track = read_tracks(raw).tracks[0]
    pieces = segments(len(frames), track_breaks(track.frames, track.keypoints, track.present(0.0)))
    stats: dict = {"joint_frames": int(vis.size)}
    stats["visibility_quantiles"] = np.round(np.quantile(vis, np.linspace(0, 1, 21)), 3).tolist()
    stats["share_visibility_below_0.3"] = float((vis < 0.3).mean())

    ranks = (np.argsort(np.argsort(vis.ravel())) + 0.5) / vis.size
    normal = norm.ppf(ranks).reshape(vis.shape)
    before, after = [], []  # normal scores of consecutive frames of a segment
    for s, e in pieces:
        consecutive = np.diff(frames[s:e]) == 1
        before.append(normal[s : e - 1][consecutive])
        after.append(normal[s + 1 : e][consecutive])
    lag1 = np.corrcoef(np.concatenate(before).ravel(), np.concatenate(after).ravel())[0, 1]
    stats["visibility_lag1_correlation"] = float(lag1)

    detected = np.zeros(video_frames, dtype=bool)
    detected[frames - 1] = True
    stats["frames_missed"] = int((~detected).sum())
    stats["share_frames_missed"] = float((~detected).mean())
    stats["missed_frame_runs"] = _runs(~detected)

    # left/right inversions: a chain whose sides trade places between consecutive frames flips state
    chains = {"arms": [5, 7, 9, 11, 13], "legs": [17, 19, 21, 23], "shoulders": [3], "ears": [1]}
    stats["inversions"] = {}
    for name, left in chains.items():
        right = [int(FLIP_PAIRS[j]) for j in left]
        runs, swapped, total = [], 0, 0
        for s, e in pieces:
            now, before = coords[s + 1 : e], coords[s : e - 1]  # (T - 1, K, 2)

            def moved(a, b, now=now, before=before):  # summed displacement from joints a to joints b
                return np.linalg.norm(now[:, a] - before[:, b], axis=-1).sum(axis=1)

            straight = moved(left, left) + moved(right, right)
            cross = moved(left, right) + moved(right, left)
            state = np.r_[0, np.cumsum(cross < 0.6 * straight) % 2].astype(bool)
            if state.mean() > 0.5:  # the minority state is the inverted one
                state = ~state
            runs += _runs(state)
            swapped += int(state.sum())
            total += len(state)
        stats["inversions"][name] = {"share_of_frames": swapped / total, "runs": runs}

    # shift size against visibility: robust spread of second differences on the 56-pixel grid
    present = np.ones(vis.shape, dtype=bool)
    grid, _, _ = crop_to_grid(coords, present)
    i = valid_triples(frames, breaks)
    second = (grid[i + 1] - 2 * grid[i] + grid[i - 1]).reshape(-1, 2)  # (M * K, 2)
    v = vis[i].ravel()
    bins = [(0.0, 0.3), (0.3, 0.7), (0.7, 0.9), (0.9, 0.99), (0.99, 1.01)]
    spread = []
    for lo, hi in bins:
        sel = second[(v >= lo) & (v < hi)]
        mad = np.median(np.abs(sel - np.median(sel)))
        spread.append(
            {
                "visibility": [lo, min(hi, 1.0)],
                "mean_visibility": float(v[(v >= lo) & (v < hi)].mean()),
                "robust_std_px": float(1.4826 * mad / np.sqrt(6)),  # a second difference has 6x the variance
                "joint_frames": int(len(sel)),
            }
        )
    top = spread[-1]["robust_std_px"]
    x = np.array([1 - s["mean_visibility"] for s in spread[:-1]])
    y = np.array([s["robust_std_px"] / top - 1 for s in spread[:-1]])
    stats["shift_by_visibility"] = spread
    stats["shift_gain_fit"] = float(
        (x * y).sum() / (x * x).sum()
    )  # least squares through 0: ratio = 1 + g(1-v)

    # outliers: joint-frames far (> 20% of the body's size) from the median of their 5-frame neighbourhood
    far, conf = [], []
    for s, e in pieces:
        f, c, vv = frames[s:e], coords[s:e], vis[s:e]
        for t in range(2, len(c) - 2):
            if f[t + 2] - f[t - 2] != 4:
                continue
            size = (c[t].max(0) - c[t].min(0)).max()
            far.append(np.linalg.norm(c[t] - np.median(c[t - 2 : t + 3], axis=0), axis=-1) > 0.2 * size)
            conf.append(vv[t])
    far, conf = np.concatenate(far), np.concatenate(conf)
    stats["outliers"] = {
        "share": float(far.mean()),
        "share_visibility_below_0.5": float(far[conf < 0.5].mean()),
        "share_visibility_above_0.9": float(far[conf > 0.9].mean()),
    }
    return stats


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the two MediaPipe files")
    parser.add_argument("--checkpoint", type=Path, help="a trained model (run folder or .pt) to add")
    parser.add_argument(
        "--out", type=Path, default=REPO / "runs" / "examples" / "real_video", help="output folder"
    )
    parser.add_argument(
        "--joint", default="right_wrist", help="joint of the trajectory plot (25-joint layout)"
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=0.0,
        help="visibility below which a landmark is missing (0: smooth every landmark, as MediaPipe does)",
    )
    parser.add_argument(
        "--keep-missing", action="store_true", help="leave missing landmarks as detected instead of filling"
    )
    parser.add_argument("--device", default="cpu", help="device for the model")
    parser.add_argument(
        "--stats", action="store_true", help="print the sample statistics behind RealisticNoise"
    )
    args = parser.parse_args()

    for name in (RAW, MPSMOOTH):
        if not (args.data / name).is_file():
            raise SystemExit(f"{args.data / name}: not found; point --data at the folder holding {RAW}")
    if args.joint not in JOINTS:
        raise SystemExit(f"unknown joint {args.joint!r}; choose one of {', '.join(JOINTS)}")
    if args.stats:
        print(json.dumps(real_sample_statistics(args.data / RAW), indent=1))
        return

    files = run_methods(
        args.data, args.out, args.checkpoint, args.min_score, not args.keep_missing, args.device
    )
    breaks = break_frames(args.data / RAW)
    result = figures(files, breaks)
    table = markdown_table(result)
    (args.out / "jitter.json").write_text(json.dumps({"breaks": breaks, "methods": result}, indent=1) + "\n")
    (args.out / "jitter.md").write_text(table)
    plot_wrist(files, breaks, args.joint, args.out / "wrist.png")
    plot_jitter(result, args.out / "jitter.png")
    print(table)
    print(f"wrote {args.out}/ (jitter.json, jitter.md, wrist.png, jitter.png, denoised files)")


if __name__ == "__main__":
    main()
