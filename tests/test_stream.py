"""Streaming: per-track objects return ready frames after their stated delay, equal to the offline output."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posedenoise import filters
from posedenoise.errors import PoseDenoiseError
from posedenoise.stream import TrackStream

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stream_jsonl.py"


def noisy_track(t=90, k=5, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    time = np.arange(t) / fps
    clean = np.stack([200 + 80 * np.sin(2 * np.pi * 0.6 * time), 100 + 40 * time], axis=-1)[:, None]
    clean = clean + rng.uniform(0, 100, size=(1, k, 2))
    return clean + rng.normal(0, 3.0, size=clean.shape)  # (T, K, 2)


def stream_all(stream, track):
    out, when = [], []
    for t, frame in enumerate(track):
        for ready in stream.push(frame):
            out.append(ready)
            when.append(t)
    for ready in stream.flush():
        out.append(ready)
        when.append(len(track))
    return out, when


@pytest.mark.parametrize(
    "name, params, fps, delay",
    [
        ("oneeuro", {}, 30.0, 0),
        ("oneeuro", {"min_cutoff": 0.5, "beta": 0.2}, 60.0, 0),
        ("savgol", {}, 30.0, 6),
        ("savgol", {"window_s": 0.2, "polyorder": 3}, 60.0, 6),
        ("gaussian", {}, 30.0, 6),
    ],
)
def test_streamed_equals_offline_after_the_stated_delay(name, params, fps, delay):
    track = noisy_track(fps=fps)
    stream = TrackStream(name, fps, track.shape[1], **params)
    assert stream.delay == delay
    ready, when = stream_all(stream, track)
    assert [r.frame for r in ready] == list(range(len(track)))  # every frame once, in order
    # frame t is returned when frame t + delay arrives (the first ones with the first full window)
    assert all(w <= max(r.frame + delay, 2 * delay) for r, w in zip(ready, when, strict=True))
    streamed = np.stack([r.keypoints for r in ready])
    offline = filters.run_filter(name, track, fps, **params)
    if name == "oneeuro":
        np.testing.assert_array_equal(streamed, offline)  # causal: the very same arithmetic
    else:
        np.testing.assert_allclose(streamed, offline, rtol=0, atol=1e-9)


def test_missing_joints_and_short_tracks_and_refusals():
    track = noisy_track(t=20, k=3)
    scores = np.ones(track.shape[:2])
    scores[5:8, 1] = 0.1
    stream = TrackStream("oneeuro", 30.0, 3, min_score=0.3)
    out = [stream.push(track[t], scores[t], frame=100 + t)[0] for t in range(20)]
    assert [o.frame for o in out] == list(range(100, 120))
    assert np.isnan(out[6].keypoints[1]).all() and np.isfinite(out[6].keypoints[0]).all()
    assert np.isfinite(out[8].keypoints[1]).all()  # picked up again where it was left
    short = TrackStream("savgol", 30.0, 3)
    assert sum(len(short.push(f)) for f in track[:5]) == 0
    np.testing.assert_allclose(
        np.stack([r.keypoints for r in short.flush()]), filters.run_filter("savgol", track[:5], 30.0)
    )
    for name, params in (("butterworth", {}), ("kalman", {}), ("oneeuro", {"zero_phase": True})):
        with pytest.raises(PoseDenoiseError, match="cannot stream"):
            TrackStream(name, 30.0, 3, **params)


def test_example_reads_json_lines_and_prints_smoothed_ones():
    track = noisy_track(t=40, k=4)
    other = noisy_track(t=40, k=4, seed=1)
    lines = []
    for t in range(40):
        for tid, tr in (("a", track), ("b", other)):
            lines.append(
                json.dumps({"frame": t, "track_id": tid, "keypoints": tr[t].tolist(), "scores": [0.9] * 4})
            )
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--filter", "savgol", "--fps", "30"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 80 and {o["track_id"] for o in out} == {"a", "b"}
    a = np.array([o["keypoints"] for o in out if o["track_id"] == "a"])
    assert [o["frame"] for o in out if o["track_id"] == "a"] == list(range(40))
    np.testing.assert_allclose(a, filters.run_filter("savgol", track, 30.0), atol=1e-6)
    assert all(o["scores"] == [0.9] * 4 for o in out)  # other fields kept
