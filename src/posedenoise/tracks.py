"""Pose tracks of the user's detector output: the data read from a file, and reading and writing it.

A file is read into a `TrackFile` of `PersonTrack`s and written back in its own format by the reader and
writer of its format (`posedenoise.trackformats`: COCO results and annotations, mmpose, the mmpose
inferencer, long CSV, NumPy arrays, OpenPose folders, Ultralytics, AlphaPose); `read_tracks` picks the format
from the suffix, then (for JSON) from the content, and `write_tracks` writes with the same format's writer,
or converts to CSV or COCO results JSON when the output's suffix is another.

Keypoint counts name their layout (`layout.LAYOUT_OF_COUNT`: 17 COCO, 18 OpenPose COCO-18, 21 hand,
25 this package's layout, 26 Halpe, 33 BlazePose, 133 COCO-WholeBody); `layout=` names another of
`posedenoise.layout.SOURCE_LAYOUTS` explicitly. Other counts are read as unnamed keypoints, which the
classic filters smooth and a model refuses. Several people per frame are followed as tracks: by `track_id`
where the file has it, else by box overlap (IoU) from frame to frame (`BoxAssociator`).

A joint is missing when its score is 0 or NaN (for 2-channel arrays, when a coordinate is NaN); callers
also treat scores below their threshold as missing. Writing replaces only the x, y of each record's
keypoints, keeps everything else as read, and never writes over a coordinate with NaN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise import checks
from posedenoise.errors import InputError
from posedenoise.layout import LAYOUT_OF_COUNT, NUM_JOINTS, SOURCE_LAYOUTS, to_layout25, unnamed_layout


@dataclass
class PersonTrack:
    """One person's keypoints over the frames where they were detected, in the source layout."""

    track_id: Any  # the file's track_id, or 0, 1, ... in order of appearance
    frames: np.ndarray  # (T,) int64 frame numbers, strictly increasing (gaps: frames without a detection)
    keypoints: np.ndarray  # (T, K, 2) float64 pixel (x, y); NaN where the file has no coordinates
    scores: np.ndarray  # (T, K) float64 detector scores; 1.0 where the format has none, 0.0 where missing
    records: np.ndarray  # (T,) int64: the record of the file each frame was read from (for writing back)

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        self.scores = np.asarray(self.scores, dtype=np.float64)
        self.records = np.asarray(self.records, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.frames)

    def present(self, min_score: float = 0.0) -> np.ndarray:
        """(T, K) bool: finite coordinates and a score above zero and at least `min_score`."""
        finite = np.isfinite(self.keypoints).all(axis=-1)
        with np.errstate(invalid="ignore"):
            return finite & (self.scores > 0) & (self.scores >= min_score)


@dataclass
class TrackFile:
    """The tracks of one file, with what is needed to write it back in its own format."""

    path: Path  # where it was read from
    format: str  # a name of `trackformats.FORMATS`
    layout: str  # key of SOURCE_LAYOUTS: "coco17", "layout25", "blazepose33", ...
    tracks: list[PersonTrack]
    fps: float | None = None  # frame rate where the file states it
    notes: list[str] = field(default_factory=list)  # what the reader decided, for the user
    source: Any = None  # the parsed file (JSON document, DataFrame, arrays); copied, never changed, on write
    csv_rows: np.ndarray | None = None  # csv: (records, K) row of each joint of each record, -1 if absent
    json_indent: int | None = 2  # JSON: written back on one line if it was read from one line

    @property
    def num_records(self) -> int:
        return sum(len(t) for t in self.tracks)

    def with_keypoints(self, keypoints: list[np.ndarray]) -> TrackFile:
        """A copy whose tracks carry the given (T, K, 2) keypoints (one array per track)."""
        tracks = [
            replace(t, keypoints=np.asarray(k, dtype=np.float64))
            for t, k in zip(self.tracks, keypoints, strict=True)
        ]
        return replace(self, tracks=tracks)


@dataclass(frozen=True)
class TrackFormat:
    """A pose file format: how to recognise, read and write back its files (`posedenoise.trackformats`)."""

    name: str  # TrackFile.format of the files it reads
    suffix: str  # of its files, lower case: ".json", ".csv", ...; "" for a folder
    # (path, doc, layout, min_iou, max_age) -> TrackFile; doc: the parsed document of a JSON format, else None
    read: Callable[[Path, Any, str | None, float, int], TrackFile]
    write: Callable[[TrackFile, Path], None]  # to a path with `suffix`, every other field kept as read
    recognises: Callable[[Any], bool] | None = None  # JSON formats: whether a parsed document is one


