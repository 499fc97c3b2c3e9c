"""The shipped study models (`<model>-<k>.<y>` in the package's weights folder): each loads, carries its
card, and reproduces the test PCK its card records on the data the card names (a synthetic set prepared
with a seed never used in training, of which the test evaluates the subset the card also records)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import posedenoise
from posedenoise.checkpoint import load_model, read_checkpoint
from posedenoise.evaluate import evaluate_checkpoint
from posedenoise.prepare import prepare_dataset
from posedenoise.shipped import resolve_checkpoint, shipped_models
from posedenoise.sources.synthetic import generate_synthetic

pytestmark = pytest.mark.usefixtures("single_thread")

WEIGHTS = Path(posedenoise.__file__).resolve().parent / "weights"
STUDY_NAME = re.compile(r"^(conv3d|deciwatch|convlstm-s|convlstm-c)-([12])\.([123])$")
STUDY_MODELS = sorted(p.stem for p in WEIGHTS.glob("*.pt") if STUDY_NAME.match(p.stem))
HELD_OUT_SEED = 12345  # the card's test data: `posedenoise prepare --synthetic --seed 12345` (240 videos)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("held-out") / "prepared"
    prepare_dataset(list(generate_synthetic(240, seed=HELD_OUT_SEED)), out, seed=HELD_OUT_SEED)
    return out


def test_the_study_models_ship():
    assert {"conv3d-1.2", "conv3d-2.2", "deciwatch-1.2", "deciwatch-2.2"} <= set(STUDY_MODELS)


@pytest.mark.parametrize("name", STUDY_MODELS)
def test_a_shipped_study_model_loads_by_name_with_its_card(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a file of that name in the working folder would win over the shipped model
    path = resolve_checkpoint(name)
    assert path == WEIGHTS / f"{name}.pt"
    model, meta = load_model(path)
    model_name, k, y = STUDY_NAME.match(name).groups()
    assert (meta["model"], meta["shift"], meta["experiment"]) == (model_name, int(k), int(y))
    card = meta["card"]
    assert meta["shipped_name"] == name and card["doc"] == f"docs/models/{name}.md"
    for key in ("summary", "data", "noise", "training", "cpu_hours", "test"):
        assert card[key], key
    assert "seed 12345" in card["test"]["data"]
    assert path.stat().st_size < 10_000_000
    assert "optimizer" not in read_checkpoint(path)  # weights and meta only
    listed = {m.name: m for m in shipped_models()}
    assert listed[name].model == model_name and "test PCK" in listed[name].summary


@pytest.mark.parametrize("name", STUDY_MODELS)
def test_a_shipped_study_model_reproduces_its_test_pck(name, held_out):
    card = read_checkpoint(WEIGHTS / f"{name}.pt")["meta"]["card"]
    test = card["test"]
    result = evaluate_checkpoint(
        resolve_checkpoint(name), held_out, split="test", limit=test["subset_windows"]
    )
    for alpha, recorded in test["subset_pck"].items():
        assert result["pck"][alpha] == pytest.approx(recorded, abs=2e-3), alpha
    # the card's claim: above the identity function at every threshold, on the whole test split too
    for alpha in ("0.05", "0.1", "0.2"):
        assert test["pck"][alpha] > test["baselines"]["identity"][alpha]
        assert result["pck"][alpha] > test["subset_baselines"]["identity"][alpha]
