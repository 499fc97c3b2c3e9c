"""Conversion: any track file written as a long CSV or as COCO keypoint results JSON.

`denoise -o` converts when the output's suffix is not the input format's: `.csv` gives one row per
(frame, track, joint) (`frame, track_id, joint, x, y, score`), `.json` COCO keypoint results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.layout import SOURCE_LAYOUTS


def write_converted(track_file, path: Path) -> str:
    """Write any track file as a long CSV or COCO results JSON, chosen by the suffix; returns the format."""
    names = SOURCE_LAYOUTS[track_file.layout][0]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pandas as pd  # here: importing it costs a second and 100 MB that JSON files do without

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
