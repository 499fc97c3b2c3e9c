"""mmpose's inferencer output (`mmpose-inferencer`): read, and written back with every other field kept.

What `MMPoseInferencer(pred_out_dir=...)` saves for a video, a JSON list of `{"frame_id", "instances":
[{"keypoints": [[x, y]] x K, "keypoint_scores": [s] x K, "bbox", "bbox_score"[, "track_id"]}]}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    if not isinstance(doc, list) or not doc:
        return False
    return isinstance(doc[0], dict) and "frame_id" in doc[0] and "instances" in doc[0]


def read(path: Path, doc: Any, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    """A TrackFile from a parsed mmpose inferencer document."""
    notes: list[str] = []
    rows = []
    k = None
    for f, frame in enumerate(doc):
        if not isinstance(frame, dict) or not isinstance(frame.get("instances"), list):
            raise InputError(path, f"frame {f}: expected {{'frame_id', 'instances': [...]}}")
        frame_id = frame.get("frame_id")
        if isinstance(frame_id, bool) or not isinstance(frame_id, int):
            raise InputError(path, f"frame {f}: frame_id {frame_id!r} is not a whole number")
        for i, inst in enumerate(frame["instances"]):
            where = f"frame {frame_id}, instance {i}"
            kps = inst.get("keypoints") if isinstance(inst, dict) else None
            if not isinstance(kps, list):
                raise InputError(path, f"{where}: expected 'keypoints' [[x, y], ...]")
            k = _count(path, where, k, len(kps))
            xy = _numbers(path, where, kps, (k, 2))
            scores = _numbers(path, where, inst.get("keypoint_scores", [1.0] * k), (k,))
            box = _box_xyxy(inst.get("bbox"))
            rows.append((frame_id, xy, scores, inst.get("track_id"), box, (f, "instances", i)))
    source = JsonRecords(doc, [r[5] for r in rows], "pairs", "keypoints")
    return tracks_of_rows(path, "mmpose-inferencer", layout, rows, min_iou, max_age, notes, source)


FORMAT = TrackFormat("mmpose-inferencer", ".json", read, write_json, recognises)
