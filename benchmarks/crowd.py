"""`denoise` on a crowd: a long multi-person COCO results file, and a folder of them, vs a minimal script.

    python benchmarks/crowd.py [--people 20] [--frames 9000] [--output benchmarks/results/crowd.json]
    python benchmarks/crowd.py generate OUT.json [--people 20] [--frames 9000] [--seed 0]
    python benchmarks/crowd.py minimal IN.json OUT.json --people 20   (the reference, alone)

The crowd: `--people` walkers over `--frames` frames of a 1920 x 1080 video, each in their own lane but
with lanes closer than a body's height, walking back and forth at different speeds, so that their boxes
overlap whenever two cross; COCO-17 keypoints with detector jitter (3 px) and random scores, rounded as
detectors write them (2 decimals). No track ids: `denoise` has to follow people by box overlap.
20 people x 9,000 frames (5 minutes at 30 fps) is about 96 MB of JSON.

The minimal script already knows who is who (the records are written frame by frame, people in the same
order, nobody ever missing): `json.load`, one `gaussian_filter1d` over the (T, P, 17, 2) array, the
keypoints put back, `json.dump`. Both smooth alike: the sigma is `denoise`'s default (`sigma_s` 0.05 s,
1.5 frames at the 30 fps it assumes), scipy's kernel radius of 4 sigma, `nearest` edges; the JSON
says so under "smoothing". It is what `denoise --filter gaussian` does for such a file without the
reading, following, splitting and checking that real files need.

Measured, each in a fresh process (wall time, CPU time and the peak resident memory of the process
tree's largest process, from the rusage of a small wrapper): the minimal script; `denoise_file`
called from Python (the command's work without its start-up imports); `posedenoise denoise` on the
crowd file, on a file `--scale` (10) times longer, and on a folder of 8 crowd files one by one and
with `--jobs 2`. The ratios are written to the JSON with the load average before and after (the
cores may be shared: then the ratio of CPU times, `cpu_ratio`, is the steadier comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FPS = 30.0  # the crowd file states no frame rate: `denoise` assumes 30 fps (and says so)
WIDTH, HEIGHT = 1920, 1080
BODY = 160.0  # px, head to ankles
LANE_GAP = 45.0  # px between lanes: less than a body's height, so crossing walkers' boxes overlap

# A standing COCO-17 body, (17, 2) in body heights, origin at the feet, y down.
_TEMPLATE = np.array(
    [
        [0.00, -0.95], [-0.03, -0.97], [0.03, -0.97], [-0.06, -0.95], [0.06, -0.95],  # nose, eyes, ears
        [-0.12, -0.80], [0.12, -0.80], [-0.16, -0.60], [0.16, -0.60], [-0.17, -0.42], [0.17, -0.42],
        [-0.08, -0.48], [0.08, -0.48], [-0.09, -0.25], [0.09, -0.25], [-0.09, 0.0], [0.09, 0.0],
    ]
)  # fmt: skip


def crowd_keypoints(people: int, frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """(len(frames), people, 17, 3) x, y, score of the crowd at the given frame numbers.

    Deterministic for a seed and independent of how the frames are cut into chunks (the noise of a
    frame is drawn from a generator seeded with (seed, frame)), so a long file is written chunk by chunk.
    """
    params = np.random.default_rng(seed)
    speed = params.uniform(1.0, 4.0, people) * params.choice([-1, 1], people)  # px per frame
    start = params.uniform(0, WIDTH - 200, people)
    lane = 200 + LANE_GAP * np.arange(people) % (HEIGHT - 300)
    scale = params.uniform(0.8, 1.2, people)
    phase = params.uniform(0, 2 * np.pi, people)
    t = np.asarray(frames, dtype=np.float64)[:, None]  # (T, 1)
    span = WIDTH - 200
    travel = np.mod(start + speed * t, 2 * span)  # back and forth between the edges
    x = 100 + np.where(travel < span, travel, 2 * span - travel)  # (T, P)
    y = lane + 8 * np.sin(t / 5 + phase)  # (T, P) bobbing
    body = _TEMPLATE[None, None] * (BODY * scale)[None, :, None, None]  # (1, P, 17, 2)
    swing = np.zeros((len(t), people, 17, 2))
    swing[..., 9:11, 0] = 0.1 * BODY * np.sin(t / 4 + phase)[..., None]  # wrists
    swing[..., 15:17, 0] = 0.12 * BODY * np.sin(t / 4 + phase + np.pi)[..., None]  # ankles
    xy = body + swing + np.stack([x, y], axis=-1)[:, :, None, :]
    out = np.empty((len(t), people, 17, 3))
    for i, f in enumerate(np.asarray(frames)):
        noise = np.random.default_rng([seed, int(f)])
        out[i, ..., :2] = xy[i] + noise.normal(0, 3.0, size=(people, 17, 2))
        out[i, ..., 2] = noise.uniform(0.2, 1.0, size=(people, 17))
    return out


def write_crowd(path: str | Path, people: int, frames: int, seed: int = 0, chunk: int = 500) -> int:
    """Write the crowd as one-line COCO keypoint results, chunk by chunk; returns the file's bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("[")
        first = True
        for lo in range(0, frames, chunk):
            kp = crowd_keypoints(people, np.arange(lo, min(frames, lo + chunk)), seed)
            kp[..., :2] = np.round(kp[..., :2], 2)
            kp[..., 2] = np.round(kp[..., 2], 3)
            parts = []
            for i in range(len(kp)):
                for p in range(people):
                    lo_xy, hi_xy = kp[i, p, :, :2].min(axis=0), kp[i, p, :, :2].max(axis=0)
                    box = np.round(np.concatenate([lo_xy - 10, hi_xy - lo_xy + 20]), 2)
                    record = {
                        "image_id": lo + i,
                        "category_id": 1,
                        "keypoints": kp[i, p].ravel().tolist(),
                        "score": round(float(kp[i, p, :, 2].mean()), 3),
                        "bbox": box.tolist(),
                    }
                    parts.append(json.dumps(record))
            f.write(("" if first else ", ") + ", ".join(parts))
            first = False
        f.write("]\n")
    return path.stat().st_size