def layout25(track: PersonTrack, layout: str, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A track in the 25-joint layout: coords (T, 25, 2) (zero where missing) and present (T, 25) bool."""
    mapping = SOURCE_LAYOUTS[layout][1]
    present = track.present(min_score)
    coords = np.where(present[..., None], track.keypoints, 0.0)
    coords25, has = to_layout25(coords, mapping)
    present25 = np.zeros((len(track), NUM_JOINTS), dtype=bool)
    present25[:, has] = present[:, mapping[has]]
    return coords25, present25


# ---------------------------------------------------------------------------------------- reading and writing


def read_tracks(
    path: str | Path, layout: str | None = None, min_iou: float = 0.3, max_age: int = 10
) -> TrackFile:
    """Read pose tracks from a file (or an OpenPose folder) of any of `trackformats.FORMATS`.

    layout:  source layout name (default: from the file, or from K = 17, 25 or 33).
    min_iou: box overlap needed to continue a track from one frame to a later one (files without track ids).
    max_age: frames a track may go undetected and still be continued.
    """
    from posedenoise.trackformats import FORMATS, json_format

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        return FORMATS["openpose"].read(path, None, layout, min_iou, max_age)
    if layout is not None and layout not in SOURCE_LAYOUTS:
        raise InputError(path, f"unknown layout {layout!r}; choose one of {', '.join(SOURCE_LAYOUTS)}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = _load_text(path)
        doc = _parse_json(path, text)
        fmt = json_format(doc)
        if fmt is None:
            raise InputError(
                path,
                "not a COCO keypoint results list, a dict with 'results' or 'annotations', or an mmpose file "
                "with 'instance_info'",
            )
        track_file = FORMATS[fmt].read(path, doc, layout, min_iou, max_age)
        # Keep the input's style: one line in, one line out (detector dumps are often large).
        track_file.json_indent = None if "\n" not in text.strip() else 2
        return track_file
    by_suffix = [f for f in FORMATS.values() if f.suffix and f.suffix == suffix]
    if by_suffix:
        return by_suffix[0].read(path, None, layout, min_iou, max_age)
    raise InputError(path, f"unsupported file type {path.suffix!r}; expected .json, .csv, .npy or .npz")


def write_tracks(track_file: TrackFile, path: str | Path) -> None:
    """Write `track_file` in its own format: the source with each record's x, y replaced. Atomic.

    An output whose suffix is not the format's is converted (`trackformats.converted`: CSV or COCO results
    JSON)."""
    from posedenoise.trackformats import FORMATS
    from posedenoise.trackformats.converted import write_converted

    path = Path(path)
    fmt = FORMATS[track_file.format]
    if path.suffix.lower() == fmt.suffix:
        fmt.write(track_file, path)
    else:
        write_converted(track_file, path)


# -------------------------------------------------------------------------------------- shared by the readers


def layout_of(path: Path, k: int, layout: str | None) -> str:
    """The layout of K keypoints: the one given (checked), a count that names one, else unnamed."""
    if layout is not None:
        expected = len(SOURCE_LAYOUTS[layout][0])
        if k != expected:
            raise InputError(path, f"{k} keypoints per person, but layout {layout!r} has {expected}")
        return layout
    return LAYOUT_OF_COUNT.get(k) or unnamed_layout(k)


def json_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    return float(value)


def check_keypoint_values(path: Path, where: str, xy: np.ndarray, scores: np.ndarray) -> None:
    """Infinite values are corrupt; NaN coordinates are corrupt on a joint that has a positive score."""
    if np.isinf(xy).any() or np.isinf(scores).any():
        raise InputError(path, f"{where}: infinite keypoint values")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(xy).all(axis=-1) & (scores > 0)
    if bad.any():
        raise InputError(path, f"{where}: NaN coordinates on a joint with a positive score")


def _load_text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise InputError(path, "not a text file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(path, "malformed JSON (nested too deeply to read)") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            path, f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def frames_of_ids(path: Path, ids: list[Any], notes: list[str]) -> np.ndarray:
    """Whole-number ids are frame numbers; any other ids are numbered in order of first appearance."""

    def whole(i: Any) -> bool:
        if isinstance(i, bool):
            return False
        return isinstance(i, (int, np.integer)) or (isinstance(i, float) and i.is_integer())

    for i in ids:  # NaN, infinite and huge ids are damage, not names of frames
        if (isinstance(i, float) and not math.isfinite(i)) or whole(i):
            problem = checks.frame_number_problem(i)
            if problem is not None:
                raise InputError(path, f"image/frame id {i!r}: {problem}")
    if all(whole(i) for i in ids):
        return np.array(ids, dtype=np.int64)
    if any(isinstance(i, (list, dict)) or i is None for i in ids):
        raise InputError(path, "image/frame ids must be numbers or strings")
    order: dict[Any, int] = {}
    for i in ids:
        order.setdefault(i, len(order))
    notes.append("frame ids are not integers: frames taken in order of first appearance")
    return np.array([order[i] for i in ids], dtype=np.int64)


def _xywh_box(bbox: Any) -> np.ndarray | None:
    try:
        x, y, w, h = (float(v) for v in bbox[:4])
        return np.array([x, y, x + w, y + h])
    except (TypeError, ValueError, IndexError):
        return None


def xywh_boxes(bboxes: list[Any]) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 of COCO [x, y, w, h] boxes; NaN rows where a record has none (or a bad one)."""
    try:
        if set(map(type, bboxes)) == {list}:
            xywh = np.array([b[:4] for b in bboxes], dtype=np.float64)  # (N, 4); ValueError if short
            if xywh.ndim == 2 and xywh.shape[1] == 4:
                return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    except (TypeError, ValueError):
        pass
    return _box_array([_xywh_box(b) for b in bboxes])


