"""The pose file formats `posedenoise denoise` reads and writes back: one reader/writer pair per format.

Each format is one module holding its reader, its writer and a `TrackFormat` entry, listed once in
`FORMATS` below. To add a format: write `read(path, doc, layout, min_iou, max_age) -> TrackFile`
(`tracks.group_people` turns records into people; the JSON formats that walk records use
`jsonrecords.tracks_of_rows`) and `write(track_file, path)` (the document as read, only x, y
replaced), give it a `TrackFormat(name, suffix, read, write[, recognises])`, and add that to `FORMATS`. A
JSON format also says which parsed documents are its own (`recognises`); they are tried in the order of
`FORMATS`.

Why parsers of our own rather than a format library such as sleap-io: each of these formats is a few
lines of JSON walking, and writing a file back *with every other field kept* (scores, boxes, face and hand
keypoints, ids, one file per frame) needs the document as read, which a library that converts to its own
data model gives up; sleap-io also has no reader for the mmpose inferencer, OpenPose or AlphaPose files.
"""

from __future__ import annotations

from typing import Any

from posedenoise.trackformats import (
    alphapose,
    arrays,
    coco,
    longcsv,
    mmpose,
    mmpose_inferencer,
    openpose,
    ultralytics,
)
from posedenoise.tracks import TrackFormat

# JSON formats are tried in this order: the lists of a known shape first, COCO (any list) last
FORMATS: dict[str, TrackFormat] = {
    f.name: f
    for f in (
        mmpose_inferencer.FORMAT,
        alphapose.FORMAT,
        ultralytics.FORMAT,
        mmpose.FORMAT,
        coco.FORMAT,
        longcsv.FORMAT,
        arrays.NPY,
        arrays.NPZ,
        openpose.FORMAT,
    )
}


def json_format(doc: Any) -> str | None:
    """The name of the format of a parsed JSON document (None: none of them)."""
    return next((f.name for f in FORMATS.values() if f.recognises is not None and f.recognises(doc)), None)


__all__ = ["FORMATS", "TrackFormat", "json_format"]
