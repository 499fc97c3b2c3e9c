"""Speed of the real-track model (`posetcn`) on one long track, against the Gaussian filter in the same run.

Measures, best of `--repeats` after a warm-up:
- the model alone (`tracktrain.predict_tracks`: features, network, corrections) on a (T, 25) track;
- `posedenoise denoise` end to end (read a COCO results file, split, model, write) with the shipped model,
  and with the Gaussian filter on the same file, so the ratio shows what the model costs over a filter.
Writes JSON (default `realtrack-results.json`). Run: `python benchmarks/realtrack.py [--frames 9000]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from posedenoise import fileio
from posedenoise.denoise import denoise_file
from posedenoise.models import create_model
from posedenoise.shipped import DEFAULT_TRACK_MODEL, shipped_path
from posedenoise.tracktrain import predict_tracks


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def walking_track(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 25, 2) pixels of a 400-pixel body drifting smoothly, with 4 px of jitter, and scores (T, 25)."""
    rng = np.random.default_rng(seed)
    template = rng.uniform(0, 1, size=(25, 2)) * np.array([160.0, 400.0])
    t = np.arange(frames)[:, None]
    drift = np.concatenate([300 + 200 * np.sin(t / 90), 200 + 40 * np.cos(t / 50)], axis=1)
    coords = template[None] + drift[:, None] + rng.normal(0, 4.0, (frames, 25, 2))
    return coords, rng.uniform(0.5, 1.0, (frames, 25))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=9000, help="frames of the track (5 min at 30 fps)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("realtrack-results.json"))
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)

    shipped = shipped_path(DEFAULT_TRACK_MODEL) is not None
    if shipped:
        from posedenoise.checkpoint import load_model

        model, _ = load_model(DEFAULT_TRACK_MODEL)
    else:  # same architecture, untrained: the same arithmetic
        model = create_model("posetcn").eval()
    coords, scores = walking_track(args.frames)
    present = np.ones(scores.shape, dtype=bool)
    model_s = best_of(lambda: predict_tracks(model, coords[None], present[None], scores[None]), args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "track.json"
        records = [
            {"image_id": i + 1, "category_id": 1, "score": 0.9,
             "keypoints": np.concatenate([coords[i], scores[i][:, None]], axis=1).ravel().tolist()}
            for i in range(args.frames)
        ]  # fmt: skip
        src.write_text(json.dumps({"layout": "layout25", "fps": 30.0, "results": records}))
        checkpoint = DEFAULT_TRACK_MODEL if shipped else None
        file_model_s = best_of(
            lambda: denoise_file(src, Path(tmp) / "m.json", checkpoint, model=None if shipped else model),
            args.repeats,
        )
        file_gauss_s = best_of(
            lambda: denoise_file(src, Path(tmp) / "g.json", filter="gaussian"), args.repeats
        )

    result = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
        },
        "model": DEFAULT_TRACK_MODEL if shipped else "posetcn (untrained, same arithmetic)",
        "frames": args.frames,
        "model_frames_per_s": args.frames / model_s,
        "denoise_file_model_frames_per_s": args.frames / file_model_s,
        "denoise_file_gaussian_frames_per_s": args.frames / file_gauss_s,
        "denoise_file_model_over_gaussian_time": file_model_s / file_gauss_s,
        "goal_at_least_5000_frames_per_s": args.frames / model_s >= 5000,
    }
    fileio.write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
