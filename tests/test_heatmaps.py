import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from posedenoise.heatmaps import argmax, render

SIGMAS = (1.0, 1.5, 2.0, 2.5, 3.0)
POSITIONS = [(0, 0), (55, 55), (0, 55), (55, 0), (1, 54), (2, 30), (27.4, 3.6), (30.5, 12.5), (53.2, 1.8)]


def scipy_map(x, y, sigma, size=56, peak=255.0):
    delta = np.zeros((size, size))
    delta[int(np.clip(np.round(y), 0, size - 1)), int(np.clip(np.round(x), 0, size - 1))] = peak
    return gaussian_filter(delta, sigma, mode="nearest")


@pytest.mark.parametrize("sigma", SIGMAS)
def test_render_equals_scipy_nearest_including_borders(sigma):
    coords = torch.tensor(POSITIONS, dtype=torch.float32)  # (K, 2)
    maps = render(coords, torch.ones(len(POSITIONS), dtype=torch.bool), sigma)
    for k, (x, y) in enumerate(POSITIONS):
        ref = scipy_map(x, y, sigma)
        np.testing.assert_allclose(maps[k].double().numpy(), ref, rtol=1e-4, atol=1e-4 * ref.max())


def test_border_peak_stays_on_the_joint_for_large_sigma():
    # with `reflect` the peak of a joint one pixel from the border moves onto the border for sigma >= 2
    maps = render(torch.tensor([[1.0, 1.0]]), torch.tensor([True]), 3.0)
    assert argmax(maps).tolist() == [[1.0, 1.0]]


def test_per_window_sigma_tensor_and_missing_joints():
    g = torch.Generator().manual_seed(0)
    coords = torch.rand((3, 5, 25, 2), generator=g) * 55
    present = torch.rand((3, 5, 25), generator=g) > 0.3
    sigma = torch.tensor([[1.0], [2.5], [3.0]])  # (B, 1) broadcast over frames
    maps = render(coords, present, sigma)
    assert maps.shape == (3, 5, 25, 56, 56) and maps.dtype == torch.float32
    assert (maps[~present] == 0).all()
    b, t, k = 1, 2, int(present[1, 2].nonzero()[0])
    x, y = coords[b, t, k].tolist()
    np.testing.assert_allclose(maps[b, t, k].double().numpy(), scipy_map(x, y, 2.5), rtol=1e-4, atol=1e-3)


def test_render_into_preallocated_buffer_matches_fresh():
    coords = torch.rand((2, 5, 25, 2)) * 55
    present = torch.ones((2, 5, 25), dtype=torch.bool)
    out = torch.full((2, 5, 25, 56, 56), 7.0)
    res = render(coords, present, 1.5, out=out)
    assert res.data_ptr() == out.data_ptr()
    assert torch.equal(res, render(coords, present, 1.5))


def test_argmax_recovers_rounded_positions():
    coords = torch.tensor([[[3.4, 50.6], [0.0, 0.0], [55.0, 20.2]]])
    maps = render(coords, torch.ones((1, 3), dtype=torch.bool), 2.0)
    assert argmax(maps).tolist() == [[[3.0, 51.0], [0.0, 0.0], [55.0, 20.0]]]