def _box_array(boxes: list[np.ndarray | None]) -> np.ndarray:
    out = np.full((len(boxes), 4), np.nan)
    for i, box in enumerate(boxes):
        if box is not None:
            out[i] = box
    return out


def xyxy_box(bbox: Any) -> np.ndarray | None:
    # mmpose's split_instances stores bbox as [[x1, y1, x2, y2]]
    if isinstance(bbox, (list, tuple)) and len(bbox) == 1 and isinstance(bbox[0], (list, tuple)):
        bbox = bbox[0]
    try:
        return np.array([float(v) for v in bbox[:4]]) if len(bbox) >= 4 else None
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------- following people


def keypoint_boxes(xy: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N, 4) boxes around each record's detected joints, xy (N, K, 2), scores (N, K); NaN rows if none."""
    ok = (np.isfinite(xy).all(axis=-1) & (scores > 0))[..., None]  # (N, K, 1)
    with np.errstate(invalid="ignore"):
        lo = np.where(ok, xy, np.inf).min(axis=1)  # (N, 2)
        hi = np.where(ok, xy, -np.inf).max(axis=1)
    boxes = np.concatenate([lo, hi], axis=1)
    boxes[~ok.any(axis=(1, 2))] = np.nan
    return boxes


def box_overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, N) intersection over union of boxes a (M, 4) and b (N, 4), x1 y1 x2 y2; 0 where a box is NaN."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(w, 0.0) * np.maximum(h, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0)


def group_people(
    path: Path,
    frames: np.ndarray,
    xy: np.ndarray,
    scores: np.ndarray,
    track_ids: list[Any],
    boxes: np.ndarray | list[np.ndarray | None],
    min_iou: float,
    max_age: int,
    notes: list[str],
) -> list[PersonTrack]:
    """Records -> tracks: by track id where given, else one track if no frame holds two people, else IoU."""
    n = len(frames)
    given = [t is not None for t in track_ids]
    if any(given) and not all(given):
        raise InputError(path, "some detections have a track_id and others do not")
    if all(given) and n:
        labels = list(track_ids)
        if any(isinstance(t, (list, dict)) for t in labels):
            raise InputError(path, "track ids must be numbers or strings")
    elif len(np.unique(frames)) == n:
        labels = [0] * n
    else:
        if not isinstance(boxes, np.ndarray):
            boxes = _box_array(boxes)
        labels = _associate(frames, xy, scores, boxes, min_iou, max_age).tolist()
        notes.append(
            f"no track ids: {len(set(labels))} tracks formed by box overlap (IoU >= {min_iou}, "
            f"up to {max_age} frames apart, optimal assignment)"
        )

    order: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        order.setdefault(label, []).append(i)
    tracks = []
    for label, idx in order.items():
        idx = np.array(idx, dtype=np.int64)
        idx = idx[np.argsort(frames[idx], kind="stable")]
        f = frames[idx]
        if len(f) > 1 and (np.diff(f) == 0).any():
            dup = int(f[1:][np.diff(f) == 0][0])
            raise InputError(path, f"track {label!r} has two detections in frame {dup}")
        tracks.append(PersonTrack(label, f, xy[idx], scores[idx], idx))
    return tracks


