"""Pose tracks of the user's detector output: read, and write back in the same format.

Formats (detected from the extension, then the content):
- `coco`: COCO keypoint results JSON, a list of `{"image_id", "category_id", "keypoints": [x, y, score] x K,
  "score"[, "bbox", "track_id"]}`, or a dict holding that list under `"results"` (the BlazePose files of
  `examples/data/`: `{"fps", "width", "height", "layout": "blazepose33", "results": [...]}`). Integer
  image ids are frame numbers (so a missing id is a frame without a detection); other ids are frames in
  order of first appearance.
  Also COCO keypoint *annotations* of one video, `{"images": [...], "annotations": [{"image_id",
  "keypoints": [x, y, v] x K[, "track_id", "bbox"]}], "categories"}`, as PoseTrack 2018/21 releases them
  (one file per video): a frame is the image's position in `images` (unlabelled images are frames
  without annotations), the visibility flag v is the score (0: not labelled, missing), and annotations
  without keypoints are skipped. PoseTrack's 17 keypoints are COCO's with the eyes replaced by
  head_bottom/head_top, which the 25-joint layout does not use, so they read as `coco17`.
- `mmpose`: mmpose's saved predictions, `{"meta_info", "instance_info": [{"frame_id", "instances":
  [{"keypoints": [[x, y]] x K, "keypoint_scores": [s] x K[, "bbox", "bbox_score", "track_id"]}]}]}`.
- `csv`: long format, one row per (frame, person, joint): columns `frame`, `joint` (a name of the layout
  or an index), `x`, `y`, optional `score` and `track_id` (or `person`); other columns are kept.
- `npy` / `npz`: one person, an array `(T, K, 2 | 3)` (x, y[, score]); NaN coordinates mark a missing
  joint. In an `.npz` the array is `keypoints` (or `coords`, `poses`, or the only 3-D array); an optional
  `frames` array `(T,)` gives frame numbers; the other arrays are kept.

K = 17 (COCO), 25 (this package's layout) or 33 (BlazePose); `layout=` names another of
`posedenoise.layout.SOURCE_LAYOUTS` explicitly. Several people per frame are followed as tracks: by
`track_id` where the file has it, else by greedy box overlap (IoU) from frame to frame.

A joint is missing when its score is 0 or NaN (for 2-channel arrays, when a coordinate is NaN); callers
also treat scores below their threshold as missing. Writing replaces only the x, y of each record's
keypoints, keeps everything else as read, and never writes over a coordinate with NaN.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise import checks, fileio
from posedenoise.errors import InputError
from posedenoise.layout import NUM_JOINTS, SOURCE_LAYOUTS, to_layout25, unnamed_layout

FORMATS: tuple[str, ...] = ("coco", "mmpose", "csv", "npy", "npz")
SUFFIXES = {"coco": ".json", "mmpose": ".json", "csv": ".csv", "npy": ".npy", "npz": ".npz"}
TRACK_COLUMNS = ("track_id", "person", "person_id", "track")
ARRAY_KEYS = ("keypoints", "coords", "poses")


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
    format: str  # one of FORMATS
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


def layout25(track: PersonTrack, layout: str, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A track in the 25-joint layout: coords (T, 25, 2) (zero where missing) and present (T, 25) bool."""
    mapping = SOURCE_LAYOUTS[layout][1]
    present = track.present(min_score)
    coords = np.where(present[..., None], track.keypoints, 0.0)
    coords25, has = to_layout25(coords, mapping)
    present25 = np.zeros((len(track), NUM_JOINTS), dtype=bool)
    present25[:, has] = present[:, mapping[has]]
    return coords25, present25


# ----------------------------------------------------------------------------------------------- reading


