"""Training: the masked loss, the learning-rate and early-stopping rules, the run folder,
resuming a killed run exactly, and fine-tuning. Models are kept small so that every test runs in seconds
on one CPU core: conv3d with a small kernel, DeciWatch with one narrow layer (its dropout stays, so resume
checks cover the RNG state)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from posedenoise import train
from posedenoise.checkpoint import load_model, read_checkpoint, save_checkpoint
from posedenoise.constants import GRID
from posedenoise.dataset import PreparedDataset
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.models import create_model
from posedenoise.noise import Experiment
from posedenoise.pipeline import Batch, TrainWindows, eval_inputs
from posedenoise.prepare import prepare_dataset
from posedenoise.train import (
    HISTORY_COLUMNS,
    PlateauState,
    TrainConfig,
    fit,
    masked_loss,
    plateau_step,
    run_status,
    should_stop,
)

pytestmark = pytest.mark.usefixtures("single_thread")

SMALL_OPTIONS = {
    "conv3d": {"kernel_size": 3},
    "deciwatch": {"embed_dim": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "ffn": 32},
}


def small_config(model: str = "deciwatch", **changes) -> TrainConfig:
    config = TrainConfig(model=model, model_options=dict(SMALL_OPTIONS[model]), limit=32, max_epochs=2)
    return replace(config, **changes)


def state_dicts_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


class Killed(Exception):
    """The process killed between two epochs (as Ctrl-C or a kill -9 after a checkpoint)."""


def killed_after(epochs: int):
    """A progress callback that kills the run once epoch `epochs` is saved."""

    def callback(event: dict) -> None:
        if event["event"] == "epoch_end" and event["epoch"] >= epochs:
            raise Killed

    return callback


def fit_killed_after(epochs: int, config, data_dir, runs_dir) -> None:
    with pytest.raises(Killed):
        fit(config, data_dir, runs_dir, device="cpu", callback=killed_after(epochs))


# ----------------------------------------------------------------------------- masked loss


def random_batch(kind: str, seed: int = 0) -> tuple[Batch, torch.Tensor]:
    """A batch with about a third of the joints missing, and an output of the given kind."""
    g = torch.Generator().manual_seed(seed)
    b, t, k, s = 2, 5, 25, 8
    present = torch.rand(b, t, k, generator=g) > 0.33
    gt = torch.rand(b, t, k, 2, generator=g) * (GRID - 1)
    target = torch.rand(b, t, k, s, s, generator=g)
    batch = Batch(
        x=torch.empty(0), target=target, gt_coords=gt, present=present, torso=torch.empty(0), noisy_coords=gt
    )
    shape = (b, t, k, 2) if kind == "coords" else (b, t, k, s, s)
    return batch, torch.rand(shape, generator=g).requires_grad_()


@pytest.mark.parametrize("kind", ["heatmaps", "coords"])
def test_missing_joints_give_zero_loss_and_zero_gradient(kind):
    model = SimpleNamespace(output_kind=kind)
    batch, output = random_batch(kind)
    missing = ~batch.present
    assert missing.any() and batch.present.any()

    loss = masked_loss(model, output, batch)
    loss.backward()
    assert torch.all(output.grad[missing] == 0)
    assert torch.all(output.grad[batch.present].abs().sum(dim=tuple(range(1, output.dim() - 2))) > 0)

    # the chapter's convention (target := prediction for missing joints): the mean runs over every element
    if kind == "coords":
        expected_target = torch.where(batch.present[..., None], batch.gt_coords, output.detach())
        expected = (((output.detach() - expected_target) / (GRID - 1)) ** 2).mean()
    else:
        expected_target = torch.where(batch.present[..., None, None], batch.target, output.detach())
        expected = ((output.detach() - expected_target) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)

    # whatever the target of a missing joint says, the loss is the same; a present joint's target counts
    changed = replace(batch, target=batch.target.clone(), gt_coords=batch.gt_coords.clone())
    changed.target[missing] += 5.0
    changed.gt_coords[missing] += 5.0
    assert masked_loss(model, output, changed).item() == loss.item()
    changed.target[batch.present] += 5.0
    changed.gt_coords[batch.present] += 5.0
    assert masked_loss(model, output, changed).item() != loss.item()


@pytest.mark.parametrize("name", ["conv3d", "deciwatch"])
def test_missing_joints_get_no_gradient_on_real_batches(prepared_dir, name):
    # the synthetic videos come in the COCO-17 and Penn layouts: hands, feet (and more) are always missing
    ds = PreparedDataset.load(prepared_dir)
    windows = TrainWindows(ds, Experiment(1, 1), seed=0, batch_size=4, limit=4)
    batch = next(iter(windows.epoch(1)))
    assert (~batch.present).any()
    torch.manual_seed(0)
    model = create_model(name, **SMALL_OPTIONS[name])
    output = model(batch.x)
    output.retain_grad()
    masked_loss(model, output, batch).backward()
    assert torch.all(output.grad[~batch.present] == 0)
    assert output.grad[batch.present].abs().sum() > 0


# ----------------------------------------------------------------------------- micro-batches


def test_a_batch_splits_into_views_of_its_windows():
    batch, _ = random_batch("heatmaps")
    batch = replace(batch, x=batch.target + 1, input_present=batch.present)  # 2 windows
    whole = torch.cat([batch.x] * 3)
    batch = Batch(
        **{
            name: (torch.cat([v] * 3) if isinstance(v, torch.Tensor) and len(v) == 2 else v)
            for name, v in vars(batch).items()
        }
    )  # 6 windows, torso an empty placeholder, swapped None
    parts = batch.split(4)
    assert [len(p.x) for p in parts] == [4, 2]
    assert torch.equal(torch.cat([p.x for p in parts]), whole)
    assert all(p.torso.numel() == 0 and p.swapped is None for p in parts)
    assert torch.equal(parts[1].present, batch.present[4:]) and torch.equal(
        parts[1].gt_coords, batch.gt_coords[4:]
    )
    assert parts[0].x.data_ptr() == batch.x.data_ptr()  # views, not copies
    assert batch.split(6) == [batch] and batch.split(16) == [batch]


MICRO_OPTIONS = {
    "conv3d": {"kernel_size": 3},
    "convlstm-s": {"head_channels": 8},
    "convlstm-c": {"head_channels": 8},
}


@pytest.mark.parametrize("name", list(MICRO_OPTIONS))
def test_micro_batches_give_the_whole_batchs_loss_and_gradient(prepared_dir, name):
    # 5 windows in parts of 2, 2 and 1: the parts' losses are weighted by their share of the batch
    ds = PreparedDataset.load(prepared_dir)
    batch = next(iter(TrainWindows(ds, Experiment(1, 1), seed=0, batch_size=5, limit=5).epoch(1)))
    assert (~batch.present).any()
    torch.manual_seed(0)
    model = create_model(name, **MICRO_OPTIONS[name]).train()
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)  # step() leaves weights and gradients alone
    seen = []  # windows per forward pass: the batch really runs in parts
    model.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    results = {}
    for micro, parts in ((None, [5]), (2, [2, 2, 1])):
        seen.clear()
        loss = train.train_step(model, frozen, batch, "fp32", micro)
        assert seen == parts
        results[micro] = loss, {n: p.grad.clone() for n, p in model.named_parameters()}
    (whole_loss, whole), (micro_loss, parts) = results[None], results[2]
    assert micro_loss.item() == pytest.approx(whole_loss.item(), rel=1e-5)
    assert whole_loss.item() == pytest.approx(masked_loss(model, model(batch.x), batch).item(), rel=1e-6)
    for n, grad in whole.items():
        assert grad.abs().sum() > 0, n
        torch.testing.assert_close(parts[n], grad, rtol=1e-4, atol=1e-5 * grad.abs().max().item())


def test_micro_batch_size_rule():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    lstm, conv = create_model("convlstm-s", head_channels=8), create_model("conv3d")
    assert train.micro_batch_for(lstm, 16, cpu) == 2  # auto: the bi-ConvLSTMs' CPU memory budget
    assert train.micro_batch_for(lstm, 16, cuda) == 16  # a GPU has the memory for the batch
    assert train.micro_batch_for(conv, 16, cpu) == 16
    assert train.micro_batch_for(SimpleNamespace(module=lstm), 16, cpu) == 2  # seen through DDP's wrapper
    assert train.micro_batch_for(conv, 16, cpu, requested=4) == 4
    assert train.micro_batch_for(lstm, 1, cpu) == 1 and train.micro_batch_for(conv, 8, cpu, 32) == 8
    with pytest.raises(PoseDenoiseError, match="micro-batch"):
        train.micro_batch_for(conv, 16, cpu, requested=-1)


def test_fit_trains_in_micro_batches_to_the_same_weights(prepared_dir, tmp_path, monkeypatch):
    seen = []  # windows per training forward pass
    create = train.create_model

    def recording_create_model(name, **options):
        model = create(name, **options)
        model.register_forward_pre_hook(lambda m, args: seen.append(len(args[0])) if m.training else None)
        return model

    monkeypatch.setattr(train, "create_model", recording_create_model)
    config = small_config("conv3d", limit=24, batch_size=8, max_epochs=1)
    whole = fit(config, prepared_dir, tmp_path / "a", device="cpu")
    assert seen == [8, 8, 8]
    seen.clear()
    parts = fit(replace(config, micro_batch_size=3), prepared_dir, tmp_path / "b", device="cpu")
    assert seen == [3, 3, 2] * 3
    assert json.loads((whole.run_dir / "config.json").read_text())["micro_batch"] == 8
    assert json.loads((parts.run_dir / "config.json").read_text())["micro_batch"] == 3
    a = read_checkpoint(whole.run_dir / "last.pt")["state_dict"]
    b = read_checkpoint(parts.run_dir / "last.pt")["state_dict"]
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
    assert parts.history[0]["train_loss"] == pytest.approx(whole.history[0]["train_loss"], rel=1e-4)


# ----------------------------------------------------------------------------- the schedule (pure functions)


def run_schedule(val_losses, lr_patience=5, stop_patience=10, max_epochs=50, lr=1e-3):
    """Feed validation losses through the rules as `fit` does; returns (lr used, reduced) per epoch run."""
    state = PlateauState(lr=lr)
    used, reduced = [], []
    for epoch, val_loss in enumerate(val_losses, start=1):
        used.append(state.lr)
        state, r = plateau_step(state, val_loss, lr_patience)
        reduced.append(r)
        if should_stop(state, epoch, stop_patience, max_epochs):
            break
    return used, reduced, state


def test_lr_reduced_after_5_epochs_without_a_new_lowest_and_stop_after_10():
    # epoch 1 sets the lowest loss; nothing beats it afterwards (an equal loss is not a new lowest)
    losses = [1.0, 1.0, 1.5, 1.2, 1.1, 1.0] + [2.0] * 20
    used, reduced, state = run_schedule(losses)
    assert len(used) == 11  # 1 + 10 epochs without improvement, then stop
    assert [e + 1 for e, r in enumerate(reduced) if r] == [6, 11]  # after 5 and 10 epochs without a new best
    assert used[:6] == [1e-3] * 6
    assert used[6:] == pytest.approx([1e-4] * 5)
    assert state.best_val_loss == 1.0 and state.epochs_since_best == 10


def test_a_new_lowest_loss_resets_both_counters():
    # four bad epochs, a new best, four bad epochs: never 5 in a row, so no reduction and no stop
    losses = [1.0, 1.1, 1.2, 1.3, 1.4, 0.9, 1.0, 1.0, 1.0, 1.0, 0.8, 0.9, 0.9, 0.9, 0.9]
    used, reduced, state = run_schedule(losses)
    assert len(used) == len(losses)
    assert not any(reduced) and used == [1e-3] * len(losses)
    assert state.best_val_loss == 0.8 and state.epochs_since_best == 4

    # after a reduction, a new best resets the count: the next reduction needs 5 more bad epochs
    losses = [1.0] + [1.1] * 5 + [0.5] + [0.6] * 5
    used, reduced, _ = run_schedule(losses)
    assert [e + 1 for e, r in enumerate(reduced) if r] == [6, 12]
    assert used[-1] == pytest.approx(1e-4)  # the lr is not restored by an improvement


def test_stop_patience_and_max_epochs():
    state = PlateauState(epochs_since_best=9)
    assert not should_stop(state, epoch=20)
    assert should_stop(replace(state, epochs_since_best=10), epoch=20)
    improving = PlateauState()
    assert not should_stop(improving, epoch=49) and should_stop(improving, epoch=50)
    used, _, _ = run_schedule([1.0 - 0.01 * i for i in range(60)], max_epochs=50)
    assert len(used) == 50
    # custom patience values are honoured
    used, reduced, _ = run_schedule([1.0] + [2.0] * 10, lr_patience=2, stop_patience=3)
    assert len(used) == 4 and reduced == [False, False, True, False]


def test_defaults_are_the_chapters():
    config = TrainConfig(model="conv3d")
    assert (config.batch_size, config.lr, config.betas) == (16, 1e-3, (0.9, 0.999))
    assert (config.lr_patience, config.lr_factor, config.stop_patience, config.max_epochs) == (5, 0.1, 10, 50)
    assert config.limit is None and config.init_from is None


def test_plateau_step_is_pure():
    state = PlateauState(best_val_loss=1.0, epochs_since_best=4, lr=1e-3)
    new, reduced = plateau_step(state, 2.0)
    assert reduced and new.lr == pytest.approx(1e-4) and new.epochs_since_best == 5
    assert state == PlateauState(best_val_loss=1.0, epochs_since_best=4, lr=1e-3)  # unchanged
    assert plateau_step(state, 2.0) == (new, reduced)


# ----------------------------------------------------------------------------- a tiny run end to end


def read_history_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def test_tiny_training_end_to_end(prepared_dir, tmp_path):
    events = []
    config = small_config("conv3d", max_epochs=2)
    result = fit(config, prepared_dir, tmp_path / "runs", device="cpu", callback=events.append)
    run_dir = tmp_path / "runs" / "conv3d" / "1.1"
    assert result.run_dir == run_dir and result.epochs == 2 and result.stopped == "max epochs"
    # only the four files (atomic writes leave no temporary files behind)
    assert sorted(p.name for p in run_dir.iterdir()) == ["best.pt", "config.json", "history.csv", "last.pt"]

    # it learns: training and validation loss fall from epoch 1 to epoch 2
    history = result.history
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert history[1]["val_loss"] < history[0]["val_loss"]
    assert all(0.0 <= row["val_pck"] <= 1.0 for row in history)

    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"] == "conv3d" and saved["model_options"] == {"kernel_size": 3}
    assert (saved["shift"], saved["experiment"], saved["world_size"]) == (1, 1, 1)
    ds = PreparedDataset.load(prepared_dir)
    assert saved["train_windows"] == 32 and saved["val_windows"] == len(ds.split_window_starts(1, "val", 32))
    assert saved["train_config"]["batch_size"] == 16 and saved["train_config"]["betas"] == [0.9, 0.999]

    rows = read_history_csv(run_dir / "history.csv")
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for row, expected in zip(rows, history, strict=True):
        assert float(row["val_pck"]) == expected["val_pck"] and float(row["lr"]) == 1e-3
        assert row["lr_reduced"] == "0" and float(row["seconds"]) > 0

    # best.pt: the weights of the epoch with the highest val PCK@0.2, reloaded and evaluated again
    model, meta = load_model(run_dir, device="cpu")
    best = max(history, key=lambda r: r["val_pck"])
    assert meta["epoch"] == result.best_epoch == best["epoch"]
    assert meta["data_fingerprint"] == ds.fingerprint()
    assert meta["train_config"]["limit"] == 32
    val = eval_inputs(ds, Experiment(1, 1), "val", limit=32)
    val_loss, val_pck = train.evaluate(model, val, torch.device("cpu"))
    assert val_pck == best["val_pck"] and val_loss == pytest.approx(best["val_loss"], rel=1e-6)

    # last.pt loads without pickled code and holds what resuming needs
    last = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert {"state_dict", "optimizer", "plateau", "history", "rng_cpu", "epoch", "meta"} <= set(last)
    assert (
        last["epoch"] == 2
        and last["finished"]
        and json.loads(json.dumps(last["meta"]["train_config"])) == saved["train_config"]
    )
    adam = last["optimizer"]["param_groups"][0]
    assert (
        tuple(adam["betas"]) == (0.9, 0.999)
        and adam["lr"] == 1e-3
        and "exp_avg_sq" in last["optimizer"]["state"][0]
    )
    assert run_status(tmp_path / "runs", config) == "finished"

    # progress goes through the callback
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "batch", "batch", "epoch_end", "batch", "batch", "epoch_end"]
    assert events[0]["batches"] == 2 and events[0]["train_windows"] == 32
    assert [e["batch"] for e in events if e["event"] == "batch"] == [1, 2, 1, 2]
    assert all(isinstance(e["loss"], float) for e in events if e["event"] == "batch")


def test_bf16_autocast_trains(prepared_dir, tmp_path):
    result = fit(small_config(max_epochs=1, precision="bf16"), prepared_dir, tmp_path, device="cpu")
    assert all(math.isfinite(result.history[0][k]) for k in ("train_loss", "val_loss", "val_pck"))


def test_bad_config_and_data_are_user_errors(prepared_dir, tmp_path):
    with pytest.raises(PoseDenoiseError, match="--model"):
        fit(TrainConfig(model="identity"), prepared_dir, tmp_path)
    with pytest.raises(PoseDenoiseError, match="--precision"):
        fit(small_config(precision="fp8"), prepared_dir, tmp_path)
    with pytest.raises(InputError, match="prepare"):
        fit(small_config(), tmp_path / "nowhere", tmp_path)


# ----------------------------------------------------------------------------- the schedule inside fit


class ScriptedValidation:
    """Stands in for `train.evaluate`: returns scripted (val loss, val PCK) pairs in order, so that the
    schedule inside `fit` is checked on a known sequence (training itself runs for real)."""

    def __init__(self, losses, pcks):
        self.values = list(zip(losses, pcks, strict=True))
        self.calls = 0

    def __call__(self, model, inputs, device, *args, **kwargs):
        self.calls += 1
        return self.values[self.calls - 1]


# lr_patience 2, stop_patience 4: epoch 4 repeats the lowest loss (not new): reduce; epoch 6 is a new
# lowest; epochs 7-10 are not: reduce after 8 and 10 and stop after 10. PCK peaks at epoch 3 (epoch 7 only
# ties it), so the best epoch is 3, not one of the lowest-loss epochs.
VAL_LOSSES = [1.0, 0.8, 0.9, 0.8, 0.85, 0.7, 0.75, 0.75, 0.75, 0.75]
VAL_PCKS = [0.1, 0.2, 0.5, 0.3, 0.4, 0.45, 0.5, 0.2, 0.2, 0.2]


def test_fit_follows_the_schedule_and_keeps_the_best_pck_epoch(prepared_dir, tmp_path, monkeypatch):
    config = small_config(
        shift=2, experiment=3, limit=16, max_epochs=30, lr_patience=2, stop_patience=4, lr=1e-2
    )
    monkeypatch.setattr(train, "evaluate", ScriptedValidation(VAL_LOSSES, VAL_PCKS))
    full = fit(config, prepared_dir, tmp_path / "a", device="cpu")
    run_dir = tmp_path / "a" / "deciwatch" / "2.3"
    assert full.run_dir == run_dir
    assert full.epochs == 10 and full.stopped == "no validation improvement"
    assert [r["lr"] for r in full.history] == pytest.approx([1e-2] * 4 + [1e-3] * 4 + [1e-4] * 2)
    assert [r["epoch"] for r in full.history if r["lr_reduced"]] == [4, 8, 10]
    assert [r["val_loss"] for r in full.history] == VAL_LOSSES
    assert full.best_epoch == 3 and full.best_val_pck == 0.5
    best = read_checkpoint(run_dir / "best.pt")
    assert best["meta"]["epoch"] == 3 and best["meta"]["val_pck"] == 0.5
    last = read_checkpoint(run_dir / "last.pt")
    assert last["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4)  # the optimizer used it

    # the same run killed after 3 epochs and resumed: same schedule, losses and weights; best.pt is the
    # interrupted run's epoch-3 model
    scripted = ScriptedValidation(VAL_LOSSES, VAL_PCKS)
    monkeypatch.setattr(train, "evaluate", scripted)
    fit_killed_after(3, config, prepared_dir, tmp_path / "b")
    at_epoch_3 = read_checkpoint(tmp_path / "b" / "deciwatch" / "2.3" / "last.pt")
    assert at_epoch_3["epoch"] == 3 and not at_epoch_3["finished"]
    assert state_dicts_equal(at_epoch_3["state_dict"], best["state_dict"])
    rest = fit(config, prepared_dir, tmp_path / "b", device="cpu", resume=True)
    assert rest.resumed_from == 3 and rest.epochs == 10 and rest.stopped == full.stopped
    assert without_seconds(rest.history) == without_seconds(full.history)
    resumed_last = read_checkpoint(tmp_path / "b" / "deciwatch" / "2.3" / "last.pt")
    assert state_dicts_equal(resumed_last["state_dict"], last["state_dict"])


# ----------------------------------------------------------------------------- resume


def assert_same_run(dir_a, dir_b):
    """Two run folders hold the same training: history (but the timings), weights and optimizer state."""
    rows_a = read_history_csv(dir_a / "history.csv")
    rows_b = read_history_csv(dir_b / "history.csv")
    for row in rows_a + rows_b:
        del row["seconds"]
    assert rows_a == rows_b
    for name in ("last.pt", "best.pt"):
        a, b = read_checkpoint(dir_a / name), read_checkpoint(dir_b / name)
        assert state_dicts_equal(a["state_dict"], b["state_dict"]), name
    a = read_checkpoint(dir_a / "last.pt")["optimizer"]["state"]
    b = read_checkpoint(dir_b / "last.pt")["optimizer"]["state"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[i][key], b[i][key]) for i in a for key in ("exp_avg", "exp_avg_sq"))


def test_resume_ends_where_an_uninterrupted_run_ends(prepared_dir, tmp_path):
    # DeciWatch has dropout: an exact match needs the global RNG state back, not just the weights
    config = small_config(max_epochs=3)
    full = fit(config, prepared_dir, tmp_path / "a", device="cpu")
    run_a, run_b = tmp_path / "a" / "deciwatch" / "1.1", tmp_path / "b" / "deciwatch" / "1.1"

    # killed after epoch 1 of a 2-epoch run, resumed, finished
    two = replace(config, max_epochs=2)
    fit_killed_after(1, two, prepared_dir, tmp_path / "b")
    torch.manual_seed(1234)  # whatever happens in between (a new process) must not matter
    torch.rand(1000)
    rest = fit(two, prepared_dir, tmp_path / "b", device="cpu", resume=True)
    assert rest.resumed_from == 1 and rest.epochs == 2 and rest.stopped == "max epochs"
    assert without_seconds(rest.history) == without_seconds(full.history[:2])

    # a finished run is left alone...
    before = (run_b / "last.pt").read_bytes()
    again = fit(two, prepared_dir, tmp_path / "b", device="cpu", resume=True)
    assert again.stopped == "already finished" and again.epochs == 2
    assert (run_b / "last.pt").read_bytes() == before

    # ...unless the epoch cap is raised: then it ends where a run with that cap ends
    longer = fit(config, prepared_dir, tmp_path / "b", device="cpu", resume=True)
    assert (longer.epochs, longer.best_epoch, longer.stopped) == (full.epochs, full.best_epoch, full.stopped)
    assert without_seconds(longer.history) == without_seconds(full.history)
    assert_same_run(run_a, run_b)


def test_resume_of_a_heatmap_model(prepared_dir, tmp_path):
    config = small_config("conv3d", model_options={"kernel_size": 1}, limit=16, max_epochs=2)
    fit(config, prepared_dir, tmp_path / "a", device="cpu")
    fit_killed_after(1, config, prepared_dir, tmp_path / "b")
    fit(config, prepared_dir, tmp_path / "b", device="cpu", resume=True)
    assert_same_run(tmp_path / "a" / "conv3d" / "1.1", tmp_path / "b" / "conv3d" / "1.1")


def test_killed_run_needs_resume_and_bad_last_pt_is_an_input_error(prepared_dir, tiny_tracks, tmp_path):
    runs = tmp_path / "runs"
    config = small_config(max_epochs=3)
    assert run_status(runs, config) == "missing"
    fit_killed_after(1, config, prepared_dir, runs)
    assert run_status(runs, config) == "unfinished"
    run_dir = runs / "deciwatch" / "1.1"
    last = run_dir / "last.pt"
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    with pytest.raises(PoseDenoiseError, match="--resume") as info:
        fit(config, prepared_dir, runs, device="cpu")
    assert str(run_dir) in str(info.value)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # nothing was overwritten

    # resuming on other data (another preparation) is refused
    other = tmp_path / "other"
    prepare_dataset(tiny_tracks, other, seed=1)
    with pytest.raises(InputError, match="differs") as info:
        fit(config, other, runs, device="cpu", resume=True)
    assert str(other) in str(info.value)

    # a truncated, garbage or weights-only last.pt: one line naming the file, no traceback-y exception
    damages = (before["last.pt"][: len(before["last.pt"]) // 2], b"junk", before["best.pt"])
    for damaged in damages:
        last.write_bytes(damaged)
        with pytest.raises(InputError) as info:
            fit(config, prepared_dir, runs, device="cpu", resume=True)
        assert str(info.value).startswith(str(last)) and "\n" not in str(info.value)
    assert run_status(runs, config) == "unfinished"


# ----------------------------------------------------------------------------- fine-tuning


def save_source_checkpoint(path, name="deciwatch", seed=5, **options):
    torch.manual_seed(seed)
    model = create_model(name, **options)
    meta = {
        "model": name,
        "model_options": options,
        "shift": 1,
        "experiment": 1,
        "seed": seed,
        "epoch": 7,
        "data_fingerprint": "elsewhere",
        "train_config": {},
    }
    save_checkpoint(path, model, meta)
    return model.state_dict()


def test_init_from_starts_from_the_checkpoint_weights(prepared_dir, tmp_path):
    source = tmp_path / "source.pt"
    weights = save_source_checkpoint(source, **SMALL_OPTIONS["deciwatch"])
    # lr 0: training does not move the weights, so best.pt shows where the run started
    config = small_config(max_epochs=1, limit=16, init_from=str(source), lr=0.0, shift=2)
    result = fit(config, prepared_dir, tmp_path / "runs", device="cpu")
    best = read_checkpoint(result.run_dir / "best.pt")
    assert state_dicts_equal(best["state_dict"], weights)
    torch.manual_seed(0)
    fresh = create_model("deciwatch", **SMALL_OPTIONS["deciwatch"]).state_dict()
    assert not state_dicts_equal(fresh, weights)  # a run from scratch would have started elsewhere
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["train_config"]["init_from"] == str(source) and saved["train_config"]["lr"] == 0.0

    # and with a learning rate it trains on from there
    tuned = fit(replace(config, lr=1e-3, shift=1), prepared_dir, tmp_path / "runs", device="cpu")
    moved = read_checkpoint(tuned.run_dir / "last.pt")["state_dict"]
    assert not state_dicts_equal(moved, weights)


def test_init_from_a_checkpoint_that_does_not_fit(prepared_dir, tmp_path):
    source = tmp_path / "source.pt"
    save_source_checkpoint(source, **SMALL_OPTIONS["deciwatch"])
    with pytest.raises(InputError, match="deciwatch checkpoint, not conv3d") as info:
        fit(small_config("conv3d", init_from=str(source)), prepared_dir, tmp_path, device="cpu")
    assert str(info.value).startswith(str(source))
    wider = dict(SMALL_OPTIONS["deciwatch"], embed_dim=32)
    with pytest.raises(InputError, match="do not fit"):
        fit(small_config(init_from=str(source), model_options=wider), prepared_dir, tmp_path, device="cpu")
    with pytest.raises(InputError, match="not found"):
        fit(small_config(init_from=str(tmp_path / "missing.pt")), prepared_dir, tmp_path, device="cpu")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(InputError, match="junk.pt"):
        fit(small_config(init_from=str(tmp_path / "junk.pt")), prepared_dir, tmp_path, device="cpu")
    assert not (tmp_path / "deciwatch").exists() and not (tmp_path / "conv3d").exists()
