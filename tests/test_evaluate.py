import json

import numpy as np
import pytest
import torch

from posedenoise import evaluate
from posedenoise.checkpoint import save_checkpoint
from posedenoise.dataset import PreparedDataset
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.evaluate import (
    cached_baseline,
    cached_evaluation,
    evaluate_baseline,
    evaluate_checkpoint,
)
from posedenoise.layout import GROUPS, JOINTS
from posedenoise.metrics import pck
from posedenoise.models import create_model, predict_coords
from posedenoise.noise import Experiment
from posedenoise.pipeline import eval_inputs
from posedenoise.prepare import prepare_dataset
from posedenoise.sources import Track


def make_tracks(n=6, t=50, seed=0):
    rng = np.random.default_rng(seed)
    tracks = []
    for i in range(n):
        base = rng.uniform(100, 300, size=(1, 25, 2))
        coords = base + np.cumsum(rng.normal(0, 1.5, size=(t, 25, 2)), axis=0)
        present = np.ones((t, 25), dtype=bool)
        present[:, 9:15] = False  # joints the datasets lack
        present[:, 21:] = False
        present &= rng.random((t, 25)) > 0.1  # some dropouts, some frames without a torso
        tracks.append(Track(f"v{i}", "custom", 30.0, coords, present, np.arange(t)))
    return tracks


def prepare(path, seed=0):
    prepare_dataset(make_tracks(), path, seed=seed)
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("data") / "prepared")


def save_model(path, name, shift=1, experiment=1, epoch=1, **options):
    torch.manual_seed(0)
    model = create_model(name, **options)
    meta = {
        "model": name,
        "model_options": options,
        "shift": shift,
        "experiment": experiment,
        "seed": 0,
        "epoch": epoch,
        "data_fingerprint": "unknown",
        "train_config": {},
    }
    save_checkpoint(path, model, meta)
    return path


def test_identity_checkpoint_equals_identity_baseline(tmp_path, data_dir):
    # the identity model goes through heatmap rendering and argmax; the baseline uses the noisy coords
    ckpt = save_model(tmp_path / "identity" / "1.1" / "best.pt", "identity")
    via_model = evaluate_checkpoint(ckpt.parent, data_dir, batch_size=5)
    via_coords = evaluate_baseline("identity", 1, 1, data_dir)
    for key in ("pck", "per_group", "per_joint", "mean_threshold_px", "windows", "joints_counted"):
        assert via_model[key] == via_coords[key]
    assert via_model["windows"] > 0 and via_model["joints_counted"] > 0


def test_evaluation_json(tmp_path, data_dir):
    ckpt = save_model(tmp_path / "m.pt", "conv3d", shift=2, experiment=3)
    result = evaluate_checkpoint(ckpt, data_dir, split="val", batch_size=3)
    json.dumps(result, allow_nan=False)  # strict JSON: nulls, never NaN
    assert (result["model"], result["shift"], result["experiment"], result["split"]) == (
        "conv3d",
        2,
        3,
        "val",
    )
    assert set(result["pck"]) == set(result["mean_threshold_px"]) == {"0.05", "0.1", "0.2"}
    assert set(result["per_group"]["0.2"]) == set(GROUPS)
    assert set(result["per_joint"]["0.2"]) == set(JOINTS)
    assert result["per_joint"]["0.2"]["left_pinky"] is None  # never present: nothing counted
    assert result["fingerprints"]["data"] == PreparedDataset.load(data_dir).fingerprint()
    assert len(result["fingerprints"]["checkpoint"]) == 64

    # the batched evaluation equals PCK over all windows at once
    ds = PreparedDataset.load(data_dir)
    inputs = eval_inputs(ds, Experiment(2, 3), "val")
    from posedenoise.checkpoint import load_model
    from posedenoise.pipeline import iterate_batches

    model, _ = load_model(ckpt)
    batch = next(iterate_batches(inputs, len(inputs)))
    with torch.inference_mode():
        whole = pck(predict_coords(model, batch.x), inputs.gt_coords, inputs.present, inputs.torso)
    assert result["windows"] == len(inputs)
    for a in (0.05, 0.1, 0.2):
        assert result["pck"][f"{a:g}"] == pytest.approx(whole[a].overall, abs=1e-12)
    assert result["joints_counted"] == whole[0.2].counted


def test_more_noise_lowers_identity_pck(data_dir):
    k1 = evaluate_baseline("identity", 1, 1, data_dir)["pck"]
    k2 = evaluate_baseline("identity", 2, 1, data_dir)["pck"]
    assert k2["0.2"] < k1["0.2"] < 1.0


