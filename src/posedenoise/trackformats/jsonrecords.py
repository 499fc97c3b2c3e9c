"""What the JSON formats read by walking their records share: the records' place in the document,
turning records into tracks, checking numbers, and writing x, y back in place with every other field kept.

Why parsers of our own rather than a format library such as sleap-io: each of these formats is a few
lines of JSON walking, and writing a file back *with every other field kept* (scores, boxes, face and hand
keypoints, ids, one file per frame) needs the document as read, which a library that converts to its own
data model gives up; sleap-io also has no reader for the mmpose inferencer, OpenPose or AlphaPose files.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.tracks import TrackFile, group_people, layout_of


@dataclass
class JsonRecords:
    """A parsed document and where each record's keypoints live in it, to write them back in place."""

    doc: Any  # the document as read (openpose: {file name: document})
    refs: list[tuple]  # per record: the keys and indices leading from doc to the record's dict
    kind: str  # "triplets": [x, y, s] x K; "pairs": [[x, y]] x K; "lists": {"x": [...], "y": [...]}
    key: str  # the record's field holding the keypoints


def _numbers(path: Path, where: str, values: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(path, f"{where}: non-numeric keypoint values") from None
    if arr.shape != shape:
        raise InputError(path, f"{where}: keypoints of shape {arr.shape}, expected {shape}")
    if np.isinf(arr).any():
        raise InputError(path, f"{where}: infinite keypoint values")
    return arr


def _count(path: Path, where: str, k: int | None, found: int) -> int:
    if found < 1:
        raise InputError(path, f"{where}: no keypoints")
    if k is not None and found != k:
        raise InputError(path, f"{where}: {found} keypoints, but earlier ones have {k}")
    return found


def tracks_of_rows(
    path: Path,
    fmt: str,
    layout: str | None,
    rows: list[tuple],
    min_iou: float,
    max_age: int,
    notes: list[str],
    source: JsonRecords,
) -> TrackFile:
    """Records -> TrackFile. rows: (frame, xy (K, 2), scores (K,), track id or None, box or None, ref)."""
    if not rows:
        raise InputError(path, "no detections in the file")
    k = rows[0][1].shape[0]
    layout = layout_of(path, k, layout)
    frames = np.array([r[0] for r in rows], dtype=np.int64)
    xy = np.stack([r[1] for r in rows])
    scores = np.nan_to_num(np.stack([r[2] for r in rows]), nan=0.0)
    track_ids = [r[3] for r in rows]
    boxes = [r[4] for r in rows]
    tracks = group_people(path, frames, xy, scores, track_ids, boxes, min_iou, max_age, notes)
    return TrackFile(path, fmt, layout, tracks, None, notes, source)


def _box_xyxy(box: Any) -> np.ndarray | None:
    if isinstance(box, list) and len(box) == 1 and isinstance(box[0], list):
        box = box[0]  # mmpose writes [[x1, y1, x2, y2]]
    try:
        values = [float(v) for v in box[:4]]
    except (TypeError, ValueError, IndexError):
        return None
    return np.array(values) if len(values) == 4 and all(map(math.isfinite, values)) else None


def _box_xywh(box: Any) -> np.ndarray | None:
    xyxy = _box_xyxy(box)
    return None if xyxy is None else np.concatenate([xyxy[:2], xyxy[:2] + xyxy[2:]])


# ----------------------------------------------------------------------------------------------- writing


def updated_document(track_file: TrackFile) -> Any:
    """A deep copy of the document as read with each record's x, y replaced."""
    source: JsonRecords = track_file.source
    doc = copy.deepcopy(source.doc)
    for track in track_file.tracks:
        for t, r in enumerate(track.records):
            record = doc
            for key in source.refs[r]:
                record = record[key]
            _set(record, source.kind, source.key, track.keypoints[t])
    return doc


def write_json(track_file: TrackFile, path: Path) -> None:
    """Write a track file of one JSON document back in its own format (the source with x, y replaced)."""
    doc = updated_document(track_file)
    if path.suffix.lower() != ".json":
        raise InputError(path, f"output must be a .json file, like the input ({track_file.format} format)")
    fileio.write_text(path, json.dumps(doc, indent=track_file.json_indent) + "\n")


def _set(record: dict, kind: str, key: str, xy: np.ndarray) -> None:
    kps = record[key]
    ok = np.isfinite(xy).all(axis=-1)
    for j in np.flatnonzero(ok):
        x, y = float(xy[j, 0]), float(xy[j, 1])
        if kind == "triplets":
            kps[3 * j], kps[3 * j + 1] = x, y
        elif kind == "pairs":
            kps[j] = [x, y]
        else:
            kps["x"][j], kps["y"][j] = x, y