def read_tracks(
    path: str | Path, layout: str | None = None, min_iou: float = 0.3, max_age: int = 10
) -> TrackFile:
    """Read pose tracks from a COCO results / mmpose JSON, a long CSV or a NumPy array file.

    layout:  source layout name (default: from the file, or from K = 17, 25 or 33).
    min_iou: box overlap needed to continue a track from one frame to a later one (files without track ids).
    max_age: frames a track may go undetected and still be continued.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        from posedenoise import formats

        if not any(p.name.endswith("_keypoints.json") for p in path.iterdir()):
            raise InputError(
                path,
                "is a folder without OpenPose *_keypoints.json files; expected a pose file or such a folder",
            )
        if layout is not None and layout not in SOURCE_LAYOUTS:
            raise InputError(path, f"unknown layout {layout!r}; choose one of {', '.join(SOURCE_LAYOUTS)}")
        return formats.read_openpose(path, layout, min_iou, max_age)
    if layout is not None and layout not in SOURCE_LAYOUTS:
        raise InputError(path, f"unknown layout {layout!r}; choose one of {', '.join(SOURCE_LAYOUTS)}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path, layout, min_iou, max_age)
    if suffix == ".csv":
        return _read_csv(path, layout, min_iou, max_age)
    if suffix in (".npy", ".npz"):
        return _read_array(path, layout)
    raise InputError(path, f"unsupported file type {path.suffix!r}; expected .json, .csv, .npy or .npz")


def _layout_for(path: Path, k: int, layout: str | None) -> str:
    from posedenoise.formats import layout_of

    return layout_of(path, k, layout)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    return float(value)


def _check_values(path: Path, where: str, xy: np.ndarray, scores: np.ndarray) -> None:
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


def _read_json(path: Path, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    text = _load_text(path)
    doc = _parse_json(path, text)
    from posedenoise import formats

    other = formats.sniff(doc)
    if other is not None:
        track_file = formats.read_json(path, doc, other, layout, min_iou, max_age)
        track_file.json_indent = None if "\n" not in text.strip() else 2
        return track_file
    if isinstance(doc, dict) and "instance_info" in doc:
        track_file = _read_mmpose(path, doc, layout, min_iou, max_age)
    elif isinstance(doc, list) or (
        isinstance(doc, dict)
        and (isinstance(doc.get("results"), list) or isinstance(doc.get("annotations"), list))
    ):
        track_file = _read_coco(path, doc, layout, min_iou, max_age)
    else:
        track_file = None
    if track_file is not None:
        # Keep the input's style: one line in, one line out (detector dumps are often large).
        track_file.json_indent = None if "\n" not in text.strip() else 2
        return track_file
    raise InputError(
        path,
        "not a COCO keypoint results list, a dict with 'results' or 'annotations', or an mmpose file "
        "with 'instance_info'",
    )


def _is_annotations(doc: Any) -> bool:
    """A COCO/PoseTrack ground-truth document (annotations + images) rather than detector results."""
    return isinstance(doc, dict) and "results" not in doc and isinstance(doc.get("annotations"), list)


def _coco_records(doc: Any) -> list[dict]:
    if isinstance(doc, list):
        return doc
    return doc["annotations"] if _is_annotations(doc) else doc["results"]


def _mmpose_records(doc: Any) -> list[dict]:
    return [inst for frame in doc["instance_info"] for inst in frame["instances"]]


def _read_coco(path: Path, doc: Any, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
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
    tracks = _group(path, frames, xy, scores, track_ids, boxes, min_iou, max_age, notes)
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
            fps = _number(fields["fps"])
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
            _check_values(path, "", values[..., :2], values[..., 2])
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
                layout = _layout_for(path, k, layout)
            elif len(kps_i) // 3 != k:
                raise InputError(path, f"{where}: {len(kps_i) // 3} keypoints, but earlier results have {k}")
            try:
                row = np.array([_number(v) for v in kps_i], dtype=np.float64).reshape(k, 3)
            except TypeError:
                raise InputError(path, f"{where}: non-numeric keypoint values") from None
            _check_values(path, where, row[:, :2], row[:, 2])
            rows.append(row)
        values = np.stack(rows)
        image_ids = [rec["image_id"] for rec in records]
    layout = _layout_for(path, k, layout)
    xy = values[..., :2].copy()  # (N, K, 2)
    scores = values[..., 2].copy()  # (N, K) as in the file: NaN where it says NaN
    track_ids = [rec.get("track_id") for rec in records]
    boxes = _xywh_boxes([rec.get("bbox") for rec in records])
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


def _read_mmpose(path: Path, doc: dict, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
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
                xy = np.array([[_number(v) for v in p] for p in kps], dtype=np.float64)
                if xy.ndim != 2 or xy.shape[1] != 2:
                    raise TypeError
            except (TypeError, ValueError):
                raise InputError(path, f"{where}: 'keypoints' must be a list of [x, y] pairs") from None
            if k is None:
                k = len(xy)
                layout = _layout_for(path, k, layout)
            elif len(xy) != k:
                raise InputError(path, f"{where}: {len(xy)} keypoints, but earlier instances have {k}")
            raw_scores = inst.get("keypoint_scores")
            if raw_scores is None:
                scores = np.ones(k)
            else:
                try:
                    scores = np.array([_number(v) for v in raw_scores], dtype=np.float64)
                except TypeError:
                    raise InputError(path, f"{where}: non-numeric keypoint_scores") from None
                if scores.shape != (k,):
                    raise InputError(path, f"{where}: {len(scores)} keypoint_scores for {k} keypoints")
            _check_values(path, where, xy, scores)
            xy_all.append(xy)
            score_all.append(np.nan_to_num(scores, nan=0.0))
            frame_ids.append(frame["frame_id"])
            track_ids.append(inst.get("track_id"))
            boxes.append(_xyxy_box(inst.get("bbox")))
    if k is None:
        raise InputError(path, "no instances in the file")
    frames = frames_of_ids(path, frame_ids, notes)
    tracks = _group(
        path, frames, np.stack(xy_all), np.stack(score_all), track_ids, boxes, min_iou, max_age, notes
    )
    return TrackFile(path, "mmpose", layout, tracks, None, notes, doc)


def _read_csv(path: Path, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    import pandas as pd  # here: importing it costs a second and 100 MB that JSON files do without

    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            path, f"not a readable CSV ({str(exc).splitlines()[0] if str(exc) else 'empty'})"
        ) from None
    missing = [c for c in ("frame", "joint", "x", "y") if c not in df.columns]
    if missing:
        raise InputError(
            path, f"missing column(s) {', '.join(missing)}; need frame, joint, x, y[, score, track_id]"
        )
    if df.empty:
        raise InputError(path, "no rows")
    notes: list[str] = []
    track_col = next((c for c in TRACK_COLUMNS if c in df.columns), None)

    # Joints: indices, or names of a layout.
    joints = df["joint"]
    if pd.api.types.is_integer_dtype(joints):
        index = joints.to_numpy(dtype=np.int64)
        if layout is None:
            layout = _layout_for(path, int(index.max()) + 1, None)
        if index.min() < 0 or index.max() >= len(SOURCE_LAYOUTS[layout][0]):
            raise InputError(path, f"joint index out of range for layout {layout!r}")
    else:
        names = joints.astype(str).to_numpy()
        used = set(names.tolist())
        # the smallest named layout holding every name (names map joints the same in any of them)
        named = sorted(
            (n for n in SOURCE_LAYOUTS if "unnamed" not in n), key=lambda n: len(SOURCE_LAYOUTS[n][0])
        )
        candidates = [layout] if layout is not None else named
        numbered = [re.fullmatch(r"keypoint_(\d+)", n) for n in used]
        if layout is None and all(numbered):  # as written for keypoints of no known layout
            candidates = [unnamed_layout(max(int(m.group(1)) for m in numbered) + 1)]
        layout = next((c for c in candidates if used <= set(SOURCE_LAYOUTS[c][0])), None)
        if layout is None:
            unknown = sorted(used - set(SOURCE_LAYOUTS[candidates[-1]][0]))[:5]
            raise InputError(path, f"unknown joint name(s) {', '.join(unknown)}")
        position = {n: i for i, n in enumerate(SOURCE_LAYOUTS[layout][0])}
        index = np.array([position[n] for n in names], dtype=np.int64)
        notes.append(f"joint names read as layout {layout}")
    k = len(SOURCE_LAYOUTS[layout][0])

    try:
        frame_values = df["frame"].to_numpy(dtype=np.float64)
        x = df["x"].to_numpy(dtype=np.float64)
        y = df["y"].to_numpy(dtype=np.float64)
        score = df["score"].to_numpy(dtype=np.float64) if "score" in df.columns else np.ones(len(df))
    except (ValueError, TypeError):
        raise InputError(path, "non-numeric frame, x, y or score values") from None
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(frame_values) & (np.abs(frame_values) <= checks.MAX_FRAME)
        usable &= frame_values == np.round(frame_values)
    if not usable.all():
        bad = float(frame_values[~usable][0])
        raise InputError(path, f"column 'frame': {checks.frame_number_problem(bad)}")
    frame_numbers = frame_values.astype(np.int64)
    _check_values(path, "rows", np.stack([x, y], axis=1), score)
    person = df[track_col].to_numpy() if track_col else np.zeros(len(df), dtype=np.int64)
    if track_col and pd.isna(df[track_col]).any():
        raise InputError(path, f"empty {track_col} values")

    # One record per (person, frame), in order of first appearance.
    keys = pd.MultiIndex.from_arrays([person, frame_numbers])
    codes, uniques = pd.factorize(keys)
    n_rec = len(uniques)
    rows = np.full((n_rec, k), -1, dtype=np.int64)
    if (np.bincount(codes * k + index, minlength=n_rec * k) > 1).any():
        raise InputError(path, "a joint appears twice for the same person and frame")
    rows[codes, index] = np.arange(len(df))
    xy = np.full((n_rec, k, 2), np.nan)
    scores = np.zeros((n_rec, k))
    xy[codes, index] = np.stack([x, y], axis=1)
    scores[codes, index] = np.nan_to_num(score, nan=0.0)
    rec_frames = np.array([f for _, f in uniques], dtype=np.int64)
    rec_people = [p for p, _ in uniques]
    track_ids = rec_people if track_col else [None] * n_rec
    boxes = [None] * n_rec
    tracks = _group(path, rec_frames, xy, scores, track_ids, boxes, min_iou, max_age, notes)
    return TrackFile(path, "csv", layout, tracks, None, notes, df, rows)


def _read_array(path: Path, layout: str | None) -> TrackFile:
    try:
        if path.suffix.lower() == ".npy":
            arrays = {"": np.load(path, allow_pickle=False)}
            key = ""
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            key = next((n for n in ARRAY_KEYS if n in arrays), None)
            if key is None:
                three_d = [n for n, a in arrays.items() if a.ndim == 3]
                if len(three_d) != 1:
                    raise InputError(
                        path, f"no (T, K, 2|3) array named {' or '.join(ARRAY_KEYS)} among {list(arrays)}"
                    )
                key = three_d[0]
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable NumPy file ({str(exc).splitlines()[0]})") from None
    arr = arrays[key]
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3) or arr.shape[0] == 0:
        raise InputError(path, f"array has shape {arr.shape}, expected (T, K, 2) or (T, K, 3) with T >= 1")
    if not np.issubdtype(arr.dtype, np.number):
        raise InputError(path, f"array has dtype {arr.dtype}, expected numbers")
    t, k = arr.shape[:2]
    layout = _layout_for(path, k, layout)
    values = arr.astype(np.float64)
    xy = values[..., :2].copy()
    if arr.shape[-1] == 3:
        scores = np.nan_to_num(values[..., 2], nan=0.0)
    else:
        scores = np.isfinite(xy).all(axis=-1).astype(np.float64)  # NaN marks a missing joint
    _check_values(path, "array", xy, scores)
    frames = np.arange(t, dtype=np.int64)
    if "frames" in arrays and key != "frames":
        frames = np.asarray(arrays["frames"])
        if frames.shape != (t,) or not np.issubdtype(frames.dtype, np.integer):
            raise InputError(
                path, f"'frames' has shape {frames.shape} and dtype {frames.dtype}, expected ({t},) ints"
            )
        if t and np.abs(frames.astype(np.float64)).max() > checks.MAX_FRAME:
            raise InputError(path, f"'frames' holds numbers out of range (at most {checks.MAX_FRAME:,})")
        if t > 1 and not (np.diff(frames) > 0).all():
            raise InputError(path, "'frames' is not strictly increasing")
    track = PersonTrack(0, frames, xy, scores, np.arange(t))
    fmt = "npy" if path.suffix.lower() == ".npy" else "npz"
    return TrackFile(path, fmt, layout, [track], None, [], {"arrays": arrays, "key": key})


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


def _xywh_boxes(bboxes: list[Any]) -> np.ndarray:
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


def _xyxy_box(bbox: Any) -> np.ndarray | None:
    # mmpose's split_instances stores bbox as [[x1, y1, x2, y2]]
    if isinstance(bbox, (list, tuple)) and len(bbox) == 1 and isinstance(bbox[0], (list, tuple)):
        bbox = bbox[0]
    try:
        return np.array([float(v) for v in bbox[:4]]) if len(bbox) >= 4 else None
    except (TypeError, ValueError):
        return None


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


def _group(
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


# ----------------------------------------------------------------------------------------------- writing


def write_tracks(track_file: TrackFile, path: str | Path) -> None:
    """Write `track_file` in its own format: the source with each record's x, y replaced. Atomic."""
    path = Path(path)
    fmt = track_file.format
    from posedenoise import formats

    own_kind = not path.suffix if fmt == "openpose" else path.suffix.lower() == ".json"
    if fmt in formats.FORMATS and own_kind:  # OpenPose: a folder; the others: JSON
        formats.write(track_file, path)
        return
    if path.suffix.lower() != SUFFIXES.get(fmt, ".json"):
        formats.write_converted(track_file, path)  # another suffix: convert (CSV or COCO results JSON)
        return
    if fmt in ("coco", "mmpose"):
        try:
            text = json.dumps(_updated_document(track_file), indent=track_file.json_indent) + "\n"
        except RecursionError:
            raise InputError(track_file.path, "holds values nested too deeply to write back") from None
        fileio.write_text(path, text)
    elif fmt == "csv":
        df = track_file.source.copy()
        x = df["x"].to_numpy(dtype=np.float64, copy=True)
        y = df["y"].to_numpy(dtype=np.float64, copy=True)
        for track in track_file.tracks:
            rows = track_file.csv_rows[track.records]  # (T, K)
            ok = (rows >= 0) & np.isfinite(track.keypoints).all(axis=-1)
            x[rows[ok]] = track.keypoints[..., 0][ok]
            y[rows[ok]] = track.keypoints[..., 1][ok]
        df["x"], df["y"] = x, y
        with fileio.atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
    else:
        arrays = dict(track_file.source["arrays"])
        key = track_file.source["key"]
        arr = arrays[key].copy()
        kp = track_file.tracks[0].keypoints
        ok = np.isfinite(kp).all(axis=-1)
        arr[..., :2][ok] = kp[ok].astype(arr.dtype)
        arrays[key] = arr
        with fileio.atomic_path(path) as tmp, open(tmp, "wb") as f:
            if fmt == "npy":
                np.save(f, arr)
            else:
                np.savez(f, **arrays)


def _updated_document(track_file: TrackFile) -> Any:
    """The source document with each record's x, y replaced, sharing every other value with the source.

    Only the containers on the way to the records and the records themselves are new (shallow copies
    with a new keypoints list): the source is not changed, and nothing is copied deeply (a deep copy of
    a crowd's document took longer than all the rest of writing it)."""
    doc = track_file.source
    coco = track_file.format == "coco"
    records = _coco_records(doc) if coco else _mmpose_records(doc)
    new_records = list(records)
    for track in track_file.tracks:
        rows = track.records.tolist()
        updated = updated_records([records[r] for r in rows], track.keypoints, coco)
        for r, record in zip(rows, updated, strict=True):
            new_records[r] = record
    if not coco:
        frames, k = [], 0
        for frame in doc["instance_info"]:
            n = len(frame["instances"])
            frames.append({**frame, "instances": new_records[k : k + n]})
            k += n
        return {**doc, "instance_info": frames}
    if isinstance(doc, list):
        return new_records
    return {**doc, ("annotations" if _is_annotations(doc) else "results"): new_records}


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


__all__ = [
    "FORMATS",
    "PersonTrack",
    "TrackFile",
    "layout25",
    "read_tracks",
    "write_tracks",
]
