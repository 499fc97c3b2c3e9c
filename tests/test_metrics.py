import math

import numpy as np
import pytest
import torch

from posedenoise.metrics import PCKAccumulator, pck


def toy():
    """3 frames x 3 joints, torso 10 / NaN / 20 px; hits worked out by hand below."""
    gt = np.zeros((3, 3, 2), dtype=np.float32)
    pred = gt.copy()
    present = np.ones((3, 3), dtype=bool)
    torso = np.array([10.0, np.nan, 20.0], dtype=np.float32)
    # frame 0 (thresholds 0.5 / 1 / 2 px): distances 0.4, 2.0 (exactly on the @0.2 threshold), 3.0
    pred[0, 0] = (0.4, 0.0)
    pred[0, 1] = (0.0, 2.0)
    pred[0, 2] = (3.0, 0.0)
    # frame 1 has no torso diameter: even a perfect prediction is not counted
    # frame 2 (thresholds 1 / 2 / 4 px): distances 1.5 (3-4-5 triangle x 0.3), missing, 5.0
    pred[2, 0] = (0.9, 1.2)
    present[2, 1] = False
    pred[2, 1] = (100.0, 100.0)  # would be a miss if it were counted
    pred[2, 2] = (3.0, 4.0)
    return pred, gt, present, torso


def test_pck_hand_computed():
    res = pck(*toy())
    # counted: frame 0 joints 0-2, frame 2 joints 0 and 2 -> 5
    assert res[0.05].counted == res[0.1].counted == res[0.2].counted == 5
    # @0.05: only 0.4 <= 0.5 -> 1/5
    assert res[0.05].overall == pytest.approx(1 / 5)
    # @0.1: 0.4 <= 1, 1.5 <= 2 -> 2/5
    assert res[0.1].overall == pytest.approx(2 / 5)
    # @0.2: 0.4, 2.0 (<= 2 inclusive), 1.5 <= 4 -> 3/5
    assert res[0.2].overall == pytest.approx(3 / 5)
    np.testing.assert_allclose(res[0.2].per_joint, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(res[0.1].per_joint, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(res[0.2].counts, [2, 1, 2])
    # mean threshold over counted joints: torso values 10, 10, 10, 20, 20 -> mean 14
    assert res[0.2].mean_threshold == pytest.approx(0.2 * 14)
    assert res[0.05].mean_threshold == pytest.approx(0.05 * 14)


def test_per_joint_nan_where_never_counted():
    pred, gt, present, torso = toy()
    present[:, 1] = False
    res = pck(pred, gt, present, torso)[0.2]
    assert math.isnan(res.per_joint[1])
    assert not np.isnan(res.per_joint[[0, 2]]).any()
    assert res.counted == 4
    assert math.isnan(res.group([1]))
    assert res.group([0, 1, 2]) == pytest.approx(res.overall)


def test_nothing_counted_is_nan():
    pred, gt, present, _ = toy()
    res = pck(pred, gt, present, np.full(3, np.nan))[0.1]
    assert res.counted == 0 and math.isnan(res.overall) and np.isnan(res.per_joint).all()


def test_micro_average_weighs_every_joint_once():
    # joint 0 counted 3 times (all hits), joint 1 once (a miss): micro = 3/4, not the macro 1/2
    gt = np.zeros((3, 2, 2))
    pred = gt.copy()
    pred[0, 1] = (50, 0)
    present = np.array([[True, True], [True, False], [True, False]])
    res = pck(pred, gt, present, np.full(3, 10.0), alphas=(0.2,))[0.2]
    assert res.overall == pytest.approx(0.75)


def test_torch_input_and_batch_shape():
    pred, gt, present, torso = toy()
    as_np = pck(pred[None], gt[None], present[None], torso[None])
    as_torch = pck(
        torch.from_numpy(pred), torch.from_numpy(gt), torch.from_numpy(present), torch.from_numpy(torso)
    )
    for a in (0.05, 0.1, 0.2):
        assert as_np[a].overall == as_torch[a].overall
        np.testing.assert_array_equal(as_np[a].per_joint, as_torch[a].per_joint)


def test_accumulator_equals_one_shot():
    rng = np.random.default_rng(0)
    n, t, k = 37, 5, 25
    gt = rng.uniform(0, 55, (n, t, k, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    present = rng.random((n, t, k)) > 0.3
    torso = rng.uniform(5, 20, (n, t))
    torso[rng.random((n, t)) < 0.2] = np.nan
    whole = pck(pred, gt, present, torso)
    acc = PCKAccumulator(k)
    for lo in range(0, n, 8):  # uneven last batch
        acc.update(pred[lo : lo + 8], gt[lo : lo + 8], present[lo : lo + 8], torso[lo : lo + 8])
    parts = acc.result()
    for a in (0.05, 0.1, 0.2):
        assert parts[a].overall == whole[a].overall
        assert parts[a].counted == whole[a].counted
        np.testing.assert_array_equal(parts[a].hits, whole[a].hits)
        assert parts[a].mean_threshold == pytest.approx(whole[a].mean_threshold, rel=1e-12)
    # sanity: alpha orders accuracy
    assert whole[0.05].overall <= whole[0.1].overall <= whole[0.2].overall


def test_shape_mismatch_is_an_error():
    pred, gt, present, torso = toy()
    with pytest.raises(ValueError):
        pck(pred, gt[:2], present, torso)
    with pytest.raises(ValueError):
        pck(pred, gt, present[:, :2], torso)