class CallCounter:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_cache_invalidated_by_checkpoint_and_data(tmp_path, monkeypatch):
    data = prepare(tmp_path / "prepared", seed=0)
    run = tmp_path / "runs" / "conv3d" / "1.2"
    save_model(run / "best.pt", "conv3d", shift=1, experiment=2, kernel_size=3)
    counter = CallCounter(evaluate.evaluate_checkpoint)
    monkeypatch.setattr(evaluate, "evaluate_checkpoint", counter)

    first = cached_evaluation(run, data)
    assert counter.calls == 1 and (run / "eval-test.json").is_file()
    assert cached_evaluation(run, data) == first
    assert counter.calls == 1  # reused

    assert cached_evaluation(run, data, limit=3)["windows"] == 3
    assert counter.calls == 2  # another window limit is another evaluation
    cached_evaluation(run, data)
    assert counter.calls == 3

    save_model(run / "best.pt", "conv3d", shift=1, experiment=2, epoch=2, kernel_size=3)  # new bytes
    second = cached_evaluation(run, data)
    assert counter.calls == 4
    assert second["fingerprints"]["checkpoint"] != first["fingerprints"]["checkpoint"]
    cached_evaluation(run, data)
    assert counter.calls == 4

    prepare(data, seed=1)  # the data changed under the same folder
    third = cached_evaluation(run, data)
    assert counter.calls == 5
    assert third["fingerprints"]["data"] != first["fingerprints"]["data"]

    (run / "eval-test.json").write_text("{ truncated")  # a damaged cache is redone, not an error
    cached_evaluation(run, data)
    assert counter.calls == 6
    assert json.loads((run / "eval-test.json").read_text())["fingerprints"] == third["fingerprints"]

    assert cached_evaluation(run, data, split="val", evaluate_if_stale=False) is None
    assert counter.calls == 6


def test_baseline_cache_invalidated_by_data(tmp_path, monkeypatch):
    data = prepare(tmp_path / "prepared", seed=0)
    runs = tmp_path / "runs"
    counter = CallCounter(evaluate.evaluate_baseline)
    monkeypatch.setattr(evaluate, "evaluate_baseline", counter)
    first = cached_baseline("identity", 2, 2, runs, data)
    assert (runs / "baselines" / "identity" / "2.2" / "eval-test.json").is_file()
    assert cached_baseline("identity", 2, 2, runs, data) == first and counter.calls == 1
    prepare(data, seed=3)
    cached_baseline("identity", 2, 2, runs, data)
    assert counter.calls == 2


def test_errors(tmp_path, data_dir):
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(InputError, match="best.pt"):
        evaluate_checkpoint(tmp_path / "empty_run", data_dir)
    with pytest.raises(InputError, match="no such"):
        cached_evaluation(tmp_path / "nope", data_dir)
    with pytest.raises(PoseDenoiseError, match="unknown baseline"):
        evaluate_baseline("median", 1, 1, data_dir)
    with pytest.raises(PoseDenoiseError, match="split"):
        evaluate_baseline("identity", 1, 1, data_dir, split="testing")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        evaluate_checkpoint(tmp_path / "bad.pt", data_dir)


@pytest.mark.parametrize("name", ["oneeuro", "savgol", "gaussian"])
def test_smoother_baselines(data_dir, name):
    pytest.importorskip("posedenoise.smoothers")
    identity = evaluate_baseline("identity", 2, 1, data_dir)
    smoothed = evaluate_baseline(name, 2, 1, data_dir)
    assert smoothed["model"] == name and smoothed["joints_counted"] == identity["joints_counted"]
    # averaging independent per-frame shifts over time pulls the joints toward the truth
    assert smoothed["pck"]["0.2"] > identity["pck"]["0.2"]


def test_smoother_parameters_are_part_of_the_cache(tmp_path, data_dir):
    pytest.importorskip("posedenoise.smoothers")
    runs = tmp_path / "runs"
    narrow = cached_baseline("gaussian", 1, 1, runs, data_dir, params={"sigma": 0.5})
    wide = cached_baseline("gaussian", 1, 1, runs, data_dir, params={"sigma": 2.0})
    assert narrow["params"] == {"sigma": 0.5} and wide["params"] == {"sigma": 2.0}
    assert narrow["pck"] != wide["pck"]
    with pytest.raises(PoseDenoiseError, match="gaussian"):
        evaluate_baseline("gaussian", 1, 1, data_dir, params={"width": 3})
