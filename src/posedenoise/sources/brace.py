"""BRACE (Moltisanti et al., ECCV 2022): breakdancing videos with COCO-17 keypoints.

Official layout of the released keypoints (`dataset.zip`) and manual annotations (`manual_keypoints.zip`)::

    <root>/
      dataset/<year>/<video_id>/<video_id>_<start>-<end>_<movement>.json
      manual_keypoints/<year>/<video_id>/img-NNNNNN.npz      (optional)
      videos_info.csv                                        (optional, from the BRACE repository)

A segment JSON is a dict keyed by `"<video_id>/img-NNNNNN.png"` (NNNNNN = frame number) whose values are
`{"box": [x, y, w, h, score], "keypoints": 17 x [x, y, score]}` in COCO-17 order, in pixels of the
1920 x 1080 video. Video ids contain `_` and `-`, so the file stem is parsed from the right:
`stem.rsplit("_", 2)` -> video id, "start-end", movement (toprock, footwork or powermove).
A manual `.npz` holds `coco_joints2d` (17 x 3; only `[:, :2]` is meaningful) and replaces the
interpolated keypoints of its frame.

One `Track` per segment file: name `<video_id>_<start>-<end>`, action = movement, frames = the frame
numbers of the keys, sorted. The eyes are dropped (the 25-joint layout has none).

Presence: BRACE has no visibility flag (the released scores are all 1), so every keypoint is present,
except a keypoint with a non-finite coordinate or lying exactly at (0, 0), the COCO convention for "not
labelled" (a real keypoint at the exact image corner does not occur in this data).

Frame rate: BRACE states it per video in `videos_info.csv` of its repository (column `fps`: 29.97 for the
2011 and 2013 videos, 25 for 2014 onwards). It is taken, in this order, from the `fps` argument (a number
or a mapping video id -> fps), from a `videos_info.csv` found in `<root>`, the `dataset` folder or their
parent, and else from the video's year folder following that same table (<= 2013: 30000/1001, later: 25);
a video whose year folder is not a year gets 25.0.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from posedenoise.checks import MAX_FRAME
from posedenoise.errors import InputError
from posedenoise.layout import COCO17, COCO17_TO_25, to_layout25
from posedenoise.sources import Track

NTSC_FPS = 30000 / 1001  # 29.97002997, the rate of BRACE's 2011 and 2013 videos
DEFAULT_FPS = 25.0
_FRAME_KEY = re.compile(r"img-(\d+)\.[A-Za-z0-9]+$")
_MANUAL_NAME = re.compile(r"^img-(\d+)$")


def _dataset_dir(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "BRACE folder not found")
    if (root / "dataset").is_dir():
        return root / "dataset"
    return root


def find_brace(root: str | Path) -> list[Path]:
    """The segment JSON files of a BRACE copy (`dataset/<year>/<video_id>/*.json`), sorted."""
    dataset = _dataset_dir(root)
    files = sorted(dataset.glob("*/*/*.json"))
    if not files:
        raise InputError(dataset, "no BRACE keypoint files (dataset/<year>/<video_id>/*.json) found")
    return files


def parse_segment_name(path: str | Path) -> tuple[str, int, int, str]:
    """`<video_id>_<start>-<end>_<movement>.json` -> (video_id, start, end, movement)."""
    path = Path(path)
    parts = path.stem.rsplit("_", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise InputError(path, "file name is not <video_id>_<start>-<end>_<movement>.json")
    video_id, span, movement = parts
    bounds = span.split("-")
    if len(bounds) != 2 or not all(b.isdigit() for b in bounds):
        raise InputError(path, f"file name has '{span}' where <start>-<end> frame numbers are expected")
    return video_id, int(bounds[0]), int(bounds[1]), movement


def read_videos_info(path: str | Path) -> dict[str, float]:
    """BRACE's `videos_info.csv` (video_id, ..., fps, ...) -> {video_id: fps}."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(path, f"cannot read ({error})") from None
    if not rows or "video_id" not in rows[0] or "fps" not in rows[0]:
        raise InputError(path, "expected columns video_id and fps")
    rates = {}
    for row in rows:
        try:
            rates[row["video_id"]] = float(row["fps"])
        except (TypeError, ValueError):
            raise InputError(path, f"invalid fps {row['fps']!r} for video {row['video_id']}") from None
    return rates


def _find_videos_info(root: Path, dataset: Path) -> Path | None:
    for folder in (root, dataset, root.parent, dataset.parent):
        if (folder / "videos_info.csv").is_file():
            return folder / "videos_info.csv"
    return None


def _fps_from_year(year: str) -> float:
    if year.isdigit() and len(year) == 4:
        return NTSC_FPS if int(year) <= 2013 else DEFAULT_FPS
    return DEFAULT_FPS


