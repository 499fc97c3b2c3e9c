"""The models learn: each trainable model overfits a handful of windows with fixed noise, and the
options that start a model at its input (conv3d `identity_init`, DeciWatch `zero_init`) start exactly
there. Sizes are tiny so that every run takes seconds on one CPU core."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from posedenoise import train as train_module
from posedenoise.dataset import PreparedDataset
from posedenoise.errors import PoseDenoiseError
from posedenoise.models import create_model, parse_model_options, predict_coords
from posedenoise.noise import Experiment
from posedenoise.pipeline import TrainWindows
from posedenoise.train import TRAINABLE_MODELS, masked_loss, train_step

pytestmark = pytest.mark.usefixtures("single_thread")

TINY = {
    "conv3d": {"kernel_size": 3},
    "deciwatch": {"embed_dim": 32, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "ffn": 64},
    "convlstm-s": {"hidden": 4, "head_channels": 8},
    "convlstm-c": {"hidden": 4, "head_channels": 8},
}


def fixed_batch(prepared_dir, windows: int = 4):
    """One batch of `windows` training windows of experiment 1.2, with one fixed noise draw."""
    ds = PreparedDataset.load(prepared_dir)
    train = TrainWindows(ds, Experiment(1, 2), seed=0, batch_size=windows, limit=windows, fixed_noise=True)
    (batch,) = list(train.epoch(1))
    return batch


# (model, options, learning rate, steps): a few seconds each on one core
OVERFIT_RUNS = {
    "conv3d": ("conv3d", TINY["conv3d"], 1e-2, 30),
    "deciwatch": ("deciwatch", TINY["deciwatch"], 1e-3, 30),
    "deciwatch-zero-init": ("deciwatch", {**TINY["deciwatch"], "zero_init": True, "interval": 1}, 1e-3, 30),
    "convlstm-s": ("convlstm-s", TINY["convlstm-s"], 1e-2, 25),
    "convlstm-c": ("convlstm-c", TINY["convlstm-c"], 1e-2, 25),
}


def test_the_overfit_runs_cover_every_trainable_model():
    assert {run[0] for run in OVERFIT_RUNS.values()} == set(TRAINABLE_MODELS)


@pytest.mark.parametrize("run", OVERFIT_RUNS)
def test_every_model_overfits_a_handful_of_windows(prepared_dir, run):
    """A few dozen steps on 4 windows with one fixed noise draw: the loss falls below a threshold set by
    what predicting nothing costs (heatmap models: all-zero maps) or by the input itself (DeciWatch: the
    argmax of the input heatmaps, which an untrained model with the chapter's initialisation starts far
    from)."""
    name, options, lr, steps = OVERFIT_RUNS[run]
    batch = fixed_batch(prepared_dir)
    torch.manual_seed(0)
    model = create_model(name, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        model.eval()
        start = float(masked_loss(model, model(batch.x), batch))
        if model.output_kind == "coords":
            reference = float(masked_loss(model, predict_coords(create_model("identity"), batch.x), batch))
        else:
            reference = float(masked_loss(model, torch.zeros_like(batch.target), batch))
    model.train()
    for _ in range(steps):
        train_step(model, optimizer, batch)
    model.eval()
    with torch.no_grad():
        end = float(masked_loss(model, model(batch.x), batch))
    if run == "deciwatch":  # far from its input at the start: it must close most of the way
        assert end < 0.1 * start, (start, end)
    elif run == "deciwatch-zero-init":  # starts as the identity function: it must beat it
        assert end < 0.5 * reference, (reference, end)
    else:
        assert end < 0.9 * reference and end < 0.9 * start, (start, reference, end)


def test_zero_init_deciwatch_starts_as_its_input_pipeline(prepared_dir):
    """Interval 4: the visible frames 0 and 4 as given, frames 1-3 linearly interpolated between them;
    interval 1: the identity function. Exactly, in training mode too (dropout acts on zeroed branches)."""
    batch = fixed_batch(prepared_dir)
    noisy = predict_coords(create_model("identity"), batch.x)  # (B, 5, K, 2) argmax of the input
    w = torch.linspace(0, 1, 5)[None, :, None, None]  # (1, 5, 1, 1)
    interpolated = noisy[:, :1] * (1 - w) + noisy[:, 4:] * w
    for interval, expected in ((4, interpolated), (1, noisy)):
        model = create_model("deciwatch", interval=interval, zero_init=True)
        for train_mode in (False, True):
            model.train(train_mode)
            with torch.no_grad():
                out = model(batch.x)
            torch.testing.assert_close(out, expected, rtol=0, atol=1e-4)
    # the chapter's initialisation does not start there
    default = create_model("deciwatch").eval()
    with torch.no_grad():
        assert (default(batch.x) - interpolated).abs().max() > 1.0


def test_zero_init_deciwatch_leaves_its_start(prepared_dir):
    """The zeroed projections get a gradient on the first step; the layers before them from the second."""
    batch = fixed_batch(prepared_dir)
    torch.manual_seed(0)
    model = create_model("deciwatch", interval=1, zero_init=True, **TINY["deciwatch"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_step(model, optimizer, batch)
    moved = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    assert {"encoder_unembed.weight", "decoder_unembed.weight"} <= moved
    train_step(model, optimizer, batch)
    moved = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    assert {"encoder_embed.weight", "decoder_embed.weight", "encoder.0.ffn.fc.weight"} <= moved


def test_identity_init_conv3d_returns_its_input(prepared_dir):
    batch = fixed_batch(prepared_dir)
    model = create_model("conv3d", identity_init=True)
    with torch.no_grad():
        torch.testing.assert_close(model(batch.x), F.relu(batch.x), rtol=0, atol=0)
    assert not torch.equal(create_model("conv3d")(batch.x[:1]), batch.x[:1])


def test_model_options_from_text():
    assert parse_model_options("deciwatch", {"zero_init": "true", "interval": "1", "dropout": "0.2"}) == {
        "zero_init": True,
        "interval": 1,
        "dropout": 0.2,
    }
    assert parse_model_options("conv3d", {"identity_init": "off"}) == {"identity_init": False}
    for name, pairs, message in (
        ("deciwatch", {"zero_init": "maybe"}, "not true or false"),
        ("deciwatch", {"interval": "1.5"}, "not an integer"),
        ("deciwatch", {"dropout": "x"}, "not a number"),
        ("conv3d", {"zero_init": "true"}, "unknown option"),
    ):
        with pytest.raises(PoseDenoiseError, match=message):
            parse_model_options(name, pairs)
    with pytest.raises(PoseDenoiseError, match="true or false"):
        create_model("deciwatch", zero_init=1)


def test_warmup_scales_the_learning_rate_over_the_first_steps(prepared_dir, monkeypatch):
    """Linear warm-up counted in optimizer steps from epoch 1 (so a resumed epoch 2 continues it), on
    top of the lr the schedule set for the epoch."""
    ds = PreparedDataset.load(prepared_dir)
    windows = TrainWindows(ds, Experiment(1, 2), seed=0, batch_size=4, limit=12)
    assert len(windows) == 3
    seen = []
    monkeypatch.setattr(
        train_module,
        "train_step",
        lambda model, optimizer, *a: seen.append(optimizer.param_groups[0]["lr"]) or torch.zeros(()),
    )
    model = create_model("conv3d", kernel_size=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in (1, 2, 3):
        optimizer.param_groups[0]["lr"] = 1e-3 if epoch < 3 else 1e-4  # the schedule's lr for the epoch
        train_module.train_one_epoch(model, optimizer, windows, epoch, warmup_steps=5)
    expected = [1e-3 * s / 5 for s in (1, 2, 3, 4, 5)] + [1e-3] + [1e-4] * 3
    assert seen == pytest.approx(expected)
    seen.clear()
    train_module.train_one_epoch(model, optimizer, windows, 1)  # no warm-up: the epoch's lr throughout
    assert seen == pytest.approx([1e-4] * 3)
