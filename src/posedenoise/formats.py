"""More detector outputs: mmpose's inferencer, OpenPose folders, Ultralytics YOLO-pose, AlphaPose; conversion.

`posedenoise.tracks` reads COCO results/annotations, mmpose's saved `instance_info`, long CSV and arrays.
This module adds, read and written back with every other field kept:

- `mmpose-inferencer`: what `MMPoseInferencer(pred_out_dir=...)` saves for a video, a JSON list of
  `{"frame_id", "instances": [{"keypoints": [[x, y]] x K, "keypoint_scores": [s] x K, "bbox", "bbox_score"
  [, "track_id"]}]}`.
- `openpose`: a folder of OpenPose's per-frame `<name>_<frame:012d>_keypoints.json`, each `{"version",
  "people": [{"person_id", "pose_keypoints_2d": [x, y, c] x K, "face_keypoints_2d", ...}]}` with K = 25
  (BODY_25) or 18 (COCO-18); a joint OpenPose did not find is (0, 0, 0). Frames come from the file names,
  several people are followed by box overlap (OpenPose's `person_id` is -1 unless it tracked them). Written
  back as a folder of the same file names; the face and hand keypoints are kept as read.
- `ultralytics`: Ultralytics YOLO-pose results of a video, one entry per frame in order, each entry the
  list that `Results.summary()` (or `json.loads(Results.to_json())`) gives for that frame:
  `[{"name", "class", "confidence", "box": {"x1", "y1", "x2", "y2"}[, "track_id"], "keypoints": {"x": [...],
  "y": [...], "visible": [...]}}]` (an empty list for a frame without people). Pixel coordinates
  (`normalize=False`, the default); `track_id` is there when the results came from `model.track`.
- `alphapose`: AlphaPose's `alphapose-results.json`, a list of `{"image_id": "<frame>.jpg", "category_id",
  "keypoints": [x, y, s] x K, "score", "box": [x, y, w, h], "idx"}`, where `idx` is the pose tracker's id
  of the person. The frame is the number in the image name (else the order of first appearance).

Keypoint counts name their layout (`layout.LAYOUT_OF_COUNT`: 17 COCO, 18 OpenPose COCO-18, 21 hand,
26 Halpe, 33 BlazePose, 133 COCO-WholeBody); OpenPose's 25 is BODY_25. Other counts are read as unnamed
keypoints, which the classic filters smooth and a model refuses.

Conversion: `write_converted` writes any track file as a long CSV (`frame, track_id, joint, x, y, score`)
or as COCO keypoint results JSON, which `denoise -o` does when the output's suffix is not the input's.

Why parsers of our own rather than a format library such as sleap-io: each of these formats is a few
lines of JSON walking, and writing a file back *with every other field kept* (scores, boxes, face and hand
keypoints, ids, one file per frame) needs the document as read, which a library that converts to its own
data model gives up; sleap-io also has no reader for the mmpose inferencer, OpenPose or AlphaPose files.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.layout import LAYOUT_OF_COUNT, SOURCE_LAYOUTS, unnamed_layout

FORMATS: tuple[str, ...] = ("mmpose-inferencer", "openpose", "ultralytics", "alphapose")
OPENPOSE_NAME = re.compile(r"^(?P<name>.*?)_?(?P<frame>\d{12})_keypoints\.json$")


@dataclass
class JsonRecords:
    """A parsed document and where each record's keypoints live in it, to write them back in place."""

    doc: Any  # the document as read (openpose: {file name: document})
    refs: list[tuple]  # per record: the keys and indices leading from doc to the record's dict
    kind: str  # "triplets": [x, y, s] x K; "pairs": [[x, y]] x K; "lists": {"x": [...], "y": [...]}
    key: str  # the record's field holding the keypoints


def layout_of(path: Path, k: int, layout: str | None) -> str:
    """The layout of K keypoints: the one given (checked), a count that names one, else unnamed."""
    if layout is not None:
        expected = len(SOURCE_LAYOUTS[layout][0])
        if k != expected:
            raise InputError(path, f"{k} keypoints per person, but layout {layout!r} has {expected}")
        return layout
    return LAYOUT_OF_COUNT.get(k) or unnamed_layout(k)


