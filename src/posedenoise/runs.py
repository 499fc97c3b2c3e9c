"""Where the files of a training run, and of a baseline's evaluations, live in a runs folder.

    <runs>/<model>/<k>.<y><suffix>/               one training run: config.json, history.csv, best.pt,
                                                  last.pt, and eval-<split>.json (its best.pt evaluated)
    <runs>/baselines/<name>/<k>.<y><suffix>/      eval-<split>.json of a baseline (identity, a smoother)

`<suffix>` is the noise profile's (`NoiseProfile.run_suffix`): "" for the chapter's, "-realistic" for the
realistic one, so that runs of two profiles never share a folder. This module names paths only: it loads
neither PyTorch nor the training code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posedenoise.noise import Experiment, NoiseProfile

RUN_FILES = ("config.json", "history.csv", "best.pt", "last.pt")  # what training writes into a run folder
BASELINES_FOLDER = "baselines"


@dataclass(frozen=True)
class Run:
    """The folder of one run (or of one baseline's evaluations) and the files in it."""

    dir: Path

    @classmethod
    def trained(cls, runs: str | Path, model: str, experiment: Experiment, noise: NoiseProfile) -> Run:
        """The run of `model` on `experiment` with `noise`: `<runs>/<model>/<k>.<y><suffix>/`."""
        return cls(Path(runs) / model / f"{experiment.name}{noise.run_suffix}")

    @classmethod
    def baseline(cls, runs: str | Path, name: str, experiment: Experiment, noise: NoiseProfile) -> Run:
        """Where the evaluations of baseline `name` live: `<runs>/baselines/<name>/<k>.<y><suffix>/`."""
        return cls(Path(runs) / BASELINES_FOLDER / name / f"{experiment.name}{noise.run_suffix}")

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    @property
    def history(self) -> Path:
        return self.dir / "history.csv"

    @property
    def best(self) -> Path:
        """The weights of the epoch with the highest validation PCK@0.2."""
        return self.dir / "best.pt"

    @property
    def last(self) -> Path:
        """The last finished epoch, with everything needed to resume."""
        return self.dir / "last.pt"

    def evaluation(self, split: str) -> Path:
        """The cached evaluation of the run's best.pt (of the baseline) on `split`."""
        return self.dir / f"eval-{split}.json"


def evaluation_of(checkpoint: str | Path, split: str) -> Path:
    """Where the evaluation of any checkpoint file is cached: a run's best.pt as the run's evaluation,
    another `x.pt` beside it as `x.eval-<split>.json`."""
    checkpoint = Path(checkpoint)
    if checkpoint.name == "best.pt":
        return Run(checkpoint.parent).evaluation(split)
    return checkpoint.parent / f"{checkpoint.stem}.eval-{split}.json"
