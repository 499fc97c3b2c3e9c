"""The shipped real-track model on the real MediaPipe sample, beside the Gaussian filter.

The sample has no ground truth, so it prints what can be checked without one:
- jitter (mean |second difference|, px/frame^2, over the 25 joints of the layout and frames inside a
  segment) of the raw track, the Gaussian filter's output and the model's;
- the whole-body left/right swap at frames 68-72: for each of those frames, whether the left shoulder,
  hip and wrist ended up on the side the neighbouring frames (67 and 73) put them;
- elsewhere, how far the model's joints lie from the Gaussian filter's (median and 95th percentile, px):
  a model that invents no motion stays within a few pixels of a smoothing.

    python examples/posetcn_real_sample.py [SAMPLE.json [MODEL]]

MODEL is a checkpoint or shipped name (default: the shipped real-track model).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from posedenoise.denoise import denoise_file
from posedenoise.layout import BLAZEPOSE33
from posedenoise.tracks import read_tracks

HERE = Path(__file__).resolve().parent
CANDIDATES = [HERE / "data" / "sports2d_demo_raw.json"]  # the real sample shipped with the examples
SWAP_FRAMES = range(68, 73)
LEFT_RIGHT = [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_wrist", "right_wrist")]


def sample_path(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    for path in CANDIDATES:
        if path.exists():
            return path
    raise SystemExit("no sample found; give the path of sports2d_demo_raw.json")


def swap_repaired(frames: np.ndarray, keypoints: np.ndarray) -> float:
    """Share of (frame 68-72, left/right pair) where the left joint is nearer the left joint's position
    interpolated between frames 67 and 73 than the right joint's."""
    row = {int(f): i for i, f in enumerate(frames)}
    good = total = 0
    for left, right in LEFT_RIGHT:
        li, ri = BLAZEPOSE33.index(left), BLAZEPOSE33.index(right)
        before, after = keypoints[row[67]], keypoints[row[73]]
        for f in SWAP_FRAMES:
            w = (f - 67) / 6
            expect_left = (1 - w) * before[li] + w * after[li]
            expect_right = (1 - w) * before[ri] + w * after[ri]
            kp = keypoints[row[f]]
            good += np.linalg.norm(kp[li] - expect_left) < np.linalg.norm(kp[li] - expect_right)
            total += 1
    return good / total


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    src = sample_path(argv[:1])
    checkpoint = argv[1] if len(argv) > 1 else None  # None: the shipped posetcn
    with tempfile.TemporaryDirectory() as tmp:
        model = denoise_file(src, Path(tmp) / "model.json", checkpoint)
        gauss = denoise_file(src, Path(tmp) / "gauss.json", filter="gaussian")
        raw = read_tracks(src).tracks[0]
        m = read_tracks(Path(tmp) / "model.json").tracks[0]
        g = read_tracks(Path(tmp) / "gauss.json").tracks[0]
    outside = ~np.isin(raw.frames, list(SWAP_FRAMES)) & (raw.frames < 172)  # the first segment
    joints = [i for i, n in enumerate(BLAZEPOSE33) if "eye" not in n and "mouth" not in n]
    seen = raw.scores[outside][:, joints] >= 0.3
    gap = np.linalg.norm(m.keypoints[outside][:, joints] - g.keypoints[outside][:, joints], axis=-1)[seen]
    figures = {
        "jitter_raw": model.jitter_before,
        "jitter_gaussian": gauss.jitter_after,
        "jitter_model": model.jitter_after,
        "swap_68_72_repaired_raw": swap_repaired(raw.frames, raw.keypoints),
        "swap_68_72_repaired_gaussian": swap_repaired(g.frames, g.keypoints),
        "swap_68_72_repaired_model": swap_repaired(m.frames, m.keypoints),
        "model_vs_gaussian_px_median": float(np.median(gap)),
        "model_vs_gaussian_px_p95": float(np.percentile(gap, 95)),
    }
    print(f"{src.name}: {model.method}")
    for key, value in figures.items():
        print(f"  {key}: {value:.3f}")
    return figures


if __name__ == "__main__":
    main()
