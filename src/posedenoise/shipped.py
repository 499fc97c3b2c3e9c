"""Trained models that ship inside the package (`posedenoise/weights/<name>.pt`).

A shipped model is an ordinary checkpoint (`checkpoint.read_checkpoint` reads it) whose meta carries a
`card`: what it was trained on, with which noise, for how long, and what it measured on data it never saw
(the full card, with the commands that made it, is `docs/models/<name>.md`). Its name is accepted wherever
a checkpoint path is (`evaluate`, `denoise`, `train --init-from`); a file or folder of that name in the
current directory wins over a shipped model, so nothing the user has is ever shadowed.
Names: the chapter's study models `<model>-<k>.<y>` (e.g. `conv3d-1.2`); the real-track model `posetcn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_TRACK_MODEL = "posetcn"  # what `denoise INPUT -o OUTPUT` uses when given no model and no filter


def list_shipped() -> list[str]:
    """Names of the shipped models, sorted."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


def shipped_path(name: str | Path) -> Path | None:
    """The file of shipped model `name`, or None if there is none by that name."""
    name = str(name)
    if "/" in name or "\\" in name or name.endswith(".pt"):
        return None
    path = WEIGHTS_DIR / f"{name}.pt"
    return path if path.is_file() else None


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """A path that exists stays as it is; otherwise a shipped model's name becomes its file."""
    path = Path(path_or_name)
    if path.exists():
        return path
    return shipped_path(path_or_name) or path


@dataclass(frozen=True)
class ShippedModel:
    name: str
    model: str  # registry name of the architecture
    card: dict[str, Any]  # "summary" (one line), "data", "noise", "training", "cpu_hours", "test", "doc"

    @property
    def summary(self) -> str:
        return str(self.card.get("summary", ""))


def shipped_models() -> list[ShippedModel]:
    """Every shipped model with its card (reads each checkpoint's meta)."""
    from posedenoise.checkpoint import read_checkpoint

    out = []
    for name in list_shipped():
        meta = read_checkpoint(WEIGHTS_DIR / f"{name}.pt")["meta"]
        out.append(ShippedModel(name, meta["model"], dict(meta.get("card", {}))))
    return out


def export_checkpoint(source: str | Path, name: str, card: dict[str, Any], into: Path | None = None) -> Path:
    """Write the weights and meta of checkpoint `source` (no optimizer or history) with `card` as shipped
    model `name` (into the package's weights folder unless `into` is given). Returns the new file."""
    from posedenoise import fileio
    from posedenoise.checkpoint import read_checkpoint

    ckpt = read_checkpoint(source)
    slim = {
        "format": ckpt["format"],
        "version": ckpt["version"],
        "meta": {**ckpt["meta"], "card": card, "shipped_name": name},
        "state_dict": {k: v.contiguous() for k, v in ckpt["state_dict"].items()},
    }
    target = (into or WEIGHTS_DIR) / f"{name}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    fileio.save_torch(target, slim)
    return target