def sniff(doc: Any) -> str | None:
    """Which of FORMATS a parsed JSON document is (None: none of them)."""
    if not isinstance(doc, list) or not doc:
        return None
    first = doc[0]
    if isinstance(first, dict) and "frame_id" in first and "instances" in first:
        return "mmpose-inferencer"
    if isinstance(first, dict) and "idx" in first and "keypoints" in first and "image_id" in first:
        return "alphapose"
    if isinstance(first, list):
        entry = next((e for frame in doc if isinstance(frame, list) for e in frame), None)
        if isinstance(entry, dict) and isinstance(entry.get("keypoints"), dict):
            return "ultralytics"
    return None


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


def _tracks(path, fmt, doc, layout, rows, min_iou, max_age, notes, fps=None, source=None):
    """Records -> TrackFile. rows: (frame, xy (K, 2), scores (K,), track id or None, box or None, ref)."""
    from posedenoise.tracks import TrackFile, _group

    if not rows:
        raise InputError(path, "no detections in the file")
    k = rows[0][1].shape[0]
    layout = layout_of(path, k, layout)
    frames = np.array([r[0] for r in rows], dtype=np.int64)
    xy = np.stack([r[1] for r in rows])
    scores = np.nan_to_num(np.stack([r[2] for r in rows]), nan=0.0)
    track_ids = [r[3] for r in rows]
    boxes = [r[4] for r in rows]
    tracks = _group(path, frames, xy, scores, track_ids, boxes, min_iou, max_age, notes)
    if source is None:
        source = JsonRecords(doc, [r[5] for r in rows], *_KIND[fmt])
    return TrackFile(path, fmt, layout, tracks, fps, notes, source)


_KIND = {
    "mmpose-inferencer": ("pairs", "keypoints"),
    "alphapose": ("triplets", "keypoints"),
    "ultralytics": ("lists", "keypoints"),
    "openpose": ("triplets", "pose_keypoints_2d"),
}


def read_json(path: Path, doc: Any, fmt: str, layout: str | None, min_iou: float, max_age: int):
    """A TrackFile from a parsed document of one of the JSON formats (`sniff`)."""
    notes: list[str] = []
    rows = []
    k = None
    if fmt == "mmpose-inferencer":
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
    elif fmt == "alphapose":
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
    elif fmt == "ultralytics":
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
                box = (
                    _box_xyxy([box.get(c) for c in ("x1", "y1", "x2", "y2")])
                    if isinstance(box, dict)
                    else None
                )
                rows.append((f, np.stack([x, y], axis=1), scores, det.get("track_id"), box, (f, i)))
        if rows and all(r[1].max() <= 1.0 for r in rows):
            notes.append("coordinates are all within [0, 1]: normalised results, smoothed as they are")
        given = [r[3] is not None for r in rows]
        if any(given) and not all(given):
            rows = [r[:3] + (None,) + r[4:] for r in rows]
            notes.append("track_id on some detections only: people followed by box overlap")
    return _tracks(path, fmt, doc, layout, rows, min_iou, max_age, notes)


