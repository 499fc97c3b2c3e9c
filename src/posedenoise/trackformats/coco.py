"""COCO keypoint results and annotations (`coco`): read, and written back with only x, y replaced.

Results: a list of `{"image_id", "category_id", "keypoints": [x, y, score] x K, "score"[, "bbox",
"track_id"]}`, or a dict holding that list under `"results"` (the BlazePose files of `examples/data/`:
`{"fps", "width", "height", "layout": "blazepose33", "results": [...]}`). Integer image ids are frame
numbers (so a missing id is a frame without a detection); other ids are frames in order of first
appearance.
Annotations of one video, `{"images": [...], "annotations": [{"image_id", "keypoints": [x, y, v] x K[,
"track_id", "bbox"]}], "categories"}`, as PoseTrack 2018/21 releases them (one file per video): a frame
is the image's position in `images` (unlabelled images are frames without annotations), the visibility
flag v is the score (0: not labelled, missing), and annotations without keypoints are skipped.
PoseTrack's 17 keypoints are COCO's with the eyes replaced by head_bottom/head_top, which the 25-joint
layout does not use, so they read as `coco17`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.layout import SOURCE_LAYOUTS
from posedenoise.tracks import (
    PersonTrack,
    TrackFile,
    TrackFormat,
    check_keypoint_values,
    frames_of_ids,
    group_people,
    json_number,
    layout_of,
    xywh_boxes,
)


def recognises(doc: Any) -> bool:
    """A list of results, or a dict holding one under "results" or annotations under "annotations"."""
    return isinstance(doc, list) or (
        isinstance(doc, dict)
        and (isinstance(doc.get("results"), list) or isinstance(doc.get("annotations"), list))
    )


def _is_annotations(doc: Any) -> bool:
    """A COCO/PoseTrack ground-truth document (annotations + images) rather than detector results."""
    return isinstance(doc, dict) and "results" not in doc and isinstance(doc.get("annotations"), list)


def _coco_records(doc: Any) -> list[dict]:
    if isinstance(doc, list):
        return doc
    return doc["annotations"] if _is_annotations(doc) else doc["results"]


def read(path: Path, doc: Any, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    records = _coco_records(doc)
    notes = []
    layout, fps = coco_header(path, doc if isinstance(doc, dict) else {}, layout)
    annotations = _is_annotations(doc)
    if not records:
        raise InputError(path, "no annotations in the file" if annotations else "no detections in the file")

    converted = convert_coco_records(path, records, 0, annotations, None, layout)
    if converted is None:
        raise InputError(path, "no annotation has keypoints")
    kept, xy, scores, image_ids, track_ids, boxes, layout = converted
    scores = np.nan_to_num(scores, nan=0.0)
    if len(kept) < len(records):
        notes.append(f"{len(records) - len(kept)} annotations without keypoints skipped")

    if annotations and isinstance(doc.get("images"), list) and doc["images"]:
        frames = _image_positions(path, doc["images"], image_ids)
    else:
        frames = frames_of_ids(path, image_ids, notes)
    tracks = group_people(path, frames, xy, scores, track_ids, boxes, min_iou, max_age, notes)
    tracks = [replace(t, records=kept[t.records]) for t in tracks]
    return TrackFile(path, "coco", layout, tracks, fps, notes, doc)


def coco_header(path: Path, fields: dict, layout: str | None) -> tuple[str | None, float | None]:
    """The layout (the one given, else the document's "layout") and fps of a COCO results document."""
    if layout is None and fields.get("layout") is not None:
        layout = fields["layout"]
        if layout not in SOURCE_LAYOUTS:
            raise InputError(path, f"unknown layout {layout!r} in the file")
    fps = None
    if fields.get("fps") is not None:
        try:
            fps = json_number(fields["fps"])
        except TypeError:
            raise InputError(path, f"fps is not a number: {fields['fps']!r}") from None
        if not (math.isfinite(fps) and fps > 0):
            raise InputError(path, f"invalid fps {fields['fps']!r}")
    return layout, fps


def convert_coco_records(
    path: Path, records: list, first: int, annotations: bool, k: int | None, layout: str | None
) -> tuple | None:
    """COCO records `first`, `first + 1`, ... -> arrays; None if none of them has keypoints.

    Returns (kept (N,) int64 record numbers, xy (N, K, 2), scores (N, K) (NaN as in the file), image ids,
    track ids, boxes (N, 4) x1 y1 x2 y2 with NaN rows where the record has no usable bbox, layout).
    `k`: the keypoint count of earlier records (None for the first call). All-numeric files (nearly
    every file) are converted with one numpy call; anything else goes through the record-by-record checks
    that name the bad record.
    """
    if annotations:
        kept = [
            i for i, rec in enumerate(records) if not (isinstance(rec, dict) and not rec.get("keypoints"))
        ]
        if len(kept) < len(records):
            records = [records[i] for i in kept]
    else:
        kept = range(len(records))
    if not records:
        return None
    kps = None
    try:
        if set(map(type, records)) == {dict}:
            kps = [rec["keypoints"] for rec in records]
            image_ids = [rec["image_id"] for rec in records]
            # bool is a subclass of int, but not a coordinate: only plain ints and floats take this path
            if set(map(type, kps)) != {list} or not set(map(type, itertools.chain.from_iterable(kps))) <= {
                int,
                float,
            }:
                kps = None
    except KeyError:
        kps = None
    values = None
    if kps is not None:
        try:
            values = np.array(kps, dtype=np.float64)  # (N, 3K); ValueError when lengths differ
        except ValueError:
            values = None
    if (
        values is not None
        and values.shape[1]
        and values.shape[1] % 3 == 0
        and values.shape[1] // 3 == (k or values.shape[1] // 3)
    ):
        k = values.shape[1] // 3
        values = values.reshape(len(records), k, 3)
        try:
            check_keypoint_values(path, "", values[..., :2], values[..., 2])
        except InputError:
            values = None
    else:
        values = None
    if values is None:
        # the slow path: the first bad record raises its own message
        rows = []
        for i, rec in zip(kept, records, strict=True):
            where = f"annotation {first + i}" if annotations else f"result {first + i}"
            if not isinstance(rec, dict) or "keypoints" not in rec or "image_id" not in rec:
                raise InputError(path, f"{where}: expected a dict with 'image_id' and 'keypoints'")
            kps_i = rec["keypoints"]
            if not isinstance(kps_i, list) or len(kps_i) % 3 or not kps_i:
                raise InputError(path, f"{where}: 'keypoints' must be a list of [x, y, score] triplets")
            if k is None:
                k = len(kps_i) // 3
                layout = layout_of(path, k, layout)
            elif len(kps_i) // 3 != k:
                raise InputError(path, f"{where}: {len(kps_i) // 3} keypoints, but earlier results have {k}")
            try:
                row = np.array([json_number(v) for v in kps_i], dtype=np.float64).reshape(k, 3)
            except TypeError:
                raise InputError(path, f"{where}: non-numeric keypoint values") from None
            check_keypoint_values(path, where, row[:, :2], row[:, 2])
            rows.append(row)
        values = np.stack(rows)
        image_ids = [rec["image_id"] for rec in records]
    layout = layout_of(path, k, layout)
    xy = values[..., :2].copy()  # (N, K, 2)
    scores = values[..., 2].copy()  # (N, K) as in the file: NaN where it says NaN
    track_ids = [rec.get("track_id") for rec in records]
    boxes = xywh_boxes([rec.get("bbox") for rec in records])
    kept = np.asarray(kept, dtype=np.int64) + first
    return kept, xy, scores, image_ids, track_ids, boxes, layout


def _image_positions(path: Path, images: list, image_ids: list[Any]) -> np.ndarray:
    """Frame numbers of annotations: the position of their image in the video's `images` list."""
    if not all(isinstance(img, dict) and "id" in img for img in images):
        raise InputError(path, "every entry of 'images' needs an 'id'")
    videos = {str(img["vid_id"]) for img in images if img.get("vid_id") is not None}
    if len(videos) > 1:
        raise InputError(path, f"holds {len(videos)} videos (the images' vid_id); give one file per video")
    position: dict[Any, int] = {}
    for k, img in enumerate(images):
        if not isinstance(img["id"], (int, str)) or img["id"] in position:
            raise InputError(path, f"image {k}: id {img['id']!r} is not a unique number or string")
        position[img["id"]] = k
    unknown = [i for i in image_ids if not isinstance(i, (int, str)) or i not in position]
    if unknown:
        raise InputError(path, f"annotation image_id {unknown[0]!r} is not among the file's images")
    return np.array([position[i] for i in image_ids], dtype=np.int64)


# ----------------------------------------------------------------------------------------------- writing


def write(track_file: TrackFile, path: Path) -> None:
    """The source document with each record's x, y replaced, sharing every other value with the source."""
    doc = track_file.source
    new_records = replaced_records(_coco_records(doc), track_file.tracks, coco=True)
    if isinstance(doc, list):
        write_document(track_file, new_records, path)
    else:
        key = "annotations" if _is_annotations(doc) else "results"
        write_document(track_file, {**doc, key: new_records}, path)


def write_document(track_file: TrackFile, doc: Any, path: Path) -> None:
    """Write `doc`, the updated document of a COCO or mmpose file, as JSON in the input's style."""
    try:
        text = json.dumps(doc, indent=track_file.json_indent) + "\n"
    except RecursionError:
        raise InputError(track_file.path, "holds values nested too deeply to write back") from None
    fileio.write_text(path, text)


def replaced_records(records: list, tracks: list[PersonTrack], coco: bool) -> list:
    """A new list of the file's records in which each track's records have the track's x, y.

    Only the records themselves are new (shallow copies with a new keypoints list): the source is not
    changed, and nothing is copied deeply (a deep copy of a crowd's document took longer than all the rest
    of writing it)."""
    new_records = list(records)
    for track in tracks:
        rows = track.records.tolist()
        updated = updated_records([records[r] for r in rows], track.keypoints, coco)
        for r, record in zip(rows, updated, strict=True):
            new_records[r] = record
    return new_records


def updated_records(records: list[dict], xy: np.ndarray, coco: bool = True) -> list[dict]:
    """New records (shallow copies) whose keypoints take the x, y of `xy` (N, K, 2) where finite.

    Finite coordinates are written as floats; scores, other fields and the coordinates left (NaN in
    `xy`) keep their values and types."""
    finite = np.isfinite(xy).all(axis=-1)  # (N, K)
    whole = finite.all(axis=1).tolist()
    if coco:
        xs, ys = xy[..., 0].tolist(), xy[..., 1].tolist()
    else:
        pairs = xy.tolist()
    out = []
    for t, record in enumerate(records):
        kps = list(record["keypoints"])
        if coco and whole[t]:
            kps[0::3], kps[1::3] = xs[t], ys[t]  # every joint: two slice assignments
        elif whole[t]:
            kps = pairs[t]
        else:
            for j in np.flatnonzero(finite[t]).tolist():
                if coco:
                    kps[3 * j], kps[3 * j + 1] = xs[t][j], ys[t][j]
                else:
                    kps[j] = pairs[t][j]
        out.append({**record, "keypoints": kps})
    return out


FORMAT = TrackFormat("coco", ".json", read, write, recognises)
