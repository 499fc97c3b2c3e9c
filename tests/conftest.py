"""Shared fixtures: a tiny prepared dataset, built once per test session in the official on-disk format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from posedenoise.prepare import prepare_dataset
from posedenoise.sources import Track
from posedenoise.sources.synthetic import SyntheticConfig, generate_synthetic

# 8 synthetic videos of 40-60 frames: about 70 windows at step 1 (43 train / 14 val / 15 test), enough for
# a few batches per epoch while an epoch of a small model takes well under a second on one CPU core.
TINY_VIDEOS = 8
TINY_FRAMES = (40, 60)


@pytest.fixture(scope="session")
def tiny_tracks() -> list[Track]:
    """A handful of short synthetic videos (both source layouts, so some joints are always missing)."""
    config = SyntheticConfig(min_frames=TINY_FRAMES[0], max_frames=TINY_FRAMES[1])
    return list(generate_synthetic(TINY_VIDEOS, seed=0, config=config))


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory, tiny_tracks) -> Path:
    """A prepared dataset folder of `tiny_tracks`. Read-only: tests that need other
    data prepare their own."""
    out = tmp_path_factory.mktemp("tiny") / "prepared"
    prepare_dataset(tiny_tracks, out, seed=0)
    return out


@pytest.fixture(scope="module")
def single_thread():
    """One intra-op thread for the module's tests: tiny models gain nothing from more, and on a shared,
    loaded machine OpenMP threads that spin-wait for each other make small training runs many times
    slower. Opt in with `pytestmark = pytest.mark.usefixtures("single_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
