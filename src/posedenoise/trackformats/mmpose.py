"""mmpose's saved predictions (`mmpose`): read, and written back with only x, y replaced.

`{"meta_info", "instance_info": [{"frame_id", "instances": [{"keypoints": [[x, y]] x K, "keypoint_scores":
[s] x K[, "bbox", "bbox_score", "track_id"]}]}]}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posedenoise.errors import InputError
from posedenoise.trackformats.coco import replaced_records, write_document
from posedenoise.tracks import (
    TrackFile,
    TrackFormat,
    check_keypoint_values,
    frames_of_ids,
    group_people,
    json_number,
    layout_of,
    xyxy_box,
)


def recognises(doc: Any) -> bool:
    return isinstance(doc, dict) and "instance_info" in doc


def _mmpose_records(doc: Any) -> list[dict]:
    return [inst for frame in doc["instance_info"] for inst in frame["instances"]]


def read(path: Path, doc: dict, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    info = doc["instance_info"]
    if not isinstance(info, list):
        raise InputError(path, "'instance_info' must be a list of {'frame_id', 'instances'}")
    notes: list[str] = []
    k = None
    xy_all, score_all, frame_ids, track_ids, boxes = [], [], [], [], []
    for f, frame in enumerate(info):
        if (
            not isinstance(frame, dict)
            or not isinstance(frame.get("instances"), list)
            or "frame_id" not in frame
        ):
            raise InputError(path, f"instance_info[{f}]: expected {{'frame_id', 'instances': [...]}}")
        for j, inst in enumerate(frame["instances"]):
            where = f"frame {frame['frame_id']} instance {j}"
            kps = inst.get("keypoints") if isinstance(inst, dict) else None
            try:
                xy = np.array([[json_number(v) for v in p] for p in kps], dtype=np.float64)
                if xy.ndim != 2 or xy.shape[1] != 2:
                    raise TypeError
            except (TypeError, ValueError):
                raise InputError(path, f"{where}: 'keypoints' must be a list of [x, y] pairs") from None
            if k is None:
                k = len(xy)
                layout = layout_of(path, k, layout)
            elif len(xy) != k:
                raise InputError(path, f"{where}: {len(xy)} keypoints, but earlier instances have {k}")
            raw_scores = inst.get("keypoint_scores")
            if raw_scores is None:
                scores = np.ones(k)
            else:
                try:
                    scores = np.array([json_number(v) for v in raw_scores], dtype=np.float64)
                except TypeError:
                    raise InputError(path, f"{where}: non-numeric keypoint_scores") from None
                if scores.shape != (k,):
                    raise InputError(path, f"{where}: {len(scores)} keypoint_scores for {k} keypoints")
            check_keypoint_values(path, where, xy, scores)
            xy_all.append(xy)
            score_all.append(np.nan_to_num(scores, nan=0.0))
            frame_ids.append(frame["frame_id"])
            track_ids.append(inst.get("track_id"))
            boxes.append(xyxy_box(inst.get("bbox")))
    if k is None:
        raise InputError(path, "no instances in the file")
    frames = frames_of_ids(path, frame_ids, notes)
    tracks = group_people(
        path, frames, np.stack(xy_all), np.stack(score_all), track_ids, boxes, min_iou, max_age, notes
    )
    return TrackFile(path, "mmpose", layout, tracks, None, notes, doc)


# ----------------------------------------------------------------------------------------------- writing


def write(track_file: TrackFile, path: Path) -> None:
    """The source document with each instance's x, y replaced, sharing every other value with the source."""
    doc = track_file.source
    new_records = replaced_records(_mmpose_records(doc), track_file.tracks, coco=False)
    frames, k = [], 0
    for frame in doc["instance_info"]:
        n = len(frame["instances"])
        frames.append({**frame, "instances": new_records[k : k + n]})
        k += n
    write_document(track_file, {**doc, "instance_info": frames}, path)


FORMAT = TrackFormat("mmpose", ".json", read, write, recognises)
