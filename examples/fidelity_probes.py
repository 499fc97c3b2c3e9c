"""The controlled experiments behind docs/fidelity.md: why the chapter's models stall, measured.

    python examples/fidelity_probes.py oracles --data DIR                 # data checks + coordinate oracles
    python examples/fidelity_probes.py overfit --data DIR [--model conv3d] [--option KEY=VALUE ...]
    python examples/fidelity_probes.py deciwatch --data DIR [--option KEY=VALUE ...] [--lr 1e-3]
    python examples/fidelity_probes.py bf16 --data DIR --weights STATE_DICT.pt

Every probe prints what it measured; all run on one CPU thread in a few minutes on the default synthetic
set (`posedenoise prepare --synthetic --out DIR`).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import replace

import numpy as np
import torch

from posedenoise.dataset import PreparedDataset
from posedenoise.evaluate import baseline_predictions
from posedenoise.heatmaps import argmax
from posedenoise.metrics import pck
from posedenoise.models import create_model, parse_model_options
from posedenoise.noise import Experiment, apply_noise, train_noise
from posedenoise.pipeline import TrainWindows, eval_inputs, iterate_batches, window_arrays
from posedenoise.train import masked_loss, train_step

ALPHAS = (0.05, 0.1, 0.2)


def pck_text(pred, gt, present, torso) -> str:
    result = pck(pred, gt, present, torso, ALPHAS)
    return "/".join(f"{100 * result[a].overall:.1f}" for a in ALPHAS)


def oracles(ds: PreparedDataset, windows: int) -> None:
    """Input and target in step, noise only in the input; what classic and ideal filters reach."""
    for exp in (Experiment(1, 2), Experiment(2, 2), Experiment(1, 3)):
        inputs = eval_inputs(ds, exp, "val", limit=windows)
        batch = next(iterate_batches(inputs, 16, reuse_buffers=False))
        p = batch.present
        input_in_step = bool((argmax(batch.x) == batch.noisy_coords)[p].all())
        target_clean = bool((argmax(batch.target) == batch.gt_coords.round())[p].all())
        missing_zero = bool((batch.x[~p] == 0).all() and (batch.target[~p] == 0).all())
        print(
            f"{exp.name}: argmax(input) == noisy position: {input_in_step}; argmax(target) == rounded truth: "
            f"{target_clean}; missing joints all-zero: {missing_zero}; "
            f"peak input {float(batch.x.amax()):.1f}, target {float(batch.target.amax()):.1f}"
        )
        gt, present, torso, noisy = inputs.gt_coords, inputs.present, inputs.torso, inputs.noisy_coords
        shift = noisy - gt  # (N, 5, K, 2)
        per_frame = [float(shift[:, t][present[:, t]].std()) for t in range(5)]
        print(f"  shift mean {shift[present].mean(0).round(3)}, std per frame {np.round(per_frame, 2)}")
        both = present[:, 1:] & present[:, :-1]
        speed = np.linalg.norm(np.diff(gt, axis=1), axis=-1)[both]
        print(
            f"  joint speed px/frame: mean {speed.mean():.2f}, median {np.median(speed):.2f}, "
            f"90th percentile {np.percentile(speed, 90):.2f}; torso mean {np.nanmean(torso):.1f} px"
        )
        rows = {"identity": noisy, "Gaussian smoother": baseline_predictions("gaussian", noisy, present, {})}
        with warnings.catch_warnings():  # a joint missing from a whole window: NaN mean, then 0
            warnings.simplefilter("ignore", RuntimeWarning)
            masked = np.where(present[..., None], noisy, np.nan)
            rows["mean of the 5 frames"] = np.nan_to_num(np.nanmean(masked, 1, keepdims=True)).repeat(5, 1)
            clean = np.where(present[..., None], gt, np.nan)
            rows["mean of 5 noise-free frames"] = np.nan_to_num(np.nanmean(clean, 1, keepdims=True)).repeat(
                5, 1
            )
        # the best linear temporal filter, fitted by least squares on these very windows (in-sample: an
        # upper bound for any per-joint linear smoother of 5 frames)
        x = torch.from_numpy(noisy).permute(0, 2, 3, 1).reshape(-1, 5).double()  # (N*K*2, 5)
        y = torch.from_numpy(gt).permute(0, 2, 3, 1).reshape(-1, 5).double()
        keep = torch.from_numpy(present).permute(0, 2, 1).repeat_interleave(2, 1).reshape(-1, 5).all(1)
        x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
        weights = torch.linalg.lstsq(x1[keep], y[keep]).solution  # (6, 5)
        rows["best linear 5-frame filter"] = (
            (x1 @ weights).reshape(len(gt), 25, 2, 5).permute(0, 3, 1, 2).numpy()
        )
        for name, pred in rows.items():
            print(f"  {name:28s} PCK@0.05/0.1/0.2 {pck_text(pred, gt, present, torso)}")


def overfit(
    ds: PreparedDataset, model_name: str, options: dict, windows: int, epochs: int, lr: float
) -> None:
    """A heatmap model on a few training windows with one fixed noise draw, fp32: loss and PCK on those
    windows against the all-zero map, the identity function and the model's start."""
    exp = Experiment(1, 2)
    train = TrainWindows(ds, exp, seed=0, batch_size=16, limit=windows, fixed_noise=True)
    # the renderer reuses its buffers from batch to batch: keep copies
    batches = [replace(b, x=b.x.clone(), target=b.target.clone()) for b in train.epoch(1)]
    torch.manual_seed(0)
    model = create_model(model_name, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    identity = create_model("identity")
    zero = sum(float(masked_loss(identity, torch.zeros_like(b.target), b)) for b in batches) / len(batches)
    ident = sum(float(masked_loss(identity, b.x, b)) for b in batches) / len(batches)
    order = torch.randperm(len(train.rows), generator=torch.Generator().manual_seed(1_000_003 + 1))
    torso = torch.from_numpy(window_arrays(ds, exp.step, "train", windows).torso)[order]
    gt = torch.cat([b.gt_coords for b in batches])
    present = torch.cat([b.present for b in batches])
    noisy = torch.cat([b.noisy_coords for b in batches])

    def measure() -> tuple[float, str]:
        model.eval()
        with torch.no_grad():
            outs = [model(b.x) for b in batches]
            loss = sum(float(masked_loss(model, o, b)) for o, b in zip(outs, batches, strict=True))
        model.train()
        pred = torch.cat([argmax(o) for o in outs])
        # present joints whose output map is all zero (after the ReLU): their argmax is (0, 0)
        zero = sum(
            int(((o.flatten(-2).amax(-1) <= 0) & b.present).sum()) for o, b in zip(outs, batches, strict=True)
        )
        return loss / len(batches), f"{pck_text(pred, gt, present, torso)}, all-zero maps {zero}"

    print(
        f"{model_name} {options} lr {lr}, {windows} windows of {exp.name}, fixed noise: loss of all-zero "
        f"maps {zero:.4f}, of the input maps {ident:.4f}; identity PCK {pck_text(noisy, gt, present, torso)}"
    )
    loss, text = measure()
    print(f"  start: loss {loss:.4f}, PCK {text}", flush=True)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for b in batches:
            train_step(model, optimizer, b)
        if epoch % max(1, epochs // 6) == 0 or epoch == epochs:
            loss, text = measure()
            print(
                f"  epoch {epoch}: loss {loss:.4f}, PCK {text} ({time.perf_counter() - t0:.0f} s)", flush=True
            )


def deciwatch(ds, options: dict, lr: float, warmup: int, epochs: int, val_windows: int) -> None:
    """DeciWatch trained on the coordinates directly (`forward_coords`, the same model as on heatmaps
    without rendering them), fresh noise every epoch, validated on the first `val_windows` windows."""
    exp = Experiment(1, 2)
    w = window_arrays(ds, exp.step, "train")
    gt_all, present_all = torch.from_numpy(w.gt_coords), torch.from_numpy(w.present)
    val = eval_inputs(ds, exp, "val", limit=val_windows)
    torch.manual_seed(0)
    model = create_model("deciwatch", **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def detected(noisy, present):  # the argmax of an all-zero (missing) map is (0, 0)
        return torch.where(present[..., None], noisy, torch.zeros_like(noisy))

    def validate() -> str:
        model.eval()
        with torch.no_grad():
            pred = model.forward_coords(
                detected(torch.from_numpy(val.noisy_coords), torch.from_numpy(val.present))
            )
        model.train()
        return pck_text(pred.numpy(), val.gt_coords, val.present, val.torso)

    print(f"deciwatch {options} lr {lr} warm-up {warmup}, {len(gt_all)} training windows of {exp.name}; "
          f"validation identity {pck_text(val.noisy_coords, val.gt_coords, val.present, val.torso)}, "
          f"untrained {validate()}", flush=True)  # fmt: skip
    g = torch.Generator().manual_seed(1)
    step, t0 = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        order, total = torch.randperm(len(gt_all), generator=g), 0.0
        for i in range(0, len(order), 16):
            idx = order[i : i + 16]
            gt, present = gt_all[idx], present_all[idx]
            noisy, _ = apply_noise(gt, train_noise(g, len(idx)), exp)
            step += 1
            for group in optimizer.param_groups:
                group["lr"] = lr * min(1.0, step / warmup) if warmup else lr
            out = model.forward_coords(detected(noisy, present))
            loss = (((out - gt) / 55).square() * present[..., None]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        mean_loss = total / math.ceil(len(order) / 16)
        print(
            f"  epoch {epoch}: train loss {mean_loss:.6f}, validation {validate()} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


def bf16(ds, weights: str, windows: int) -> None:
    """One trained conv3d state dict evaluated in fp32 and under bf16 autocast on the same windows."""
    inputs = eval_inputs(ds, Experiment(1, 2), "val", limit=windows)
    model = create_model("conv3d")
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    preds, tied = {}, []
    for precision in ("fp32", "bf16"):
        out_coords = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            for b in iterate_batches(inputs, 16):
                out = model(b.x).float()
                out_coords.append(argmax(out))
                if precision == "bf16":
                    flat = out.flatten(-2)
                    tied.append(((flat == flat.amax(-1, keepdim=True)).sum(-1) > 1)[b.present].float().mean())
        preds[precision] = torch.cat(out_coords).numpy()
        print(
            f"{precision}: PCK {pck_text(preds[precision], inputs.gt_coords, inputs.present, inputs.torso)}"
        )
    differs = (preds["fp32"] != preds["bf16"]).any(-1)[inputs.present].mean()
    print(
        f"maps with a tied maximum in bf16: {100 * float(torch.stack(tied).mean()):.1f}%; "
        f"argmax differs from fp32: {100 * differs:.1f}% of joints"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("probe", choices=("oracles", "overfit", "deciwatch", "bf16"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default="conv3d")
    parser.add_argument("--option", action="append", default=[], help="model option KEY=VALUE")
    parser.add_argument("--windows", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps (deciwatch)")
    parser.add_argument("--weights", help="conv3d state dict (bf16)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    ds = PreparedDataset.load(args.data)
    name = "deciwatch" if args.probe == "deciwatch" else args.model
    options = parse_model_options(name, dict(o.split("=", 1) for o in args.option))
    if args.probe == "oracles":
        oracles(ds, args.windows or 500)
    elif args.probe == "overfit":
        overfit(ds, args.model, options, args.windows or 64, args.epochs or 24, args.lr)
    elif args.probe == "deciwatch":
        deciwatch(ds, options, args.lr, args.warmup, args.epochs or 3, args.windows or 1000)
    else:
        bf16(ds, args.weights, args.windows or 400)


if __name__ == "__main__":
    main()
