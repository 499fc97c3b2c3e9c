"""Denoise a COCO-format pose track with a classic smoother and (optionally) a trained model, and plot one
joint's trajectory before and after.

    python examples/denoise_coco_track.py                                # a synthetic noisy walk
    python examples/denoise_coco_track.py --input examples/data/sports2d_demo_raw.json --min-score 0.5
    python examples/denoise_coco_track.py --checkpoint runs/conv3d/1.2/best.pt --filter oneeuro

Without --input it writes a synthetic COCO keypoint results file (a smooth motion plus detector jitter,
so the plot can show the truth too). The denoised files are written next to the figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from posedenoise.denoise import denoise_file  # noqa: E402
from posedenoise.filter_options import FILTERS  # noqa: E402
from posedenoise.layout import COCO17, SOURCE_LAYOUTS  # noqa: E402
from posedenoise.tracks import read_tracks  # noqa: E402


def synthetic_coco(path: Path, frames: int = 150, seed: int = 0) -> np.ndarray:
    """Write a one-person COCO results file of a swinging, walking body; return the clean (T, 17, 2)."""
    rng = np.random.default_rng(seed)
    template = np.array(  # a standing person, ~220 px tall, in COCO-17 order
        [
            [0, -95],
            [-5, -100],
            [5, -100],
            [-12, -97],
            [12, -97],
            [-25, -70],
            [25, -70],
            [-35, -35],
            [35, -35],
            [-40, 0],
            [40, 0],
            [-15, 0],
            [15, 0],
            [-17, 55],
            [17, 55],
            [-18, 110],
            [18, 110],
        ],
        dtype=float,
    )
    t = np.arange(frames)
    clean = np.repeat(template[None], frames, axis=0) + np.array([400.0, 300.0])
    clean[:, :, 0] += 1.5 * t[:, None]  # walking right
    swing = 30 * np.sin(2 * np.pi * t / 40)  # arms and legs swing
    for j, sign in ((9, 1), (10, -1), (15, -1), (16, 1)):
        clean[:, j, 0] += sign * swing
    for j, sign in ((7, 1), (8, -1), (13, -1), (14, 1)):
        clean[:, j, 0] += sign * swing / 2
    noisy = clean + rng.normal(0, 4.0, size=clean.shape)  # detector jitter
    records = [
        {
            "image_id": i + 1,
            "category_id": 1,
            "score": 1.0,
            "keypoints": np.concatenate([noisy[i], np.full((17, 1), 0.9)], axis=1).ravel().tolist(),
        }
        for i in range(frames)
    ]
    path.write_text(json.dumps(records))
    return clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, help="COCO keypoint results JSON (default: a synthetic track)")
    parser.add_argument("--checkpoint", type=Path, help="a trained model (run folder or .pt) to compare")
    parser.add_argument("--filter", choices=FILTERS, default="savgol", help="classic filter")
    parser.add_argument("--joint", default="left_wrist", help="joint to plot (a name of the file's layout)")
    parser.add_argument("--track", type=int, default=0, help="which person (index in the file)")
    parser.add_argument("--min-score", type=float, default=0.3, help="lower scores count as missing")
    parser.add_argument("--output", type=Path, default=Path("denoise_example.png"), help="figure to write")
    args = parser.parse_args()

    out_dir = args.output.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    clean = None
    source = args.input
    if source is None:
        source = out_dir / "synthetic_track.json"
        clean = synthetic_coco(source)

    layout = read_tracks(source).layout
    names = SOURCE_LAYOUTS[layout][0]
    if args.joint not in names:
        raise SystemExit(f"joint {args.joint!r} is not in layout {layout}; choose one of {', '.join(names)}")
    j = names.index(args.joint)

    runs = {"detector": source}
    smoothed = out_dir / f"{source.stem}.{args.filter}.json"
    summary = denoise_file(source, smoothed, filter=args.filter, min_score=args.min_score)
    print("\n".join(summary.lines()))
    runs[args.filter] = smoothed
    if args.checkpoint is not None:
        modelled = out_dir / f"{source.stem}.model.json"
        summary = denoise_file(source, modelled, args.checkpoint, min_score=args.min_score)
        print("\n".join(summary.lines()))
        runs["model"] = modelled
    else:
        print("no --checkpoint given: plotting the smoother only")

    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for label, path in runs.items():
        track = read_tracks(path).tracks[args.track]
        kp = np.where(track.present(args.min_score)[..., None], track.keypoints, np.nan)
        style = {"detector": dict(color="0.6", lw=1), "model": dict(color="C3", lw=1.5)}.get(
            label, dict(lw=1.5)
        )
        frames = track.frames.astype(float)
        cut = np.isin(track.frames, [s["frame"] for s in summary.splits])  # no line across a split
        frames = np.insert(frames, np.flatnonzero(cut), np.nan)
        kp = np.insert(kp, np.flatnonzero(cut), np.nan, axis=0)
        for c, ax in enumerate(axes):
            ax.plot(frames, kp[:, j, c], label=label, **style)
    if clean is not None:
        for c, ax in enumerate(axes):
            ax.plot(
                np.arange(1, len(clean) + 1),
                clean[:, COCO17.index(args.joint), c],
                "k--",
                lw=1,
                label="truth",
            )
    for split in summary.splits:
        for ax in axes:
            ax.axvline(split["frame"], color="C1", ls=":", lw=1)
    axes[0].set_ylabel("x (px)")
    axes[1].set_ylabel("y (px)")
    axes[1].set_xlabel("frame")
    axes[0].set_title(f"{args.joint} of {source.name} (dotted lines: track splits)")
    axes[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
