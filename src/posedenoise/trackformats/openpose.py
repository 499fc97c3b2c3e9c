"""OpenPose folders (`openpose`): read, and written back as a folder with every other field kept.

A folder of OpenPose's per-frame `<name>_<frame:012d>_keypoints.json`, each `{"version", "people":
[{"person_id", "pose_keypoints_2d": [x, y, c] x K, "face_keypoints_2d", ...}]}` with K = 25 (BODY_25) or 18
(COCO-18); a joint OpenPose did not find is (0, 0, 0). Frames come from the file names, several people are
followed by box overlap (OpenPose's `person_id` is -1 unless it tracked them). Written back as a folder of
the same file names; the face and hand keypoints are kept as read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.layout import SOURCE_LAYOUTS
from posedenoise.trackformats.jsonrecords import (
    JsonRecords,
    _count,
    _numbers,
    tracks_of_rows,
    updated_document,
)
from posedenoise.tracks import TrackFile, TrackFormat

OPENPOSE_NAME = re.compile(r"^(?P<name>.*?)_?(?P<frame>\d{12})_keypoints\.json$")


def read(path: Path, doc: None, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    """A TrackFile from a folder of OpenPose `*_keypoints.json` files."""
    if not any(p.name.endswith("_keypoints.json") for p in path.iterdir()):
        raise InputError(
            path,
            "is a folder without OpenPose *_keypoints.json files; expected a pose file or such a folder",
        )
    if layout is not None and layout not in SOURCE_LAYOUTS:
        raise InputError(path, f"unknown layout {layout!r}; choose one of {', '.join(SOURCE_LAYOUTS)}")
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
    return tracks_of_rows(path, "openpose", layout, rows, min_iou, max_age, notes, source)


# ----------------------------------------------------------------------------------------------- writing


def write(track_file: TrackFile, path: Path) -> None:
    """A folder of the same file names, each document as read with its people's x, y replaced."""
    doc = updated_document(track_file)
    if path.suffix:
        raise InputError(path, "an OpenPose folder is written to a folder (a name without a suffix)")
    path.mkdir(parents=True, exist_ok=True)
    for name, file_doc in doc.items():
        fileio.write_text(path / name, json.dumps(file_doc) + "\n")


FORMAT = TrackFormat("openpose", "", read, write)