def read_openpose(path: Path, layout: str | None, min_iou: float, max_age: int):
    """A TrackFile from a folder of OpenPose `*_keypoints.json` files."""
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith("_keypoints.json"))
    if not files:
        raise InputError(path, "is a folder without OpenPose *_keypoints.json files")
    docs: dict[str, Any] = {}
    rows = []
    k = None
    seen_frames: dict[int, str] = {}
    notes: list[str] = []
    numbered = [OPENPOSE_NAME.match(p.name) for p in files]
    by_order = not all(numbered)
    if by_order:
        notes.append("file names without a 12-digit frame number: frames taken in name order")
    for n, file in enumerate(files):
        frame = n if by_order else int(numbered[n].group("frame"))
        if frame in seen_frames:
            raise InputError(file, f"frame {frame} also in {seen_frames[frame]}")
        seen_frames[frame] = file.name
        try:
            doc = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(file, f"malformed JSON ({str(exc).splitlines()[0]})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise InputError(file, "expected an OpenPose document with 'people'")
        docs[file.name] = doc
        for i, person in enumerate(doc["people"]):
            kps = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
            if not isinstance(kps, list) or len(kps) % 3:
                raise InputError(file, f"person {i}: 'pose_keypoints_2d' must be [x, y, c] triplets")
            if not kps:
                continue  # a person with only face or hand keypoints
            k = _count(file, f"person {i}", k, len(kps) // 3)
            values = _numbers(file, f"person {i}", kps, (3 * k,)).reshape(k, 3)
            pid = person.get("person_id")
            pid = pid[0] if isinstance(pid, list) and len(pid) == 1 else pid
            track = pid if isinstance(pid, int) and not isinstance(pid, bool) and pid >= 0 else None
            rows.append((frame, values[:, :2], values[:, 2], track, None, (file.name, "people", i)))
    if not rows:
        raise InputError(path, "no people in any OpenPose file")
    if any(r[3] is None for r in rows):
        rows = [r[:3] + (None,) + r[4:] for r in rows]
    k = rows[0][1].shape[0]
    if layout is None:
        layout = {25: "body25", 18: "coco18"}.get(k)
    source = JsonRecords(docs, [r[5] for r in rows], "triplets", "pose_keypoints_2d")
    return _tracks(path, "openpose", None, layout, rows, min_iou, max_age, notes, source=source)


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


def write(track_file, path: Path) -> None:
    """Write a track file of one of FORMATS back in its own format (the source with x, y replaced)."""
    source: JsonRecords = track_file.source
    doc = copy.deepcopy(source.doc)
    for track in track_file.tracks:
        for t, r in enumerate(track.records):
            record = doc
            for key in source.refs[r]:
                record = record[key]
            _set(record, source.kind, source.key, track.keypoints[t])
    if track_file.format == "openpose":
        if path.suffix:
            raise InputError(path, "an OpenPose folder is written to a folder (a name without a suffix)")
        path.mkdir(parents=True, exist_ok=True)
        for name, file_doc in doc.items():
            fileio.write_text(path / name, json.dumps(file_doc) + "\n")
        return
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


def write_converted(track_file, path: Path) -> str:
    """Write any track file as a long CSV or COCO results JSON, chosen by the suffix; returns the format."""
    names = SOURCE_LAYOUTS[track_file.layout][0]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        parts = []
        for track in track_file.tracks:
            t, k = track.keypoints.shape[:2]
            parts.append(
                pd.DataFrame(
                    {
                        "frame": np.repeat(track.frames, k),
                        "track_id": [track.track_id] * (t * k),
                        "joint": np.tile(np.array(names, dtype=object), t),
                        "x": track.keypoints[..., 0].ravel(),
                        "y": track.keypoints[..., 1].ravel(),
                        "score": track.scores.ravel(),
                    }
                )
            )
        table = pd.concat(parts, ignore_index=True).sort_values(["frame", "track_id"], kind="stable")
        table = table[np.isfinite(table["x"]) & np.isfinite(table["y"])]
        with fileio.atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
        return "csv"
    if suffix == ".json":
        records = []
        for track in track_file.tracks:
            for t, frame in enumerate(track.frames):
                xy = np.nan_to_num(track.keypoints[t], nan=0.0)
                scores = np.where(np.isfinite(track.keypoints[t]).all(axis=-1), track.scores[t], 0.0)
                triplets = np.concatenate([xy, scores[:, None]], axis=1).ravel().tolist()
                records.append(
                    {
                        "image_id": int(frame),
                        "category_id": 1,
                        "keypoints": triplets,
                        "score": float(scores.mean()),
                        "track_id": track.track_id
                        if isinstance(track.track_id, (int, str))
                        else str(track.track_id),
                    }
                )
        records.sort(key=lambda r: r["image_id"])
        doc: Any = records
        if track_file.fps is not None or not track_file.layout.startswith("unnamed"):
            doc = {"fps": track_file.fps, "layout": track_file.layout, "results": records}
        fileio.write_text(path, json.dumps(doc) + "\n")
        return "coco"
    raise InputError(path, f"cannot write {path.suffix or 'a folder'}: convert to .csv or .json")


__all__ = [
    "FORMATS",
    "JsonRecords",
    "layout_of",
    "read_json",
    "read_openpose",
    "sniff",
    "write",
    "write_converted",
]
