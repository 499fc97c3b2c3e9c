"""Long CSV (`csv`): one row per (frame, person, joint); read, and written back with only x, y replaced.

Columns `frame`, `joint` (a name of the layout or an index), `x`, `y`, optional `score` and `track_id`
(or `person`); other columns are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from posedenoise import checks, fileio
from posedenoise.errors import InputError
from posedenoise.layout import SOURCE_LAYOUTS, unnamed_layout
from posedenoise.tracks import TrackFile, TrackFormat, check_keypoint_values, group_people, layout_of

TRACK_COLUMNS = ("track_id", "person", "person_id", "track")


def read(path: Path, doc: None, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
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
            layout = layout_of(path, int(index.max()) + 1, None)
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
    check_keypoint_values(path, "rows", np.stack([x, y], axis=1), score)
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
    tracks = group_people(path, rec_frames, xy, scores, track_ids, boxes, min_iou, max_age, notes)
    return TrackFile(path, "csv", layout, tracks, None, notes, df, rows)


# ----------------------------------------------------------------------------------------------- writing


def write(track_file: TrackFile, path: Path) -> None:
    """The rows as read with each joint's x, y replaced where the track has a finite estimate."""
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


FORMAT = TrackFormat("csv", ".csv", read, write)
