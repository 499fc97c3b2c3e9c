"""Foundation benchmark (issue 2): heatmap rendering vs the per-map scipy loop, and a full-scale
synthetic preparation. Writes JSON.

    python benchmarks/foundation.py [--quick] [--output benchmarks/results/foundation.json]

Rendering: the maps of one training batch (16 windows x 5 frames x 25 joints, input and target = 4000
maps), `posedenoise.heatmaps.render` into reused buffers vs `scipy.ndimage.gaussian_filter` per map, in
the same process. Preparation: the chapter's scale (1,725,600 frames) of synthetic people through
`posedenoise prepare`'s library call, timed end to end, with the folder's size on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from posedenoise.heatmaps import render
from posedenoise.prepare import plan_sources, prepare_dataset


def bench_render(repeats: int = 20) -> dict:
    g = torch.Generator().manual_seed(0)
    b, t, k = 16, 5, 25
    coords = torch.rand((b, t, k, 2), generator=g) * 55
    present = torch.rand((b, t, k), generator=g) > 0.3
    sigma_in = torch.tensor([1.0, 1.5, 2.0, 2.5, 3.0])[torch.randint(0, 5, (b, 1), generator=g)]
    x_buf, t_buf = torch.empty(b, t, k, 56, 56), torch.empty(b, t, k, 56, 56)

    def ours():
        render(coords, present, sigma_in, out=x_buf)
        render(coords, present, 1.0, out=t_buf)

    def scipy_loop():
        c, s = coords.numpy(), sigma_in.numpy()
        for i in range(b):
            for f in range(t):
                for j in range(k):
                    for sigma in (float(s[i, 0]), 1.0):
                        delta = np.zeros((56, 56), dtype=np.float32)
                        if present[i, f, j]:
                            delta[int(round(c[i, f, j, 1])), int(round(c[i, f, j, 0]))] = 255.0
                        gaussian_filter(delta, sigma, mode="nearest")

    ours()
    times_ours, times_scipy = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours()
        times_ours.append(time.perf_counter() - t0)
    for _ in range(max(3, repeats // 5)):
        t0 = time.perf_counter()
        scipy_loop()
        times_scipy.append(time.perf_counter() - t0)
    ours_s, scipy_s = statistics.median(times_ours), statistics.median(times_scipy)
    return {
        "render_batch_maps": 2 * b * t * k,
        "render_ms": 1e3 * ours_s,
        "scipy_loop_ms": 1e3 * scipy_s,
        "render_speedup_vs_scipy": scipy_s / ours_s,
    }


def bench_prepare(frames: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if frames is None:
            plan = plan_sources(full_scale=True)
        else:
            from posedenoise.sources.synthetic import generate_synthetic

            plan = plan_sources(synthetic=True)
            plan.tracks = generate_synthetic(total_frames=frames)
        summary = prepare_dataset(plan.tracks, Path(tmp) / "prepared", sources=plan.names)
        seconds = time.perf_counter() - t0
    return {
        "prepare_full_scale": frames is None,
        "prepare_frames": summary.frames,
        "prepare_windows_step1": sum(summary.windows["step1"].values()),
        "prepare_seconds": seconds,
        "prepare_frames_per_s": summary.frames / seconds,
        "prepared_bytes": summary.bytes_on_disk,
        "prepared_bytes_per_frame": summary.bytes_on_disk / summary.frames,
        "torso_mean_px": summary.torso_mean_px,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="prepare 100,000 frames instead of the full scale"
    )
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/foundation.json"))
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "loadavg_before": os.getloadavg(),
        },
        **bench_render(),
        **bench_prepare(100_000 if args.quick else None),
    }
    result["machine"]["loadavg_after"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
