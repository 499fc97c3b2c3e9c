"""Long tracks smoothed a piece at a time: the same written file and summary as the whole track."""

import dataclasses
import json

import numpy as np
import pytest

from posedenoise import longtracks
from posedenoise.denoise import denoise_file
from posedenoise.longtracks import _NO_LEFT, _NO_RIGHT, fill_gaps_between
from posedenoise.smoothers import fill_gaps
from test_tracks import person


def awkward_tracks(tmp_path):
    """Two people with track ids over 400 frames, records in no particular order, with what the pieces
    must carry across their edges: frames without a detection (short gaps and one long enough to split
    the track), a jump to split at, a joint unseen for 150 frames, a joint never seen, a segment of one
    frame (too short to smooth), and low scores here and there."""
    rng = np.random.default_rng(3)
    frames = 400
    records = []
    for p in range(2):
        kp = person(frames, x0=100 + 600 * p, seed=p) + rng.normal(0, 2.0, size=(frames, 17, 2))
        scores = rng.uniform(0.2, 1.0, size=(frames, 17))
        kp[250:] += [900.0, 300.0]  # the tracker switched to someone far away: a jump
        scores[40:190, 9] = 0.1  # a wrist unseen for 150 frames (filled between its detections)
        scores[:, 3] = 0.0  # an ear never seen
        kept = np.ones(frames, dtype=bool)
        kept[[20, 21, 22, 77, 130, 131]] = False  # short gaps
        kept[300:320] = kept[321:340] = False  # gaps long enough to split (max_gap 10) around frame 320:
        # a segment of one frame, too short to smooth
        for t in np.flatnonzero(kept):
            triplets = np.concatenate([kp[t], scores[t][:, None]], axis=1).ravel().tolist()
            records.append({"image_id": int(t), "track_id": f"p{p}", "keypoints": triplets, "note": int(t)})
    order = rng.permutation(len(records))
    path = tmp_path / "long.json"
    path.write_text(json.dumps([records[i] for i in order]))
    return path


def denoised(src, out, piece, **options):
    """denoise_file with pieces of `piece` frames (None: every track whole)."""
    saved = longtracks.PIECE, longtracks.LONG
    try:
        if piece is None:
            longtracks.LONG = 10**12
        else:
            longtracks.PIECE, longtracks.LONG = piece, piece // 2
        return denoise_file(src, out, **options)
    finally:
        longtracks.PIECE, longtracks.LONG = saved


@pytest.mark.parametrize(
    "options",
    [
        {"filter": "gaussian"},
        {"filter": "gaussian", "fill_missing": False, "filter_params": {"sigma_s": 0.2}},
        {"filter": "savgol"},
        {"filter": "savgol", "filter_params": {"window_s": 0.2, "polyorder": 3}, "min_score": 0.5},
    ],
)
def test_pieces_write_what_the_whole_track_writes(tmp_path, options):
    src = awkward_tracks(tmp_path)
    whole = denoised(src, tmp_path / "whole.json", None, **options)
    assert whole.splits and whole.short_segments and whole.filled_joints | (not whole.fill_missing)
    for piece in (8, 37, 150):
        out = tmp_path / f"pieces{piece}.json"
        pieces = denoised(src, out, piece, **options)
        assert out.read_bytes() == (tmp_path / "whole.json").read_bytes()
        a, b = dataclasses.asdict(whole), dataclasses.asdict(pieces)
        for key in ("jitter_before", "jitter_after"):  # the same terms, summed in another order
            assert b.pop(key) == pytest.approx(a.pop(key), rel=1e-12)
            b["settings"].pop(key), a["settings"].pop(key)
        a.pop("output"), b.pop("output")
        assert a == b


def test_a_filter_reading_the_whole_track_takes_it_whole(tmp_path):
    # Butterworth's filtfilt reads the whole track: no pieces, whatever the track's length
    assert not longtracks.can_run_in_pieces("butterworth", {"cutoff": 6.0, "order": 4}, 30.0)
    src = awkward_tracks(tmp_path)
    whole = denoised(src, tmp_path / "whole.json", None, filter="butterworth")
    pieces = denoised(src, tmp_path / "pieces.json", 8, filter="butterworth")
    assert (tmp_path / "whole.json").read_bytes() == (tmp_path / "pieces.json").read_bytes()
    assert whole.jitter_after == pieces.jitter_after


def test_gaps_filled_between_anchors_are_those_of_the_whole_series():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4, 2))
    gone = rng.uniform(size=(60, 4)) < 0.6
    gone[:, 3] = True  # a series with nothing in it
    gone[:25, 1] = gone[45:, 2] = True  # nothing before / after the part for some series
    x[gone] = np.nan
    whole = fill_gaps(x)
    lo, hi = 20, 40
    left_pos, right_pos = np.full(4, _NO_LEFT), np.full(4, _NO_RIGHT)
    left_val, right_val = np.full((4, 2), np.nan), np.full((4, 2), np.nan)
    for j in range(4):
        before, after = np.flatnonzero(~gone[:lo, j]), np.flatnonzero(~gone[hi:, j]) + hi
        if len(before):
            left_pos[j], left_val[j] = before[-1] - lo, x[before[-1], j]
        if len(after):
            right_pos[j], right_val[j] = after[0] - lo, x[after[0], j]
    part, between = fill_gaps_between(x[lo:hi], (left_pos, left_val), (right_pos, right_val))
    np.testing.assert_array_equal(part, whole[lo:hi])  # to the last bit, NaN where the whole is NaN
    seen = ~gone
    first = np.where(seen.any(axis=0), seen.argmax(axis=0), 99)
    last = np.where(seen.any(axis=0), 59 - seen[::-1].argmax(axis=0), -1)
    expected = (np.arange(lo, hi)[:, None] >= first) & (np.arange(lo, hi)[:, None] <= last)
    np.testing.assert_array_equal(between, expected)
