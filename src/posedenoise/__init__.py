"""posedenoise: temporal denoising of 2D human pose heatmaps.

The library core is importable without the command line (no typer or rich here).
"""

from posedenoise.errors import InputError, PoseDenoiseError

__version__ = "0.1.0"
__all__ = ["InputError", "PoseDenoiseError", "__version__"]