def default_sigma_frames() -> float:
    """`denoise --filter gaussian`'s default sigma, in frames at the frame rate it assumes for the crowd."""
    from posedenoise.filters import defaults

    return defaults("gaussian")["sigma_s"] * FPS


def minimal(src: str | Path, dst: str | Path, people: int, sigma: float) -> None:
    """The reference: knows who is who (frame-major records, people in a fixed order); sigma in frames."""
    from scipy.ndimage import gaussian_filter1d

    with open(src) as f:
        doc = json.load(f)
    kp = np.array([r["keypoints"] for r in doc], dtype=np.float64).reshape(-1, people, 17, 3)
    kp[..., :2] = gaussian_filter1d(kp[..., :2], sigma, axis=0, mode="nearest", truncate=4.0)
    for record, values in zip(doc, kp.reshape(len(doc), -1), strict=True):
        record["keypoints"] = values.tolist()
    with open(dst, "w") as f:
        json.dump(doc, f)


# ----------------------------------------------------------------------------- measuring


def measured(cmd: list[str]) -> dict:
    """Wall seconds, CPU seconds (user + system, all its processes) and peak resident memory (MB) of `cmd`,
    run by a small fresh wrapper process. On shared cores the wall time waits for other jobs; the CPU
    time much less so, which is why both are kept.

    The wrapper's RUSAGE_CHILDREN ru_maxrss is the largest peak among the processes it waited for
    (directly or through their parents: `--jobs` workers included), and the wrapper is small, so its own
    memory carried across fork/exec does not count."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "s = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': rc, 'seconds': s, 'cpu_seconds': u.ru_utime + u.ru_stime,\n"
        "    'peak_rss_mb': u.ru_maxrss / 1024}))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {result['rc']}:\n{done.stderr[-2000:]}")
    return result


def posedenoise(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("posedenoise")), *args]


def log(message: str) -> None:
    print(f"[crowd {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench(
    people: int = 20, frames: int = 9000, scale: int = 10, folder: int = 8, jobs: int = 2, workdir=None
) -> dict:
    """Every measurement of this module (see the module docstring); returns the figures and ratios."""
    work = Path(workdir or tempfile.mkdtemp(prefix="posedenoise-crowd-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"people": people, "frames": frames, "load_average_start": os.getloadavg()}
    sigma = default_sigma_frames()
    result["smoothing"] = {
        "both": "gaussian_filter1d over time with the same sigma, truncate 4, nearest edges",
        "sigma_s": sigma / FPS,
        "fps": FPS,
        "sigma_frames": sigma,
        "radius_frames": int(4.0 * sigma + 0.5),
    }
    try:
        crowd = work / "crowd.json"
        log(f"writing the crowd: {people} people x {frames} frames")
        result["bytes"] = write_crowd(crowd, people, frames)
        me = [sys.executable, str(Path(__file__).resolve())]
        log("minimal script")
        result["minimal"] = measured(
            [
                *me,
                "minimal",
                str(crowd),
                str(work / "min.json"),
                "--people",
                str(people),
                "--sigma",
                str(sigma),
            ]
        )
        log("denoise_file from Python (the command without its start-up imports)")
        call = (
            "import sys; from posedenoise.denoise import denoise_file as d; "
            "d(sys.argv[1], sys.argv[2], filter='gaussian')"
        )
        result["library"] = measured([sys.executable, "-c", call, str(crowd), str(work / "lib.json")])
        result["library_time_ratio"] = result["library"]["seconds"] / result["minimal"]["seconds"]
        result["library_cpu_ratio"] = result["library"]["cpu_seconds"] / result["minimal"]["cpu_seconds"]
        result["library_memory_ratio"] = result["library"]["peak_rss_mb"] / result["minimal"]["peak_rss_mb"]
        log("posedenoise denoise --filter gaussian")
        result["denoise"] = measured(
            posedenoise("denoise", "--filter", "gaussian", str(crowd), "-o", str(work / "out.json"))
        )
        result["time_ratio"] = result["denoise"]["seconds"] / result["minimal"]["seconds"]
        result["cpu_ratio"] = result["denoise"]["cpu_seconds"] / result["minimal"]["cpu_seconds"]
        result["memory_ratio"] = result["denoise"]["peak_rss_mb"] / result["minimal"]["peak_rss_mb"]
        for name in ("out.json", "min.json", "lib.json"):
            (work / name).unlink()
        if scale > 1:
            long = work / "long.json"
            log(f"writing a file {scale}x longer")
            result["long_bytes"] = write_crowd(long, people, frames * scale, seed=1)
            log("posedenoise denoise on it")
            result["long"] = measured(
                posedenoise("denoise", "--filter", "gaussian", str(long), "-o", str(work / "long_out.json"))
            )
            result["long_memory_ratio"] = result["long"]["peak_rss_mb"] / result["denoise"]["peak_rss_mb"]
            long.unlink()
            (work / "long_out.json").unlink()
        if folder > 1:
            videos = work / "videos"
            videos.mkdir(exist_ok=True)
            shutil.copyfile(crowd, videos / "video0.json")
            for i in range(1, folder):
                write_crowd(videos / f"video{i}.json", people, frames, seed=i)
            log(f"a folder of {folder}: one by one")
            one_by_one = {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mb": 0.0}
            for i in range(folder):
                r = measured(
                    posedenoise(
                        "denoise",
                        "--filter",
                        "gaussian",
                        str(videos / f"video{i}.json"),
                        "-o",
                        str(work / "seq" / f"video{i}.json"),
                    )
                )
                one_by_one["seconds"] += r["seconds"]
                one_by_one["cpu_seconds"] += r["cpu_seconds"]
                one_by_one["peak_rss_mb"] = max(one_by_one["peak_rss_mb"], r["peak_rss_mb"])
            result["folder_one_by_one"] = one_by_one
            log(f"a folder of {folder}: --jobs {jobs}")
            result["folder_jobs"] = measured(
                posedenoise(
                    "denoise",
                    "--filter",
                    "gaussian",
                    str(videos),
                    "-o",
                    str(work / "par"),
                    "--jobs",
                    str(jobs),
                )
            )
            result["folder_jobs"]["jobs"] = jobs
            result["folder_time_ratio"] = result["folder_jobs"]["seconds"] / one_by_one["seconds"]
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    result["load_average_end"] = os.getloadavg()
    result["goals"] = {
        "time_within_1_5x_minimal": result["time_ratio"] <= 1.5,
        "cpu_time_within_1_5x_minimal": result["cpu_ratio"] <= 1.5,
        "memory_within_1_5x_minimal": result["memory_ratio"] <= 1.5,
    }
    if "long" in result:
        result["goals"]["longer_file_same_peak_memory"] = result["long_memory_ratio"] <= 1.1
    if "folder_time_ratio" in result:
        result["goals"]["folder_jobs_at_most_0_6x"] = result["folder_time_ratio"] <= 0.6
    return result


def main(argv: list[str] | None = None) -> dict | None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "generate":
        parser = argparse.ArgumentParser(prog="crowd.py generate")
        parser.add_argument("output")
        parser.add_argument("--people", type=int, default=20)
        parser.add_argument("--frames", type=int, default=9000)
        parser.add_argument("--seed", type=int, default=0)
        a = parser.parse_args(argv[1:])
        size = write_crowd(a.output, a.people, a.frames, a.seed)
        print(f"{a.output}: {a.people} people x {a.frames} frames, {size / 1e6:.1f} MB")
        return None
    if argv and argv[0] == "minimal":
        parser = argparse.ArgumentParser(prog="crowd.py minimal")
        parser.add_argument("input")
        parser.add_argument("output")
        parser.add_argument("--people", type=int, required=True)
        parser.add_argument("--sigma", type=float, default=None, help="frames (default: denoise's)")
        a = parser.parse_args(argv[1:])
        minimal(a.input, a.output, a.people, default_sigma_frames() if a.sigma is None else a.sigma)
        return None
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--frames", type=int, default=9000)
    parser.add_argument("--scale", type=int, default=10, help="the longer file is this many times longer")
    parser.add_argument("--folder", type=int, default=8, help="files in the folder (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--output", default=str(HERE / "results" / "crowd.json"))
    a = parser.parse_args(argv)
    started = time.perf_counter()
    result = bench(a.people, a.frames, a.scale, a.folder, a.jobs, a.workdir)
    result["command"] = "python benchmarks/crowd.py " + " ".join(argv)
    result["seconds"] = time.perf_counter() - started
    out = Path(a.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