def _read_segment(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Segment JSON -> (frame numbers (T,) sorted, keypoints (T, 17, 2))."""
    try:
        with open(path, encoding="utf-8") as f:
            content = json.load(f)
    except RecursionError:
        raise InputError(path, "cannot read JSON (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(path, f"cannot read JSON ({error})") from None
    if not isinstance(content, dict) or not content:
        raise InputError(path, "expected a non-empty object keyed by '<video_id>/img-NNNNNN.png'")
    frames = []
    keypoints = []
    for key, value in content.items():
        match = _FRAME_KEY.search(key)
        if match is None:
            raise InputError(path, f"frame key {key!r} is not '<video_id>/img-NNNNNN.png'")
        if not isinstance(value, dict) or "keypoints" not in value:
            raise InputError(path, f"frame {key!r} has no 'keypoints'")
        if int(match.group(1)) > MAX_FRAME:
            raise InputError(path, f"frame key {key!r}: frame number out of range (at most {MAX_FRAME:,})")
        frames.append(int(match.group(1)))
        keypoints.append(value["keypoints"])
    try:
        points = np.array(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            path, f"keypoints are not {len(COCO17)} x [x, y, score] numbers in every frame"
        ) from None
    if points.ndim != 3 or points.shape[1] != len(COCO17) or points.shape[2] < 2:
        raise InputError(
            path, f"keypoints have shape {points.shape[1:]}, expected ({len(COCO17)}, 3) in every frame"
        )
    frames = np.asarray(frames, dtype=np.int64)
    order = np.argsort(frames, kind="stable")
    frames, points = frames[order], points[order, :, :2]
    if len(frames) > 1 and not (np.diff(frames) > 0).all():
        raise InputError(path, "a frame number appears twice")
    return frames, points


def _manual_frames(folder: Path) -> dict[int, Path]:
    """frame number -> manual `.npz` of one video (empty when the folder does not exist)."""
    found = {}
    if folder.is_dir():
        for file in folder.glob("img-*.npz"):
            match = _MANUAL_NAME.match(file.stem)
            if match and int(match.group(1)) <= MAX_FRAME:
                found[int(match.group(1))] = file
    return found


def _read_manual(path: Path) -> np.ndarray:
    """Manual keypoints `(17, 2)` of one frame."""
    try:
        with np.load(path, allow_pickle=False) as data:
            points = np.asarray(data["coco_joints2d"], dtype=np.float64)
    except KeyError:
        raise InputError(path, "missing array 'coco_joints2d'") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(path, f"cannot read NumPy archive ({error})") from None
    if points.ndim != 2 or points.shape[0] != len(COCO17) or points.shape[1] < 2:
        raise InputError(path, f"coco_joints2d has shape {points.shape}, expected ({len(COCO17)}, 3)")
    return points[:, :2]


def load_brace(
    root: str | Path,
    manual_root: str | Path | None = None,
    fps: float | Mapping[str, float] | None = None,
) -> Iterator[Track]:
    """Yield one `Track` per BRACE segment under `root` (the folder holding `dataset/`, or `dataset`).

    `manual_root` is the folder of the manual keypoints (`<year>/<video_id>/img-NNNNNN.npz`); by default
    `<root>/manual_keypoints` (or next to `dataset/`) when it exists. A manual frame replaces the
    interpolated keypoints of the same frame of a segment; manual frames outside every segment are unused.
    `fps`: see the module docstring. Raises `InputError` naming the file for a missing folder, malformed
    JSON, a wrong keypoint count, an unparsable file name or a corrupt `.npz`.
    """
    root = Path(root)
    files = find_brace(root)
    dataset = _dataset_dir(root)
    if manual_root is None:
        for candidate in (root / "manual_keypoints", dataset.parent / "manual_keypoints"):
            if candidate.is_dir():
                manual_root = candidate
                break
    elif not Path(manual_root).is_dir():
        raise InputError(manual_root, "manual keypoints folder not found")
    manual_root = None if manual_root is None else Path(manual_root)

    rates: Mapping[str, float] = {}
    if isinstance(fps, Mapping):
        rates = fps
    elif fps is None:
        info = _find_videos_info(root, dataset)
        if info is not None:
            rates = read_videos_info(info)

    manual_cache: dict[tuple[str, str], dict[int, Path]] = {}
    for path in files:
        video_id, start, end, movement = parse_segment_name(path)
        year = path.parent.parent.name
        frames, points17 = _read_segment(path)  # (T,), (T, 17, 2)

        if manual_root is not None:
            key = (year, video_id)
            if key not in manual_cache:
                manual_cache = {key: _manual_frames(manual_root / year / video_id)}  # one video at a time
            manual = manual_cache[key]
            if manual:
                for row, frame in enumerate(frames.tolist()):
                    if frame in manual:
                        points17[row] = _read_manual(manual[frame])

        if isinstance(fps, int | float) and not isinstance(fps, bool):
            video_fps = float(fps)
        else:
            video_fps = float(rates.get(video_id, _fps_from_year(year)))

        coords, has_joint = to_layout25(points17, COCO17_TO_25)  # (T, 25, 2); eyes dropped
        labelled = np.isfinite(coords).all(axis=-1) & (coords != 0.0).any(axis=-1)  # (T, 25)
        present = labelled & has_joint[None, :]
        coords[~present] = 0.0
        track = Track(
            name=f"{video_id}_{start}-{end}",
            source="brace",
            fps=video_fps,
            coords=coords,
            present=present,
            frames=frames,
            action=movement,
        )
        yield track.validate(path)


__all__ = ["find_brace", "load_brace", "parse_segment_name", "read_videos_info"]
