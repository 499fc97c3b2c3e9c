"""Preprocessing and the prepared dataset format.

tracks (pixels) -> per-frame square crop mapped onto the 56 x 56 grid -> torso diameter -> windows of
5 frames at steps 1 and 2 -> seeded 60/20/20 split -> `frames.npz`, `windows.npz`, `videos.csv`, and
`manifest.json` last. The folder is built under a temporary name and renamed into place, so an existing
preparation is never damaged by a failed one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from posedenoise import checks, fileio
from posedenoise.constants import GRID, WINDOW
from posedenoise.errors import InputError, PoseDenoiseError, os_error_message
from posedenoise.geometry import crop_to_grid, torso_diameter
from posedenoise.sources import Track

FORMAT_VERSION = 1
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
SPLIT_NAMES = ("train", "val", "test")
STEPS = (1, 2)

ProgressFn = Callable[[str, int, int | None], None]  # (stage, done, total)


def disjoint_window_starts(frame_numbers: np.ndarray, step: int, window: int = WINDOW) -> np.ndarray:
    """Row offsets (within one video's kept rows) of non-overlapping windows at `step`.

    A window at step n covers rows r, r+n, ..., r+(window-1)n, which must be consecutive frames of the
    video (a skipped frame breaks a run). Each run of consecutive frames is cut into blocks of
    window * n frames; a block holds one window per frame phase, so windows never share a frame and both
    phases of a half-frame-rate video are used.
    """
    if len(frame_numbers) == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(frame_numbers) != 1) + 1
    run_starts = np.concatenate([[0], breaks])
    run_ends = np.concatenate([breaks, [len(frame_numbers)]])
    block = window * step
    starts = []
    for s, e in zip(run_starts, run_ends, strict=True):
        n_blocks = (e - s) // block
        if n_blocks:
            base = s + block * np.arange(n_blocks)
            starts.append((base[:, None] + np.arange(step)[None, :]).ravel())
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, dtype=np.int64)


def split_windows(n: int, seed: int, step: int, video_of_window: np.ndarray | None = None) -> np.ndarray:
    """(n,) int8 split labels (0 train, 1 val, 2 test), 60/20/20 after a seeded shuffle.

    With `video_of_window`, whole videos are assigned (leakage-free variant): videos are shuffled and
    filled into the splits until each reaches its share of windows.
    """
    rng = np.random.default_rng([seed, step, 7])
    labels = np.empty(n, dtype=np.int8)
    if video_of_window is None:
        order = rng.permutation(n)
        cut1 = int(round(SPLIT_FRACTIONS[0] * n))
        cut2 = cut1 + int(round(SPLIT_FRACTIONS[1] * n))
        labels[order[:cut1]], labels[order[cut1:cut2]], labels[order[cut2:]] = 0, 1, 2
        return labels
    videos, counts = np.unique(video_of_window, return_counts=True)
    order = rng.permutation(len(videos))
    cum = np.cumsum(counts[order]) / max(n, 1)
    # a video goes to the split in which the middle of its windows falls
    middle = cum - counts[order] / max(n, 1) / 2
    video_label = np.where(middle < SPLIT_FRACTIONS[0], 0, np.where(middle < 0.8, 1, 2)).astype(np.int8)
    lookup = dict(zip(videos[order].tolist(), video_label.tolist(), strict=True))
    return np.array([lookup[v] for v in video_of_window.tolist()], dtype=np.int8)


@dataclass
class PrepareSummary:
    out: str
    sources: list[str]
    videos: int
    frames: int
    skipped: dict[str, int]  # reason -> frames
    windows: dict[str, dict[str, int]]  # "step1" -> {"train": n, "val": n, "test": n}
    torso_mean_px: float
    split_by: str
    seed: int
    bytes_on_disk: int = 0
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the data cannot be used as it is


def prepare_dataset(
    tracks: Iterable[Track],
    out: str | Path,
    *,
    seed: int = 0,
    margin: float = 0.1,
    split_by: str = "window",
    sources: list[str] | None = None,
    total_tracks: int | None = None,
    progress: ProgressFn | None = None,
) -> PrepareSummary:
    """Crop, window, split and write the prepared dataset to `out`."""
    if split_by not in ("window", "video"):
        raise InputError(None, f"--split-by must be 'window' or 'video', got {split_by!r}")
    # a margin below 0 shrinks the box inside the body (coordinates off the grid); above 5 a person
    # spans under 5 of the 56 grid pixels
    margin = checks.number("--margin", margin, 0.0, MAX_MARGIN)
    seed = checks.seed("--seed", seed)
    out = Path(out)
    check_output_folder(out)  # before any work: a folder that is not ours is refused at once
    coords_parts, present_parts, torso_parts, video_parts, frame_parts = [], [], [], [], []
    video_rows = []
    starts = {n: [] for n in STEPS}
    skipped = {"fewer than 2 present joints": 0, "degenerate box": 0}
    short_videos = []  # names of videos that gave no window
    empty_videos = []  # names of videos without a usable frame
    row0 = 0
    for i, track in enumerate(tracks):
        track.validate()
        grid, _, keep = crop_to_grid(track.coords, track.present, margin)
        enough = track.present.sum(axis=1) >= 2
        skipped["fewer than 2 present joints"] += int((~enough).sum())
        skipped["degenerate box"] += int((enough & ~keep).sum())
        video_id = len(video_rows)
        frames = track.frames[keep]
        present = track.present[keep]
        grid = grid[keep]
        coords_parts.append(grid)
        present_parts.append(present)
        torso_parts.append(torso_diameter(grid, present))
        video_parts.append(np.full(len(frames), video_id, dtype=np.int32))
        frame_parts.append(frames.astype(np.int32))
        for n in STEPS:
            starts[n].append(row0 + disjoint_window_starts(frames, n))
        if len(frames) == 0:
            empty_videos.append(track.name)
        elif len(disjoint_window_starts(frames, 1)) == 0:
            short_videos.append(track.name)
        video_rows.append(
            {
                "video": video_id,
                "source": track.source,
                "name": track.name,
                "fps": track.fps,
                "frames": len(frames),
                "action": track.action or "",
            }
        )
        row0 += len(frames)
        if progress is not None:
            progress("tracks", i + 1, total_tracks)
    if row0 == 0:
        raise InputError(
            None,
            f"{_named(empty_videos)}: no usable frames (every frame has fewer than 2 visible joints, or "
            "all its joints at one point)",
        )

    frames_npz = {
        "coords": np.concatenate(coords_parts),
        "present": np.concatenate(present_parts),
        "torso": np.concatenate(torso_parts),
        "video": np.concatenate(video_parts),
        "frame": np.concatenate(frame_parts),
    }
    windows_npz, window_counts = {}, {}
    for n in STEPS:
        s = np.concatenate(starts[n]) if starts[n] else np.zeros(0, dtype=np.int64)
        vids = frames_npz["video"][s] if split_by == "video" else None
        labels = split_windows(len(s), seed, n, vids)
        windows_npz[f"step{n}_start"] = s.astype(np.int64)
        windows_npz[f"step{n}_split"] = labels
        window_counts[f"step{n}"] = {name: int((labels == j).sum()) for j, name in enumerate(SPLIT_NAMES)}
    if sum(window_counts["step1"].values()) == 0:
        raise InputError(
            None,
            f"{_named(short_videos + empty_videos)}: every video is shorter than a window of {WINDOW} "
            "consecutive usable frames; nothing to train on",
        )

    torso = frames_npz["torso"]
    summary = PrepareSummary(
        out=str(out),
        sources=sorted(set(sources or [r["source"] for r in video_rows])),
        videos=len(video_rows),
        frames=row0,
        skipped=skipped,
        windows=window_counts,
        torso_mean_px=float(np.nanmean(torso)) if np.isfinite(torso).any() else float("nan"),
        split_by=split_by,
        seed=seed,
    )
    if short_videos or empty_videos:
        summary.notes.append(
            f"{len(short_videos) + len(empty_videos)} videos shorter than a window of {WINDOW} "
            f"consecutive usable frames gave no windows: {_named(short_videos + empty_videos)}"
        )
    empty = {
        name: [step for step, counts in window_counts.items() if counts[name] == 0]
        for name in SPLIT_NAMES[1:]
    }
    if any(empty.values()):
        what = ", ".join(f"0 {name} windows at {'/'.join(steps)}" for name, steps in empty.items() if steps)
        how = f"--split-by video puts each of the {summary.videos} videos in one subset; " * (
            split_by == "video"
        )
        summary.warnings.append(
            f"{what} ({how}training needs val windows, evaluation test windows); prepare more videos"
        )
    _write_prepared(out, frames_npz, windows_npz, pd.DataFrame(video_rows), summary, margin, progress)
    return summary


MAX_MARGIN = 5.0
PREPARED_FILES = ("frames.npz", "windows.npz", "videos.csv", "manifest.json")  # all a preparation writes
PREPARED_FORMAT = "posedenoise-prepared"


def _named(names: list[str], shown: int = 3) -> str:
    """'a.json' / 'a.json, b.json and 4 more' / 'the given sources'."""
    if not names:
        return "the given sources"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def is_prepared_folder(path: str | Path) -> bool:
    """Whether `path` holds a preparation's manifest (what marks a folder posedenoise wrote)."""
    try:
        manifest = json.loads((Path(path) / "manifest.json").read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == PREPARED_FORMAT


def check_output_folder(out: str | Path) -> None:
    """Refuse an output folder that is not posedenoise's to replace.

    Allowed: a path that does not exist, an empty folder, or a prepared folder (recognised by its
    manifest) holding nothing but what a preparation writes. Refused, with nothing touched: an existing
    file, a symbolic link, a folder of anything else.
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        fileio.check_target(out)  # not under a file
        return
    if out.is_symlink():
        raise InputError(out, "is a symbolic link; give the folder itself or a new one as --out")
    if not out.is_dir():
        raise InputError(out, "exists and is not a folder; --out must be a new, empty or prepared folder")
    try:
        entries = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise PoseDenoiseError(os_error_message(exc, out, "cannot read")) from None
    if not entries:
        return
    if not is_prepared_folder(out):
        raise InputError(
            out,
            "is a folder posedenoise did not prepare (no manifest.json of a prepared dataset) and is not "
            "empty; give a new or empty folder as --out",
        )
    others = [name for name in entries if name not in PREPARED_FILES]
    if others:
        raise InputError(
            out,
            f"holds files a preparation does not write ({_named(others)}); move them away or give "
            "another --out",
        )


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def _write_prepared(out, frames_npz, windows_npz, videos, summary, margin, progress) -> None:
    try:
        _write_prepared_files(out, frames_npz, windows_npz, videos, summary, margin, progress)
    except OSError as exc:
        raise PoseDenoiseError(os_error_message(exc, out, "cannot write")) from None


def _write_prepared_files(out, frames_npz, windows_npz, videos, summary, margin, progress) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(fileio.default_mode(folder=True))  # mkdtemp's 0700 would hide the data from colleagues
        if progress is not None:
            progress("writing", 0, None)
        np.savez(tmp / "frames.npz", **frames_npz)
        np.savez(tmp / "windows.npz", **windows_npz)
        videos.to_csv(tmp / "videos.csv", index=False)
        manifest = {
            "format": PREPARED_FORMAT,
            "format_version": FORMAT_VERSION,
            "grid": GRID,
            "window": WINDOW,
            "steps": list(STEPS),
            "margin": margin,
            "split_fractions": list(SPLIT_FRACTIONS),
            "split_by": summary.split_by,
            "seed": summary.seed,
            "sources": summary.sources,
            "counts": {
                "videos": summary.videos,
                "frames": summary.frames,
                "skipped": summary.skipped,
                "windows": summary.windows,
            },
            "torso_mean_px": summary.torso_mean_px,
            "content_sha256": _content_hash({**frames_npz, **windows_npz}),
        }
        # last: its presence marks a finished folder (the folder is renamed into place only when whole)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        summary.bytes_on_disk = sum(p.stat().st_size for p in tmp.iterdir())
        # swap into place: the old preparation survives until the new one is complete. Checked again
        # here, just before anything is moved: only an empty folder or a preparation is replaced.
        check_output_folder(out)
        backup = None
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, backup)  # onto the empty folder mkdtemp made
        os.replace(tmp, out)
        if backup is not None:
            for name in PREPARED_FILES:  # only what a preparation writes, then the (empty) folder
                (backup / name).unlink(missing_ok=True)
            backup.rmdir()
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


FULL_SCALE_FRAMES = 1_725_600  # 345,120 windows of 5 frames: the chapter's data


@dataclass
class SourcePlan:
    """What `prepare` will read: a lazy stream of tracks and how to describe it."""

    tracks: Iterable[Track]
    names: list[str]  # source names, for the manifest
    description: str  # one line for the user
    total: int | None  # number of tracks when known (progress)


def plan_sources(
    *,
    penn_action: str | Path | None = None,
    brace: str | Path | None = None,
    custom: str | Path | Sequence[str | Path] | None = None,
    synthetic: bool = False,
    synthetic_videos: int = 240,
    full_scale: bool = False,
    raw_root: str | Path = "data/raw",
    seed: int = 0,
) -> SourcePlan:
    """Choose the sources: those given; with none given, the real datasets found under
    `raw_root` (`Penn_Action/`, `BRACE/` or `brace/`), and when there are none, the synthetic set.
    `custom`: a table or pose file, a folder of them, or a list of both (`sources.custom.load_custom`)."""
    from posedenoise.sources.brace import find_brace, load_brace
    from posedenoise.sources.custom import custom_files, load_custom
    from posedenoise.sources.penn_action import find_penn_action, load_penn_action
    from posedenoise.sources.synthetic import SyntheticConfig, generate_synthetic, videos_for_frames

    if not full_scale:
        synthetic_videos = checks.whole("--synthetic-videos", synthetic_videos, 1)
    seed = checks.seed("--seed", seed)
    chosen_by_default = not (penn_action or brace or custom or synthetic or full_scale)
    if chosen_by_default:
        raw = Path(raw_root)
        penn_action = next((p for p in (raw / "Penn_Action", raw / "penn_action") if p.is_dir()), None)
        brace = next((p for p in (raw / "BRACE", raw / "brace") if p.is_dir()), None)
        synthetic = penn_action is None and brace is None
    streams, names, parts, total = [], [], [], 0
    if penn_action is not None:
        files = find_penn_action(penn_action)
        streams.append(load_penn_action(penn_action))
        names.append("penn_action")
        parts.append(f"Penn Action ({len(files)} videos from {penn_action})")
        total += len(files)
    if brace is not None:
        files = find_brace(brace)
        streams.append(load_brace(brace))
        names.append("brace")
        parts.append(f"BRACE ({len(files)} segments from {brace})")
        total += len(files)
    if isinstance(custom, (list, tuple)) and not custom:
        custom = None
    if custom is not None:
        files = custom_files(custom)  # a missing file fails here, before anything is read
        streams.append(load_custom(files))
        names.append("custom")
        given = [custom] if isinstance(custom, (str, Path)) else list(custom)
        parts.append(f"custom tracks from {', '.join(map(str, given))} ({len(files)} files)")
        total = None if total == 0 else total  # unknown until read
    if synthetic or full_scale:
        if full_scale:
            n = videos_for_frames(FULL_SCALE_FRAMES, SyntheticConfig(seed=seed))
            streams.append(generate_synthetic(seed=seed, total_frames=FULL_SCALE_FRAMES))
        else:
            n = synthetic_videos
            streams.append(generate_synthetic(videos=synthetic_videos, seed=seed))
        names.append("synthetic")
        parts.append(f"synthetic ({n:,} videos{', full scale' if full_scale else ''}, seed {seed})")
        total = None if total is None else total + n
    description = " + ".join(parts)
    if chosen_by_default:
        description += f" (no real datasets under {raw_root})" if synthetic else f" (found under {raw_root})"
    if custom is not None:
        total = None
    return SourcePlan(
        tracks=(t for stream in streams for t in stream), names=names, description=description, total=total
    )


def manifest_of(path: str | Path) -> dict:
    """The manifest of a prepared folder (InputError when absent or unreadable)."""
    path = Path(path) / "manifest.json"
    if not path.exists():
        raise InputError(path.parent, "not a prepared dataset (no manifest.json); run `posedenoise prepare`")
    try:
        manifest = json.loads(path.read_text())
    except RecursionError:
        raise InputError(path, "unreadable manifest (nested too deeply)") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PREPARED_FORMAT:
        raise InputError(path, "not the manifest of a prepared dataset; run `posedenoise prepare` again")
    return manifest


__all__ = ["PrepareSummary", "disjoint_window_starts", "prepare_dataset"]
