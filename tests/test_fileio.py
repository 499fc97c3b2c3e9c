"""Atomic writes leave files and folders with the modes the user's umask asks for."""

import os
import stat

import pytest

from posedenoise import fileio
from posedenoise.prepare import prepare_dataset


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_atomic_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        fileio.write_json(tmp_path / "a.json", {"x": 1})
        fileio.write_text(tmp_path / "sub" / "b.txt", "hello")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.json") == 0o666 & ~mask
    assert mode(tmp_path / "sub" / "b.txt") == 0o666 & ~mask
    assert os.umask(old) == old  # the umask is left as it was


def test_prepared_folder_follows_the_umask(tmp_path, tiny_tracks, umask_027):
    prepare_dataset(tiny_tracks[:2], tmp_path / "p", seed=0)
    assert mode(tmp_path / "p") == 0o750
    for f in (tmp_path / "p").iterdir():
        assert mode(f) == 0o640, f