class BoxAssociator:
    """Follows people from frame to frame by box overlap, one frame at a time (frames in increasing order).

    Each frame's detections are matched to the live tracks (seen within the last `max_age` + 1 frames)
    by the assignment of largest total IoU (`scipy.optimize.linear_sum_assignment`), among pairs that
    overlap by at least `min_iou`; the unmatched detections start new tracks, numbered in the order they
    come. A greedy best-pair-first matching can give two crossing people each other's track when one
    overlaps the other's box slightly more than its own for a frame; the optimal assignment does not.
    """

    def __init__(self, min_iou: float, max_age: int):
        self.min_iou, self.max_age = min_iou, max_age
        self.labels = np.zeros(0, dtype=np.int64)  # (L,) of the live tracks
        self.boxes = np.zeros((0, 4))  # (L, 4) their last boxes
        self.last = np.zeros(0, dtype=np.int64)  # (L,) the frame each was last seen in
        self.next_label = 0

    def frame(self, frame: int, boxes: np.ndarray) -> np.ndarray:
        """Labels (D,) int64 of the detections `boxes` (D, 4) of `frame`."""
        from scipy.optimize import linear_sum_assignment

        live = frame - self.last <= self.max_age + 1
        labels_live, boxes_live, last_live = self.labels[live], self.boxes[live], self.last[live]
        labels = np.full(len(boxes), -1, dtype=np.int64)
        if len(labels_live) and len(boxes):
            iou = box_overlaps(boxes_live, boxes)  # (L, D)
            valid = iou >= self.min_iou
            rows, cols = linear_sum_assignment(np.where(valid, iou, 0.0), maximize=True)
            matched = valid[rows, cols]
            rows, cols = rows[matched], cols[matched]
            labels[cols] = labels_live[rows]
            boxes_live = boxes_live.copy()
            boxes_live[rows], last_live = boxes[cols], last_live.copy()
            last_live[rows] = frame
        new = np.flatnonzero(labels < 0)
        labels[new] = self.next_label + np.arange(len(new))
        self.next_label += len(new)
        self.labels = np.concatenate([labels_live, labels[new]])
        self.boxes = np.concatenate([boxes_live, boxes[new]])
        self.last = np.concatenate([last_live, np.full(len(new), frame, dtype=np.int64)])
        return labels


def _associate(
    frames: np.ndarray, xy: np.ndarray, scores: np.ndarray, boxes: np.ndarray, min_iou: float, max_age: int
) -> np.ndarray:
    """Track labels (N,) of detections by box overlap (`BoxAssociator`); boxes (N, 4), NaN rows where a
    record has none (the box of its detected joints is used)."""
    boxes = np.where(np.isnan(boxes).any(axis=1, keepdims=True), keypoint_boxes(xy, scores), boxes)
    return associate_boxes(frames, boxes, min_iou, max_age)


def associate_boxes(frames: np.ndarray, boxes: np.ndarray, min_iou: float, max_age: int) -> np.ndarray:
    """Track labels (N,) of detections in frames (N,) with boxes (N, 4), in any order (`BoxAssociator`)."""
    order = np.argsort(frames, kind="stable")  # each frame's detections in the file's order
    sorted_frames = frames[order]
    starts = np.flatnonzero(np.r_[True, sorted_frames[1:] != sorted_frames[:-1]])
    ends = np.r_[starts[1:], len(order)]
    labels = np.empty(len(frames), dtype=np.int64)
    associator = BoxAssociator(min_iou, max_age)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        dets = order[s:e]
        labels[dets] = associator.frame(int(sorted_frames[s]), boxes[dets])
    return labels


__all__ = [
    "BoxAssociator",
    "PersonTrack",
    "TrackFile",
    "TrackFormat",
    "associate_boxes",
    "box_overlaps",
    "frames_of_ids",
    "keypoint_boxes",
    "layout25",
    "layout_of",
    "read_tracks",
    "write_tracks",
]
