"""Speed and memory of posedenoise on this machine, written as JSON.

    python benchmarks/run.py [--quick] [--output benchmarks/results/latest.json] [--threads 2]

What it measures, each side by side with its reference in the same process:
- rendering: the maps of one training batch (16 windows x 5 frames x 25 joints, input and target) with
  `heatmaps.render` into the pipeline's reused buffers, against the per-map scipy loop;
- preparation: the full-scale synthetic source (`prepare.plan_sources(full_scale=True)`, about 1.7 M
  frames) through `prepare.prepare_dataset`; frames per second and bytes on disk per frame;
- training: full steps as `train.train_one_epoch` runs them (noise + rendering from `TrainWindows`,
  then `train.train_step`: forward, masked loss and backward per micro-batch, Adam) per model in fp32
  and bf16 autocast: windows per second, the step's FLOPs (`torch.utils.flop_counter`) per second over a
  dense matmul's in the same run, and the share of the step spent making the batch (noise + rendering);
- denoising: `denoise.denoise_track` over a synthetic track (every window at stride 1), frames per second;
- a crowd (`benchmarks/crowd.py`): `denoise --filter gaussian` on 20 people x 9,000 frames of COCO results
  against a minimal script that knows who is who, on a file 10x longer, and on a folder of 8 with `--jobs 2`;
- peak memory: a few training steps and an evaluation batch in a fresh subprocess holding the whole
  training and validation splits, as `train.fit` does (`benchmarks/rss_child.py`), at full scale and on
  a 300,000-frame preparation (how memory depends on the data).

Timings are the best of several repeats (the median is kept too): other processes may share the cores,
so the load average is recorded at the start and the end. `--quick` (under 5 minutes on 2 cores) takes
fewer repeats and measures memory on the 300,000-frame preparation only, and says so in the JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import crowd  # benchmarks/crowd.py, beside this file
import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch.utils.flop_counter import FlopCounterMode

from posedenoise import fileio
from posedenoise.dataset import PreparedDataset
from posedenoise.denoise import denoise_track
from posedenoise.models import create_model
from posedenoise.noise import SIGMA_OUT, Experiment, apply_noise, train_noise
from posedenoise.pipeline import HeatmapRenderer, TrainWindows
from posedenoise.prepare import plan_sources, prepare_dataset
from posedenoise.runtime import tune_cpu_allocator
from posedenoise.sources.synthetic import generate_synthetic
from posedenoise.train import _autocast, micro_batch_for, train_step

HERE = Path(__file__).resolve().parent
MODELS = ("conv3d", "deciwatch", "convlstm-s", "convlstm-c")
CONV_MODELS = ("conv3d", "convlstm-s", "convlstm-c")
PRECISIONS = ("fp32", "bf16")
BATCH = 16  # the chapter's batch size
SMALL_FRAMES = 300_000  # a second, smaller preparation: training speed, and memory against data size
CROWD_FULL = dict(people=20, frames=9000, scale=10, folder=8, jobs=2)  # 5 minutes at 30 fps, 96 MB
CROWD_QUICK = dict(people=20, frames=1500, scale=10, folder=8, jobs=2)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> dict:
    """Seconds per call of fn: best and median of `repeats` after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"best_s": min(times), "median_s": statistics.median(times), "repeats": repeats}


# ----------------------------------------------------------------------------- the machine


