"""Your own pose tracks, for fine-tuning or evaluation: a long-format table (CSV or Parquet), or the
pose files `posedenoise denoise` reads (`posedenoise.tracks`): COCO keypoint JSON (results, or the
annotations of one video as PoseTrack releases them), mmpose JSON, a long CSV without a `video` column,
`.npy`/`.npz` arrays. `load_custom` takes files and folders (every such file in a folder, sorted).

The table: one row per (video, frame, joint)::

    video,frame,joint,x,y,visible,fps
    clip_01,0,nose,412.5,188.0,1,30
    clip_01,0,left_shoulder,440.1,260.7,1,30
    clip_01,0,left_ear,,,0,30
    clip_01,1,nose,413.0,187.2,1,30

Columns:

- `video` (text): the video the row belongs to; tracks come out in order of first appearance.
- `frame` (integer): the frame number within the video. Frames of a video need not be consecutive: a
  gap (a frame with no row at all) breaks the 5-frame windows there.
- `joint` (text): a joint name of the 25-joint layout: nose, left_ear, right_ear, left_shoulder,
  right_shoulder, left_elbow, right_elbow, left_wrist, right_wrist, left_pinky, right_pinky, left_index,
  right_index, left_thumb, right_thumb, left_hip, right_hip, left_knee, right_knee, left_ankle,
  right_ankle, left_heel, right_heel, left_foot_index, right_foot_index.
- `x`, `y` (numbers): image pixel coordinates, x to the right, y down.
- `visible` (optional; 1/0, true/false, yes/no): 0 marks a joint as not present (its x and y may be
  empty). Without this column every row is present.
- `fps` (optional, number): the video's frame rate, constant within a video; 30 when absent.
- `action` (optional, text): a label kept with the video.

A joint without a row in a frame is not present in that frame. Files ending in `.parquet` or `.pq` are
read as Parquet (needs pyarrow); a `.csv` with a `video` column is this table, one without is a pose file.

A pose file gives one video per person track (named `<file name>` or `<file name>/<track id>`) with the
file's frame rate (30 where it states none); a joint is present when its score (a COCO visibility flag
in annotations) is positive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from posedenoise.checks import MAX_FRAME
from posedenoise.errors import InputError
from posedenoise.layout import JOINT_INDEX, NUM_JOINTS
from posedenoise.sources import Track

REQUIRED_COLUMNS = ("video", "frame", "joint", "x", "y")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
POSE_SUFFIXES = (".json", ".csv", ".npy", ".npz")  # posedenoise.tracks
DEFAULT_FPS = 30.0
_TRUE = {"1", "true", "yes", "y", "t", "1.0"}
_FALSE = {"0", "false", "no", "n", "f", "0.0"}


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={"video": str, "joint": str}, skipinitialspace=True)
    except ImportError as error:
        raise InputError(path, f"cannot read Parquet: {error}") from None
    except Exception as error:  # pandas/pyarrow raise many types for malformed files
        raise InputError(path, f"cannot read table ({type(error).__name__}: {error})") from None


def _numeric(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"column '{column}' has a non-numeric value {table[column].iloc[row]!r}")
    return values.to_numpy(dtype=np.float64)


def _visible(path: Path, column: pd.Series) -> np.ndarray:
    if column.dtype == bool:
        return column.to_numpy()
    if pd.api.types.is_numeric_dtype(column):
        if column.isna().any():
            raise InputError(path, "column 'visible' has empty values")
        return column.to_numpy() != 0
    text = column.astype(str).str.strip().str.lower()
    unknown = sorted(set(text) - _TRUE - _FALSE)
    if unknown:
        raise InputError(path, f"column 'visible' has values {unknown[:5]}, expected 1/0 or true/false")
    return text.isin(_TRUE).to_numpy()


def custom_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The files behind `paths`: files as given, folders as the tables and pose files in them, sorted."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(path, "file not found")
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES + POSE_SUFFIXES
            )
            if not found:
                raise InputError(path, "no .csv, .parquet, .json, .npy or .npz files in this folder")
            files += found
        else:
            files.append(path)
    return files


def load_custom(paths: str | Path | Sequence[str | Path]) -> Iterator[Track]:
    """Yield the tracks of every file behind `paths` (`custom_files`): tables and pose files."""
    for path in custom_files(paths):
        if _is_table(path):
            yield from load_table(path)
        else:
            yield from load_pose_file(path)


def _is_table(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return True
    if suffix != ".csv":
        return False
    try:
        return "video" in pd.read_csv(path, nrows=0, skipinitialspace=True).columns
    except Exception:  # unreadable: let the table reader name the problem
        return True


def load_pose_file(path: str | Path) -> Iterator[Track]:
    """One `Track` per person track of a file `posedenoise.tracks.read_tracks` reads."""
    from posedenoise.layout import model_layout_problem
    from posedenoise.tracks import layout25, read_tracks

    path = Path(path)
    track_file = read_tracks(path)
    problem = model_layout_problem(track_file.layout)
    if problem is not None:  # training needs the joints' names; 25 keypoints could be two layouts
        raise InputError(
            path, f"{problem.split(':')[0]}; give the file a 'layout' field (JSON) or joint names (CSV)"
        )
    fps = track_file.fps or DEFAULT_FPS
    for person in track_file.tracks:
        coords, present = layout25(person, track_file.layout)
        name = path.name if len(track_file.tracks) == 1 else f"{path.name}/{person.track_id}"
        track = Track(
            name=name, source="custom", fps=fps, coords=coords, present=present, frames=person.frames
        )
        yield track.validate(path)


def load_table(path: str | Path) -> Iterator[Track]:
    """Yield one `Track` per video of a long-format CSV or Parquet table (format: module docstring).

    Raises `InputError` for an unreadable file, missing columns, unknown joint names (listed),
    non-numeric or non-integer values, NaN x/y on present rows, duplicated (video, frame, joint) rows
    and an invalid or varying fps.
    """
    path = Path(path)
    table = _read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            path, f"missing column(s) {', '.join(missing)} (expected {', '.join(REQUIRED_COLUMNS)})"
        )
    if len(table) == 0:
        raise InputError(path, "the table has no rows")

    joint_names = table["joint"].astype(str).str.strip()
    unknown = sorted(set(joint_names) - set(JOINT_INDEX))
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise InputError(path, f"unknown joint name(s) {shown}; expected names of the 25-joint layout")
    joint = joint_names.map(JOINT_INDEX).to_numpy(dtype=np.int64)

    if table["video"].isna().any():
        raise InputError(path, "column 'video' has empty values")
    video = table["video"].astype(str).to_numpy()
    frame_values = _numeric(path, table, "frame")
    if np.isnan(frame_values).any() or (frame_values != np.round(frame_values)).any():
        raise InputError(path, "column 'frame' must hold whole numbers in every row")
    if (np.abs(frame_values) > MAX_FRAME).any():  # also infinities
        big = frame_values[np.abs(frame_values) > MAX_FRAME][0]
        raise InputError(path, f"column 'frame': {big:g} is out of range (at most {MAX_FRAME:,} either way)")
    frame = frame_values.astype(np.int64)
    x = _numeric(path, table, "x")
    y = _numeric(path, table, "y")
    visible = _visible(path, table["visible"]) if "visible" in table.columns else np.ones(len(table), bool)

    bad = visible & ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            path,
            f"x or y is missing or not finite on a visible row (video {video[row]}, frame {frame[row]}, "
            f"joint {joint_names.iloc[row]})",
        )

    keys = pd.DataFrame({"video": video, "frame": frame, "joint": joint})
    duplicated = keys.duplicated(keep=False).to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise InputError(
            path, f"duplicated row for video {video[row]}, frame {frame[row]}, joint {joint_names.iloc[row]}"
        )

    fps = _numeric(path, table, "fps") if "fps" in table.columns else np.full(len(table), DEFAULT_FPS)
    action = table["action"] if "action" in table.columns else None

    video_codes, video_names = pd.factorize(pd.Series(video), sort=False)  # order of first appearance
    order = np.lexsort((frame, video_codes))  # rows grouped by video, frames increasing within each
    bounds = np.searchsorted(video_codes[order], np.arange(len(video_names) + 1))
    for v, name in enumerate(video_names):
        rows = order[bounds[v] : bounds[v + 1]]
        rates = np.unique(fps[rows])
        if len(rates) != 1 or not (np.isfinite(rates[0]) and rates[0] > 0):
            raise InputError(path, f"video {name}: fps must be one positive number, got {rates.tolist()[:5]}")
        frames, frame_row = np.unique(frame[rows], return_inverse=True)  # (T,), (rows,)
        coords = np.zeros((len(frames), NUM_JOINTS, 2))
        present = np.zeros((len(frames), NUM_JOINTS), dtype=bool)
        shown = visible[rows]
        coords[frame_row[shown], joint[rows][shown]] = np.stack([x[rows][shown], y[rows][shown]], axis=-1)
        present[frame_row[shown], joint[rows][shown]] = True
        label = None
        if action is not None:
            labels = action.iloc[rows].dropna().astype(str).unique()
            label = labels[0] if len(labels) else None
        track = Track(
            name=str(name),
            source="custom",
            fps=float(rates[0]),
            coords=coords,
            present=present,
            frames=frames,
            action=label,
        )
        yield track.validate(path)


__all__ = ["custom_files", "load_custom", "load_pose_file", "load_table"]
