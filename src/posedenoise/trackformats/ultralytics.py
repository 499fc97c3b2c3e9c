"""Ultralytics YOLO-pose results (`ultralytics`): read, and written back with every other field kept.

The results of a video, one entry per frame in order, each entry the list that `Results.summary()` (or
`json.loads(Results.to_json())`) gives for that frame: `[{"name", "class", "confidence", "box": {"x1", "y1",
"x2", "y2"}[, "track_id"], "keypoints": {"x": [...], "y": [...], "visible": [...]}}]` (an empty list for a
frame without people). Pixel coordinates (`normalize=False`, the default); `track_id` is there when the
results came from `model.track`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posedenoise.errors import InputError
from posedenoise.trackformats.jsonrecords import (
    JsonRecords,
    _box_xyxy,
    _count,
    _numbers,
    tracks_of_rows,
    write_json,
)
from posedenoise.tracks import TrackFile, TrackFormat


def recognises(doc: Any) -> bool:
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], list):
        return False
    entry = next((e for frame in doc if isinstance(frame, list) for e in frame), None)
    return isinstance(entry, dict) and isinstance(entry.get("keypoints"), dict)


def read(path: Path, doc: Any, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    """A TrackFile from a parsed Ultralytics results document."""
    notes: list[str] = []
    rows = []
    k = None
    for f, frame in enumerate(doc):
        if not isinstance(frame, list):
            raise InputError(path, f"frame {f}: expected the list of detections of the frame")
        for i, det in enumerate(frame):
            where = f"frame {f}, detection {i}"
            kps = det.get("keypoints") if isinstance(det, dict) else None
            if not isinstance(kps, dict) or not isinstance(kps.get("x"), list):
                raise InputError(path, f"{where}: expected 'keypoints' {{'x': [...], 'y': [...]}}")
            k = _count(path, where, k, len(kps["x"]))
            x = _numbers(path, where, kps["x"], (k,))
            y = _numbers(path, where, kps.get("y"), (k,))
            scores = _numbers(path, where, kps.get("visible", [1.0] * k), (k,))
            box = det.get("box")
            box = _box_xyxy([box.get(c) for c in ("x1", "y1", "x2", "y2")]) if isinstance(box, dict) else None
            rows.append((f, np.stack([x, y], axis=1), scores, det.get("track_id"), box, (f, i)))
    if rows and all(r[1].max() <= 1.0 for r in rows):
        notes.append("coordinates are all within [0, 1]: normalised results, smoothed as they are")
    given = [r[3] is not None for r in rows]
    if any(given) and not all(given):
        rows = [r[:3] + (None,) + r[4:] for r in rows]
        notes.append("track_id on some detections only: people followed by box overlap")
    source = JsonRecords(doc, [r[5] for r in rows], "lists", "keypoints")
    return tracks_of_rows(path, "ultralytics", layout, rows, min_iou, max_age, notes, source)


FORMAT = TrackFormat("ultralytics", ".json", read, write_json, recognises)