def machine() -> dict:
    info = {
        "cpu": platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        flags = set(fields.get("Flags", "").split())
        info.update(
            cpu=fields.get("Model name", info["cpu"]),
            cores_per_socket=int(fields.get("Core(s) per socket", 0)) or None,
            sockets=int(fields.get("Socket(s)", 0)) or None,
            avx512_bf16="avx512_bf16" in flags,
            amx_bf16="amx_bf16" in flags,
            hypervisor=fields.get("Hypervisor vendor"),
        )
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    return info


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n dense matmul (best of `repeats`)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    t = timed(lambda: torch.mm(a, b), repeats, warmup=2)["best_s"]
    return 2 * n**3 / t / 1e9


# ----------------------------------------------------------------------------- rendering


def scipy_batch(gt: np.ndarray, noisy: np.ndarray, present: np.ndarray, sigma_in: np.ndarray) -> np.ndarray:
    """The per-map reference: a delta at the rounded position, scipy's gaussian_filter, map by map."""
    size = 56
    out = np.zeros((2, *present.shape, size, size), dtype=np.float32)  # input, target
    for b, t, k in np.ndindex(present.shape):
        if not present[b, t, k]:
            continue
        for m, (coords, sigma) in enumerate(((noisy, sigma_in[b]), (gt, SIGMA_OUT))):
            delta = np.zeros((size, size))
            x, y = np.clip(np.round(coords[b, t, k]), 0, size - 1).astype(int)
            delta[y, x] = 255.0
            out[m, b, t, k] = gaussian_filter(delta, float(sigma), mode="nearest")
    return out


def bench_render(quick: bool) -> dict:
    """One training batch of maps: renderer (reused buffers) vs the scipy loop, alternated."""
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(BATCH, 5, 25, 2, generator=g) * 55
    present = torch.rand(BATCH, 5, 25, generator=g) > 0.1
    noisy, sigma_in = apply_noise(gt, train_noise(g, BATCH), Experiment(1, 1))
    renderer = HeatmapRenderer("cpu")
    x, target = renderer(gt, present, noisy, sigma_in)
    reference = scipy_batch(gt.numpy(), noisy.numpy(), present.numpy(), sigma_in.numpy())
    error = max(
        float(np.abs(x.numpy() - reference[0]).max()), float(np.abs(target.numpy() - reference[1]).max())
    )
    rounds = 2 if quick else 4
    ours, fresh, scipy = [], [], []
    for _ in range(rounds):  # alternate, so that both see the same load
        ours.append(timed(lambda: renderer(gt, present, noisy, sigma_in), 20 if quick else 50))
        fresh.append(timed(lambda: renderer(gt, present, noisy, sigma_in, reuse=False), 10))
        scipy.append(
            timed(lambda: scipy_batch(gt.numpy(), noisy.numpy(), present.numpy(), sigma_in.numpy()), 1)
        )
    best = lambda runs: min(r["best_s"] for r in runs)  # noqa: E731
    median = lambda runs: statistics.median(r["median_s"] for r in runs)  # noqa: E731
    return {
        "maps": int(2 * present.numel()),
        "maps_drawn": int(2 * present.sum()),
        "render_ms": 1e3 * best(ours),
        "render_median_ms": 1e3 * median(ours),
        "render_fresh_buffers_ms": 1e3 * best(fresh),
        "scipy_loop_ms": 1e3 * best(scipy),
        "speedup_vs_scipy": best(scipy) / best(ours),
        "speedup_vs_scipy_median": median(scipy) / median(ours),
        "max_abs_difference": error,
    }


# ----------------------------------------------------------------------------- preparation


def bench_prepare(out: Path, total_frames: int | None) -> dict:
    """Generate the synthetic source and prepare it, timed end to end (generation included).

    total_frames None: the full-scale source of `posedenoise prepare --full-scale`."""
    t0 = time.perf_counter()
    if total_frames is None:
        plan = plan_sources(full_scale=True, seed=0)
        tracks, names = plan.tracks, plan.names
    else:
        tracks, names = generate_synthetic(seed=0, total_frames=total_frames), ["synthetic"]
    summary = prepare_dataset(tracks, out, seed=0, sources=names)
    seconds = time.perf_counter() - t0
    return {
        "frames": summary.frames,
        "videos": summary.videos,
        "windows_step1": sum(summary.windows["step1"].values()),
        "full_scale": total_frames is None,
        "seconds": seconds,
        "frames_per_s": summary.frames / seconds,
        "bytes_on_disk": summary.bytes_on_disk,
        "bytes_per_frame": summary.bytes_on_disk / summary.frames,
    }


# ----------------------------------------------------------------------------- training steps


class TrainSteps:
    """Training steps of one model and precision exactly as train_one_epoch runs them (batch from
    TrainWindows, then train.train_step: forward under autocast, masked loss and backward per micro-batch,
    Adam), the batch making timed apart."""

    def __init__(self, ds: PreparedDataset, name: str, precision: str, count_flops: bool):
        torch.manual_seed(0)
        self.model = create_model(name).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.precision = precision
        self.micro_batch = micro_batch_for(self.model, BATCH, torch.device("cpu"))  # as train.fit on CPU
        windows = TrainWindows(ds, Experiment(1, 1), seed=0, batch_size=BATCH, limit=64 * BATCH)
        self.batches = itertools.chain.from_iterable(windows.epoch(e) for e in itertools.count(1))
        self.times: list[tuple[float, float, float]] = []  # (pipeline s, step s, 1-min load)
        self.flops = None
        if count_flops:  # the warm-up step, counted
            counter = FlopCounterMode(display=False)
            with counter:
                self._step()
            self.flops = counter.get_total_flops()
        else:
            self._step()

    def _step(self) -> tuple[float, float]:
        t0 = time.perf_counter()
        batch = next(self.batches)  # noise + rendering
        t1 = time.perf_counter()
        train_step(self.model, self.optimizer, batch, self.precision, self.micro_batch)
        return t1 - t0, time.perf_counter() - t0

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.times.append((*self._step(), os.getloadavg()[0]))

    def result(self) -> dict:
        pipeline, total, load = min(self.times, key=lambda t: t[1])
        result = {
            "steps": len(self.times),
            "micro_batch": self.micro_batch,
            "step_s": total,
            "step_median_s": statistics.median(t[1] for t in self.times),
            "pipeline_s": pipeline,
            "pipeline_fraction": pipeline / total,
            "windows_per_s": BATCH / total,
            "load_average_1min": load,
        }
        if self.flops is not None:
            result["gflop_per_step"] = self.flops / 1e9
            result["gflops"] = self.flops / 1e9 / total
        return result


def bench_train(
    ds: PreparedDataset, rounds: int, quick: bool, between_rounds: Callable[[], None] = lambda: None
) -> dict:
    """Every model and precision, in `rounds` interleaved rounds: a burst of load from another process
    then spoils one round of every configuration rather than all the repeats of one. Best step kept."""
    benches = {}
    for name in MODELS:
        for precision in PRECISIONS:
            log(f"training steps: {name} {precision} (warm-up)")
            benches[name, precision] = TrainSteps(ds, name, precision, count_flops=precision == "fp32")
    for r in range(rounds):
        log(f"training steps: round {r + 1} of {rounds}")
        for (name, _), bench in benches.items():
            bench.run(1 if name.startswith("convlstm") else (3 if quick else 8))
        between_rounds()
    train: dict = {}
    for (name, precision), bench in benches.items():
        train.setdefault(name, {})[precision] = bench.result()
    return train


# ----------------------------------------------------------------------------- denoising


def bench_denoise(rounds: int, quick: bool) -> dict:
    """denoise_track (every window, stride 1) over one synthetic video, each model and precision,
    in interleaved rounds; frames per second of the best round."""
    track = next(iter(generate_synthetic(videos=1, seed=1)))
    runs = {}
    for name in MODELS:
        frames = 300 if name == "conv3d" else 200 if name == "deciwatch" else (12 if quick else 40)
        reps = -(-frames // len(track.coords))
        coords = np.concatenate([track.coords] * reps)[:frames]
        present = np.concatenate([track.present] * reps)[:frames]
        torch.manual_seed(0)
        model = create_model(name).eval()
        for precision in PRECISIONS:
            runs[name, precision] = (model, coords, present, [])
    for r in range(rounds):
        log(f"denoise: round {r + 1} of {rounds}")
        for (_, precision), (model, coords, present, times) in runs.items():
            t0 = time.perf_counter()
            with _autocast(torch.device("cpu"), precision):
                denoise_track(coords, present, model, step=1, stride=1)
            times.append(time.perf_counter() - t0)
    denoise: dict = {}
    for (name, precision), (_, coords, _, times) in runs.items():
        best = min(times[1:]) if len(times) > 1 else times[0]  # the first round warms up
        denoise.setdefault(name, {})[precision] = {
            "frames": len(coords), "seconds": best, "frames_per_s": len(coords) / best,
        }  # fmt: skip
    return denoise


# ----------------------------------------------------------------------------- peak memory


def bench_rss(
    data: Path, name: str, precision: str, steps: int, threads: int, tune: bool = True, micro_batch: int = 0
) -> dict:
    """Peak resident memory of training on `data`, in a fresh process (benchmarks/rss_child.py);
    micro_batch 0: as train.fit chooses."""
    cmd = [
        sys.executable, str(HERE / "rss_child.py"), "--data", str(data), "--model", name,
        "--precision", precision, "--steps", str(steps), "--threads", str(threads),
        "--micro-batch", str(micro_batch),
    ] + ([] if tune else ["--no-tune"])  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rss_child failed for {name}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main


def goals(r: dict) -> dict:
    """Issue 6's goals for this machine, each with the figure it was judged on."""
    amx = bool(r["machine"].get("amx_bf16"))
    conv = {n: r["train_gflops_fraction_of_matmul"][n] for n in CONV_MODELS}
    bf16 = {n: r["train_bf16_speedup"][n] for n in CONV_MODELS}
    rss = r["train_peak_rss_mb"]
    return {
        "render_at_least_100x_scipy": r["render_speedup_vs_scipy"] >= 100,
        "full_scale_prepare_under_2_min": r["prepare"]["seconds"] < 120,
        "prepared_folder_under_500_mb": r["prepare"]["bytes_on_disk"] < 500e6,
        "pipeline_at_most_10pct_of_step": max(r["pipeline_fraction_of_step"].values()) <= 0.10,
        "conv_models_at_least_50pct_of_matmul_fp32": {n: f >= 0.5 for n, f in conv.items()},
        "bf16_at_least_2x_fp32": {n: s >= 2 for n, s in bf16.items()} if amx else "not applicable: no AMX",
        "denoise_conv3d_at_least_100_fps": r["denoise_frames_per_s"]["conv3d"] >= 100,
        "crowd": r["crowd"]["goals"] if "crowd" in r else "not measured",
        "train_peak_rss_at_most_2gb": {n: mb <= 2048 for n, mb in rss.items()}
        if r["train_peak_rss_data"]["full_scale"]
        else "not judged: --quick measures memory below full scale",
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 5 minutes on 2 cores")
    parser.add_argument("--output", default=str(HERE / "results" / "latest.json"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--workdir", default=None, help="where to prepare data (default: a temp folder)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    quick = args.quick
    results: dict = {
        "command": "python benchmarks/run.py" + (" --quick" if quick else ""),
        "quick": quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        # what fit() does before training on the CPU, so that the steps below are fit()'s steps
        "allocator_tuned": tune_cpu_allocator(),
        "flush_denormal": torch.set_flush_denormal(True),
    }
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="posedenoise-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    full, small = workdir / "full-scale", workdir / "small"
    try:
        log("dense matmul")
        matmul = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}

        log("rendering vs the scipy loop")
        results["render"] = bench_render(quick)
        results["render_speedup_vs_scipy"] = results["render"]["speedup_vs_scipy"]

        log("preparation, full scale")
        results["prepare"] = bench_prepare(full, None)
        results["prepare_frames_per_s"] = results["prepare"]["frames_per_s"]
        results["prepared_bytes_per_frame"] = results["prepare"]["bytes_per_frame"]
        log(f"preparation, {SMALL_FRAMES:,} frames (memory at a smaller scale)")
        results["prepare_small"] = bench_prepare(small, SMALL_FRAMES)

        ds = PreparedDataset.load(small)  # speed does not depend on the size; loads faster

        def measure_matmul() -> None:
            # the reference again after every round, keeping its best: a burst of load that the best
            # model step escaped should not lower the reference
            for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                matmul[precision] = max(matmul[precision], matmul_gflops(dtype))

        train = bench_train(ds, rounds=2 if quick else 4, quick=quick, between_rounds=measure_matmul)
        del ds
        results["matmul_gflops"] = matmul
        results["train"] = train
        results["train_windows_per_s"] = {
            n: {p: train[n][p]["windows_per_s"] for p in PRECISIONS} for n in MODELS
        }
        results["train_gflops_fraction_of_matmul"] = {
            n: train[n]["fp32"]["gflops"] / matmul["fp32"] for n in MODELS
        }
        results["train_bf16_gflops_fraction_of_bf16_matmul"] = {
            n: train[n]["fp32"]["gflop_per_step"] / train[n]["bf16"]["step_s"] / matmul["bf16"]
            for n in MODELS
        }
        results["train_bf16_speedup"] = {
            n: train[n]["fp32"]["step_s"] / train[n]["bf16"]["step_s"] for n in MODELS
        }
        results["pipeline_fraction_of_step"] = {n: train[n]["fp32"]["pipeline_fraction"] for n in MODELS}

        denoise = bench_denoise(rounds=2 if quick else 3, quick=quick)
        results["denoise"] = denoise
        results["denoise_frames_per_s"] = {n: denoise[n]["fp32"]["frames_per_s"] for n in MODELS}

        # a crowd's results file against the minimal script, a 10x longer file, a folder with --jobs 2
        log("denoise on a crowd (benchmarks/crowd.py)")
        results["crowd"] = crowd.bench(**(CROWD_QUICK if quick else CROWD_FULL))

        # peak memory, each in a fresh process: --quick on the small preparation only
        scales = {"small": small} if quick else {"full": full, "small": small}
        rss: dict = {}
        for scale, data in scales.items():
            for name in MODELS:
                log(f"peak memory: {name} ({scale})")
                rss.setdefault(scale, {})[name] = bench_rss(
                    data, name, "fp32", 1 if quick else 2, args.threads
                )
        if not quick:
            log("peak memory: convlstm-s without the allocator setting (full)")
            rss["full_allocator_untuned"] = {
                "convlstm-s": bench_rss(full, "convlstm-s", "fp32", 2, args.threads, tune=False)
            }
            log("peak memory: the bi-ConvLSTMs without micro-batches (full)")
            rss["full_whole_batch"] = {
                n: bench_rss(full, n, "fp32", 2, args.threads, micro_batch=BATCH)
                for n in ("convlstm-s", "convlstm-c")
            }
            log("peak memory: the bi-ConvLSTMs in bf16 (full)")
            rss["full_bf16"] = {
                n: bench_rss(full, n, "bf16", 2, args.threads) for n in ("convlstm-s", "convlstm-c")
            }
        results["rss"] = rss
        headline = rss["small" if quick else "full"]
        results["train_peak_rss_mb"] = {n: headline[n]["peak_rss_mb"] for n in MODELS}
        frames = headline[MODELS[0]]["frames"]
        results["train_peak_rss_data"] = {
            "frames": frames,
            "full_scale": not quick,
            "note": "full-scale synthetic data (the whole training and validation splits held)"
            if not quick
            else f"--quick: a {frames:,}-frame preparation, not full scale",
        }
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        results["goals"] = goals(results)
    results["load_average_end"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - started

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_text(out, json.dumps(results, indent=2) + "\n")
    log(f"wrote {out} in {results['seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main()
