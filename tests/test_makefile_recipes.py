"""The study recipes of the Makefile (`make study`, the quick start, and `make study-long`, the longer
recipe of docs/fidelity.md) are commands the CLI accepts: every option exists, every value parses, and
every `--model-option` is an option of that model. Running them takes minutes to hours; a typo in one
would surface only when its turn came. Each command here runs for real against a data folder that does
not exist, so it must get past its options and stop at the data."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def recipe_commands(target: str) -> list[list[str]]:
    """The arguments of each posedenoise command `make -n TARGET` would run (make's own lines dropped)."""
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "BIN=BIN"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = out.replace("\\\n", " ")
    return [shlex.split(line)[1:] for line in text.splitlines() if line.startswith("BIN/posedenoise ")]


def with_paths(argv: list[str], **paths: Path) -> list[str]:
    argv = list(argv)
    for option, path in paths.items():
        argv[argv.index(f"--{option}") + 1] = str(path)
    return argv


@pytest.mark.parametrize("target", ["study", "study-long"])
def test_every_command_of_a_study_recipe_gets_past_its_options(target, tmp_path):
    commands = recipe_commands(target)
    verbs = [argv[0] for argv in commands]
    assert verbs[0] == "prepare" and verbs.count("train") == 4 and verbs[-1] == "report"
    trained = {argv[argv.index("--model") + 1] for argv in commands if argv[0] == "train"}
    assert trained == {"conv3d", "deciwatch", "convlstm-s", "convlstm-c"}
    missing = tmp_path / "no-data"
    for argv in commands[1:]:
        argv = with_paths(argv, data=missing, runs=tmp_path / "runs")
        if "--figure" in argv or "--output" in argv:
            argv = with_paths(argv, **{k: tmp_path / "out" for k in ("figure", "output") if f"--{k}" in argv})
        proc = subprocess.run(
            [sys.executable, "-m", "posedenoise", *argv], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, (argv, proc.stderr)  # 2 would be a usage error
        (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert str(tmp_path) in line, (argv, line)  # stopped at the missing data or runs folder
    assert not missing.exists() and not (tmp_path / "out").exists()


def test_the_long_recipe_trains_longer_than_the_quick_one():
    def budget(target: str, model: str) -> int:
        (argv,) = [
            a for a in recipe_commands(target) if a[0] == "train" and a[a.index("--model") + 1] == model
        ]
        last = len(argv) - 1 - argv[::-1].index("--max-epochs")  # a later option overrides an earlier one
        limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else 10**9
        return int(argv[last + 1]) * limit

    for model in ("conv3d", "deciwatch", "convlstm-s", "convlstm-c"):
        assert budget("study-long", model) > budget("study", model), model
