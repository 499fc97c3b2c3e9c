"""Facts every stage shares (preparation, noise, training, denoising): the window, the grid, the splits.

Kept apart from the modules that use them, and free of imports, so that reading a dataset or cropping a
track does not load the noise model or PyTorch.
"""

WINDOW = 5  # frames per window (chapter 1.2.1)
GRID = 56  # heatmap side: poses are cropped onto a GRID x GRID grid
SPLITS = {"train": 0, "val": 1, "test": 2}  # split label of a window in the prepared data
