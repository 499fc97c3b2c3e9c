"""AlphaPose's results (`alphapose`): read, and written back with every other field kept.

`alphapose-results.json`, a list of `{"image_id": "<frame>.jpg", "category_id", "keypoints": [x, y, s] x K,
"score", "box": [x, y, w, h], "idx"}`, where `idx` is the pose tracker's id of the person. The frame is the
number in the image name (else the order of first appearance).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise.errors import InputError
from posedenoise.trackformats.jsonrecords import (
    JsonRecords,
    _box_xywh,
    _count,
    _numbers,
    tracks_of_rows,
    write_json,
)
from posedenoise.tracks import TrackFile, TrackFormat


def recognises(doc: Any) -> bool:
    if not isinstance(doc, list) or not doc:
        return False
    first = doc[0]
    return isinstance(first, dict) and "idx" in first and "keypoints" in first and "image_id" in first


def read(path: Path, doc: Any, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    """A TrackFile from a parsed AlphaPose results document."""
    notes: list[str] = []
    rows = []
    k = None
    frames = _alphapose_frames(path, [r.get("image_id") if isinstance(r, dict) else None for r in doc])
    for i, rec in enumerate(doc):
        where = f"result {i}"
        kps = rec.get("keypoints") if isinstance(rec, dict) else None
        if not isinstance(kps, list) or len(kps) % 3:
            raise InputError(path, f"{where}: 'keypoints' must be a list of [x, y, score] triplets")
        k = _count(path, where, k, len(kps) // 3)
        values = _numbers(path, where, kps, (3 * k,)).reshape(k, 3)
        idx = rec.get("idx")
        if isinstance(idx, list):  # some AlphaPose versions wrap the id in a list
            idx = idx[0] if len(idx) == 1 else None
        box = rec.get("box")
        box = _box_xywh(box) if box is not None else None
        rows.append((int(frames[i]), values[:, :2], values[:, 2], idx, box, (i,)))
    if any(r[3] is None for r in rows):
        rows = [r[:3] + (None,) + r[4:] for r in rows]
        notes.append("no pose-tracker ids (idx): people followed by box overlap")
    source = JsonRecords(doc, [r[5] for r in rows], "triplets", "keypoints")
    return tracks_of_rows(path, "alphapose", layout, rows, min_iou, max_age, notes, source)


def _alphapose_frames(path: Path, image_ids: list[Any]) -> np.ndarray:
    """The frame of each AlphaPose result: the number in its image name, else order of appearance."""
    numbers = []
    for image_id in image_ids:
        if isinstance(image_id, int) and not isinstance(image_id, bool):
            numbers.append(image_id)
            continue
        if not isinstance(image_id, str):
            raise InputError(path, f"image_id {image_id!r} is not an image name or number")
        digits = re.findall(r"\d+", Path(image_id).stem)
        numbers.append(int(digits[-1]) if digits else None)
    if all(n is not None for n in numbers):
        return np.array(numbers, dtype=np.int64)
    order: dict[Any, int] = {}
    return np.array([order.setdefault(i, len(order)) for i in image_ids], dtype=np.int64)


FORMAT = TrackFormat("alphapose", ".json", read, write_json, recognises)
