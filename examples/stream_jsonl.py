"""Smooth pose frames as they arrive: JSON lines in on stdin, smoothed JSON lines out on stdout.

    my_detector --json-lines | python examples/stream_jsonl.py --filter oneeuro --fps 30

Each input line is one person in one frame: `{"frame": 12, "track_id": 3, "keypoints": [[x, y], ...],
"scores": [...]}` (`track_id` and `scores` optional; any other field is kept). A line is printed as soon as
its filter can report it: at once for One Euro (causal), `delay` frames later for the centred filters
(printed once at the start on stderr); the frames still held back are printed when the input ends. One
filter per track id, so several people can be interleaved in one stream. A person's lines are taken as
consecutive frames: a frame in which they were not detected is simply not there (no time passes for
their filter), so a stream with long gaps is better cut into tracks by the detector's tracker.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from posedenoise.errors import PoseDenoiseError
from posedenoise.stream import STREAMABLE, TrackStream


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filter", choices=STREAMABLE, default="oneeuro")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate (Hz)")
    parser.add_argument("--min-score", type=float, default=0.0, help="joints scored lower are missing")
    args = parser.parse_args()

    streams: dict[object, TrackStream] = {}
    pending: dict[object, dict[object, dict]] = {}  # track -> frame -> the input line, until it is ready

    def emit(track_id, ready_frames):
        for ready in ready_frames:
            line = pending[track_id].pop(ready.frame)
            line["keypoints"] = [[None if np.isnan(v) else float(v) for v in p] for p in ready.keypoints]
            print(json.dumps(line), flush=True)

    try:
        for number, text in enumerate(sys.stdin, start=1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                keypoints = np.array(line["keypoints"], dtype=np.float64)  # (K, 2)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                print(f"error: stdin line {number}: expected a JSON object with 'keypoints'", file=sys.stderr)
                return 1
            track_id = line.get("track_id")
            if track_id not in streams:
                streams[track_id] = TrackStream(
                    args.filter, args.fps, len(keypoints), min_score=args.min_score
                )
                pending[track_id] = {}
                if len(streams) == 1:
                    print(f"delay: {streams[track_id].delay} frame(s)", file=sys.stderr)
            frame = line.get("frame", number)
            pending[track_id][frame] = line
            emit(track_id, streams[track_id].push(keypoints, line.get("scores"), frame=frame))
        for track_id, stream in streams.items():
            emit(track_id, stream.flush())
    except PoseDenoiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
