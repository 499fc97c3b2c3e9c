"""Apply a trained model, or a classic smoother, to the user's own pose tracks (`posedenoise denoise`).

Two methods, each an object that describes itself and knows its minimum frames, the joints it handles,
its delay and how to estimate a segment (`ModelMethod`, `SmootherMethod`); `denoise_file` picks one once.

Model path (`ModelMethod`), per track segment, exactly as in training:
  pixels -> per-frame square crop onto the 56 x 56 grid (`geometry.crop_to_grid`) -> input heatmaps of the
  detected joints (`heatmaps.render`, sigma_in) -> every 5-frame window at the model's step (step 2 for
  experiment 3), stride 1, batched -> `models.predict_coords` -> the estimates of a frame averaged over the
  windows that contain it -> back to pixels with that frame's box.
  3DConv takes an exact shortcut (`conv3d_window_argmax`): each frame is convolved once with every
  temporal tap instead of once per window it is in, about 5x less arithmetic at stride 1.
Filter path (`SmootherMethod`: `posedenoise.filters`, parameters in seconds and Hz): optional outlier
rejection, then the filter, on each segment's source keypoints (every landmark, any keypoint count), in
pixels.

Tracks are split where the whole body jumps or the detection stops for long (`breaks.track_breaks`); the
pieces are denoised independently. A piece shorter than one window (5 x step frames for a model, 3 for
a smoother) is left as it was and listed. Joints below `min_score` are missing: they get no input heatmap
and, by default (`fill_missing`), take the estimate (the model's from the windows where the joint is seen
in another frame; a filter's from interpolation between detections, then smoothing); with
`fill_missing=False` they keep the detector's values.

Delay for live use: a centred 5-frame window at step s needs 2 s frames after the one it reports (the
window's centre frame); this offline output averages every window containing a frame, so it reads up to
4 s frames ahead. One Euro is causal (0), Savitzky-Golay needs window // 2, Gaussian its kernel radius;
the zero-phase filters (Butterworth, forward-backward One Euro, Kalman/RTS) read the whole track.

The summary gives the jitter, mean |second difference| (px/frame^2) over every landmark of every triple
of consecutive frames inside a segment, before and after.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posedenoise import checks, fileio, filters, longtracks
from posedenoise.breaks import segments, track_breaks
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.filter_options import DEFAULT_JUMP, DEFAULT_MAX_GAP, DEFAULT_MIN_SCORE
from posedenoise.layout import (
    COCO17_TO_25,
    JOINTS,
    PENN13_TO_25,
    SOURCE_LAYOUTS,
    model_layout_problem,
    to_layout25,
)
from posedenoise.streaming import NotStreamable, StreamedResults, TrackOnDisk
from posedenoise.swaps import repair_swaps as swap_repair
from posedenoise.swaps import swap_back, swap_groups
from posedenoise.tracks import PersonTrack, TrackFile, layout25, read_tracks, write_tracks

if TYPE_CHECKING:
    import torch

# torch and the window constants (noise imports torch) are imported where a model runs: the filters
# do without them, and importing torch took seconds and a quarter of a gigabyte

# joints of the chapter's datasets (BRACE's COCO-17 and Penn Action's 13): what a study checkpoint written
# before checkpoints recorded their training joints was trained on
CHAPTER_JOINTS = np.flatnonzero((COCO17_TO_25 >= 0) | (PENN13_TO_25 >= 0))
MIN_SMOOTH_FRAMES = 3  # below this a smoother has nothing to work with
DEFAULT_FPS = 30.0  # for the filters when the file states no frame rate

ProgressFn = Callable[[str, int, int | None], None]  # (stage, done, total)


@dataclass
class DenoiseSummary:
    """What `denoise_file` did, for the user."""

    input: str
    output: str
    format: str  # of both files
    layout: str  # source layout of the keypoints
    method: str  # "model conv3d (experiment 1.2, step 1)" or "smoother savgol (window=5, polyorder=2)"
    tracks: int  # people followed
    records: int  # person-frames in the file
    changed_records: int  # person-frames with at least one joint changed
    segments: int  # pieces denoised independently (tracks split at breaks)
    splits: list[dict[str, Any]] = field(default_factory=list)  # {"track", "frame", "reason", "amount"}
    short_segments: list[dict[str, Any]] = field(default_factory=list)  # {"track", "first", "last", "frames"}
    min_score: float = 0.3  # joints scored below this were treated as missing
    missing_joints: int = 0  # joint-frames below min_score (among the joints the method changes)
    fill_missing: bool = True  # whether missing joints got estimates (True) or kept their values
    filled_joints: int = 0  # joint-frames filled
    passthrough: list[str] = field(default_factory=list)  # source landmarks left untouched by the method
    step: int = 1  # frames between the window's frames (model only)
    delay_frames: int = 0  # live use: frames after a frame that must arrive before it can be reported
    lookahead_frames: int = 0  # frames ahead this file's output actually used; -1: the whole track
    jitter_before: float = float("nan")  # mean |second difference| (px/frame^2) of the input
    jitter_after: float = float("nan")  # the same of the output
    rejected: int = 0  # joint-frames replaced by outlier rejection
    swaps: list[dict[str, Any]] = field(default_factory=list)  # {"track", "group", "frames"} swapped back
    fps: float | None = None  # frame rate the filter used
    settings: dict[str, Any] = field(default_factory=dict)  # method and parameters, as recorded
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as short lines for a terminal."""
        out = [
            f"{self.input} -> {self.output} ({self.format}, layout {self.layout})",
            f"method: {self.method}",
            f"{self.tracks} track(s), {self.records} person-frames, {self.changed_records} changed, "
            f"{self.segments} segment(s)",
        ]
        for s in self.splits:
            what = (
                f"body jumped {s['amount']:.2f} x its size"
                if s["reason"] == "jump"
                else f"{s['amount']:.0f} frames missing"
            )
            out.append(f"track {s['track']}: split at frame {s['frame']} ({what})")
        for s in self.short_segments:
            out.append(
                f"track {s['track']}: frames {s['first']}-{s['last']} ({s['frames']} frames) shorter than "
                f"the {s['needs']} needed; left unchanged"
            )
        state = "filled with estimates" if self.fill_missing else "kept as they were"
        out.append(
            f"{self.missing_joints} joint-frames below score {self.min_score} treated as missing, {state}"
            + (f" ({self.filled_joints} filled)" if self.fill_missing else "")
        )
        for s in self.swaps:
            out.append(
                f"track {s['track']}: left/right swap of the {s['group']} repaired at frame(s) "
                f"{_ranges(s['frames'])}"
            )
        if self.rejected:
            out.append(f"{self.rejected} joint-frames replaced as outliers by their window's median")
        if self.passthrough:
            out.append(f"not changed (outside the 25-joint layout): {', '.join(self.passthrough)}")
        if math.isfinite(self.jitter_before):
            ratio = self.jitter_after / self.jitter_before if self.jitter_before > 0 else float("nan")
            out.append(
                f"jitter (mean |second difference|): {self.jitter_before:.2f} -> {self.jitter_after:.2f} "
                f"px/frame^2 ({100 * ratio:.0f}% of the input)"
            )
        if self.lookahead_frames < 0:
            out.append("delay for live use: none possible (this filter reads the whole track; offline only)")
        else:
            out.append(
                f"delay for live use: {self.delay_frames} frame(s); this output used up to "
                f"{self.lookahead_frames} frame(s) ahead"
            )
        out.extend(self.notes)
        return out


def covering_window_starts(length: int, step: int = 1, stride: int = 1) -> np.ndarray:
    """First frames of the windows over `length` consecutive frames: 5 frames `step` apart.

    stride 1 starts a window at every frame (each frame is then in 5 windows away from the ends). A
    larger stride (at most 5) starts one every `stride` windows of each frame phase, plus the last one
    of the phase, so every frame stays covered at about 1/stride of the cost.
    """
    from posedenoise.noise import WINDOW

    if not 1 <= stride <= WINDOW:
        raise PoseDenoiseError(f"stride must be between 1 and {WINDOW}, got {stride}")
    last = length - 1 - (WINDOW - 1) * step  # last possible start
    if last < 0:
        return np.zeros(0, dtype=np.int64)
    starts = []
    for phase in range(min(step, last + 1)):
        final = last - (last - phase) % step  # the last start of this phase
        phase_starts = np.arange(phase, final + 1, step * stride)
        starts.append(np.union1d(phase_starts, [final]))
    return np.unique(np.concatenate(starts)).astype(np.int64)


def denoise_track(
    coords: np.ndarray,
    present: np.ndarray,
    model: torch.nn.Module,
    step: int = 1,
    sigma_in: float = 1.0,
    margin: float = 0.1,
    fill_missing: bool = False,
    stride: int = 1,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    subpixel: bool = True,
) -> np.ndarray:
    """Denoise one contiguous piece of track with a model.

    coords (T, 25, 2) pixels of consecutive frames, present (T, 25) bool (a frame without a detection is
    all False). Every window of 5 frames `step` apart (`stride` = 1: a window at every frame; see
    `covering_window_starts`) is cropped, rendered with sigma_in and passed through the model in batches; a
    frame's estimate is the mean over the windows containing it.
    Returns (T, 25, 2) pixels, NaN where there is no estimate: frames with fewer than 2 present joints, a
    piece shorter than 5 x step frames, and (unless fill_missing) joints not present in that frame. With
    fill_missing a missing joint is estimated from the windows where it is present in some other frame.

    subpixel (the default for real tracks): input maps drawn at the float grid position and output maps
    read below the grid pixel (`heatmaps.render_subpixel` / `argmax_subpixel`; a coordinate model such as
    DeciWatch gets the float coordinates themselves), so that the grid costs a 900-pixel person well under
    a pixel instead of ~6. False: the chapter's rounding, exactly as the models were evaluated.
    """
    import torch

    from posedenoise.geometry import crop_to_grid
    from posedenoise.heatmaps import render, render_subpixel
    from posedenoise.models import predict_coords
    from posedenoise.noise import GRID, WINDOW

    coords = np.asarray(coords, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    t = len(coords)
    out = np.full((t, coords.shape[1], 2), np.nan)
    span = (WINDOW - 1) * step
    if t <= span:
        return out
    grid, boxes, keep = crop_to_grid(coords, present, margin=margin, size=GRID)  # (T, 25, 2), (T, 3), (T,)
    seen = present & keep[:, None]  # (T, 25) joints drawn into the input
    starts = covering_window_starts(t, step, stride)
    frame_of = starts[:, None] + step * np.arange(WINDOW)  # (N, 5) frame index of each window position

    grid_t = torch.from_numpy(grid).to(device)
    seen_t = torch.from_numpy(seen).to(device)
    total = np.zeros((t, coords.shape[1], 2))
    weight = np.zeros((t, coords.shape[1]))
    model.eval()
    by_frames = _is_plain_conv3d(model)
    on_coords = subpixel and hasattr(model, "forward_coords")  # DeciWatch: skip the maps altogether
    draw = render_subpixel if subpixel else render
    with torch.inference_mode():
        for b in range(0, len(starts), batch_size):
            idx = frame_of[b : b + batch_size]  # (B, 5)
            if by_frames:
                # each frame drawn and convolved once, however many windows it is in
                lo, hi = int(idx[0, 0]), int(idx[-1, -1]) + 1  # frames the batch reads
                maps = draw(grid_t[lo:hi], seen_t[lo:hi], sigma_in, size=GRID)  # (F, 25, 56, 56)
                local = torch.from_numpy(idx - lo).to(device)
                pred = conv3d_window_argmax(model.conv, maps, local, subpixel).cpu().numpy()  # (B, 5, 25, 2)
            elif on_coords:
                window = torch.where(seen_t[idx].unsqueeze(-1), grid_t[idx], 0.0)  # as argmax of a zero map
                pred = model.forward_coords(window.float(), GRID).float().cpu().numpy()
            else:
                x = draw(grid_t[idx], seen_t[idx], sigma_in, size=GRID)  # (B, 5, 25, 56, 56)
                pred = predict_coords(model, x, subpixel).float().cpu().numpy()  # (B, 5, 25, 2)
            w = seen[idx]  # (B, 5, 25)
            if fill_missing:
                w = w | (seen[idx].any(axis=1, keepdims=True) & keep[idx][..., None])
            w = w.astype(np.float64)
            np.add.at(total, idx, pred * w[..., None])
            np.add.at(weight, idx, w)
    estimated = (weight > 0) & keep[:, None]
    mean_grid = total / np.maximum(weight, 1)[..., None]
    origin, side = boxes[:, None, :2], boxes[:, None, 2:3]  # (T, 1, 2), (T, 1, 1)
    pixels = mean_grid / (GRID - 1) * side + origin  # inverse of crop_to_grid
    out[estimated] = pixels[estimated]
    return out


def _is_plain_conv3d(model: torch.nn.Module) -> bool:
    import torch

    from posedenoise.models.conv3d import Conv3dDenoiser

    conv = getattr(model, "conv", None)
    return (
        type(model) is Conv3dDenoiser
        and isinstance(conv, torch.nn.Conv3d)
        and conv.stride == (1, 1, 1)
        and conv.dilation == (1, 1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and isinstance(conv.padding, tuple)
    )


def conv3d_window_argmax(
    conv: torch.nn.Conv3d, frame_maps: torch.Tensor, window_frames: torch.Tensor, subpixel: bool = False
) -> torch.Tensor:
    """Argmax (x, y) of ReLU(`conv`) over every window of frames, from one 2-D convolution per frame.

    frame_maps (F, C_in, H, W); window_frames (B, T) long, the rows of frame_maps making each window.
    Returns (B, T, C_out, 2) float32: `heatmaps.argmax(relu(conv(window)))` with the convolution over
    (time, H, W) of each window and its zero padding in time. A 3-D convolution is a sum over its
    temporal taps of 2-D convolutions of single frames, so each frame is convolved once with all taps,
    and each window's output is a sum of those: with a window at every frame, 5x less arithmetic than
    running the 3-D convolution window by window, for the same result (up to float rounding).
    """
    import torch

    weight = conv.weight  # (C_out, C_in, kt, kh, kw)
    c_out, c_in, kt, kh, kw = weight.shape
    pad_t = conv.padding[0]
    n_frames, _, h, w = frame_maps.shape
    frame_maps = frame_maps.contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout
    taps = torch.nn.functional.conv2d(
        frame_maps, weight.permute(2, 0, 1, 3, 4).reshape(kt * c_out, c_in, kh, kw), padding=conv.padding[1:]
    )
    taps = taps.contiguous().view(n_frames, kt, c_out, h, w)  # taps[f, a]: frame f through temporal tap a
    b, t = window_frames.shape
    coords = torch.empty((b, t, c_out, 2), dtype=torch.float32, device=taps.device)
    out = torch.empty((b, c_out, h, w), dtype=taps.dtype, device=taps.device)
    for p in range(t):  # output time
        if conv.bias is not None:
            out.copy_(conv.bias.view(1, c_out, 1, 1).expand_as(out))
        else:
            out.zero_()
        for a in range(kt):  # temporal tap, reading the window's input time q
            q = p + a - pad_t
            if not 0 <= q < t:
                continue  # zero padding
            rows = window_frames[:, q]
            first = int(rows[0])
            if int(rows[-1]) - first == b - 1 and bool((rows.diff() == 1).all()):
                out += taps[first : first + b, a]  # consecutive windows: a view, no copy
            else:
                out += taps[rows, a]
        if subpixel:
            from posedenoise.heatmaps import argmax_subpixel

            coords[:, p] = argmax_subpixel(out.clamp(min=0))  # ReLU, then read below the pixel
            continue
        flat = out.flatten(-2)  # (B, C_out, H * W)
        best, where = flat.max(dim=-1)
        where = torch.where(best > 0, where, 0)  # ReLU: an all-negative map is all zero, argmax (0, 0)
        coords[:, p, :, 0] = (where % w).float()
        coords[:, p, :, 1] = torch.div(where, w, rounding_mode="floor").float()
    return coords


class SmootherMethod:
    """A classic filter (`posedenoise.filters`, parameters in seconds and Hz) on each segment's source
    keypoints: every landmark, any keypoint count, in pixels."""

    kind = "filter"
    step = 1
    min_frames = MIN_SMOOTH_FRAMES
    repairs_swaps_by_default = False

    def __init__(self, filter: str, params: dict[str, Any], fill_missing: bool):
        self.filter, self.params, self.fill_missing = filter, params, fill_missing

    def describe(self) -> str:
        return f"filter {filters.describe(self.filter, self.params)}"

    def check(self, fps: float) -> None:
        """Refuse parameters that do not suit the frame rate."""
        filters.check(self.filter, self.params, fps)

    def layout_problem(self, layout: str) -> str | None:
        return None  # any layout, named or not

    def joints_handled(
        self, names: list[str], mapping: np.ndarray
    ) -> tuple[np.ndarray, list[str], list[str]]:
        """(K,) bool source joints it changes, landmarks passed through, those left for want of training."""
        return np.ones(len(names), dtype=bool), [], []

    def delay(self, fps: float) -> tuple[int, int]:
        """(frames a live output waits for, frames ahead this output reads; -1: the whole track)."""
        frames = filters.delay_frames(self.filter, fps, **self.params)
        return frames, frames

    def estimate(
        self, track: PersonTrack, present: np.ndarray, s: int, e: int, layout: str, fps: float
    ) -> np.ndarray:
        """(e - s, K_src, 2) new keypoints for frames s:e of a track, NaN where they stay as they were."""
        pos = track.frames[s:e] - track.frames[s]  # index of each detection in the dense piece
        # undetected frames and missing joints: NaN, bridged by the filter
        seen = np.where(present[s:e, :, None], track.keypoints[s:e], np.nan)
        dense = _dense_piece(track.frames[s:e], seen, np.nan)
        scores = _dense_piece(track.frames[s:e], track.scores[s:e], 0.0)
        smoothed = filters.run_filter(self.filter, dense, fps, scores=scores, **self.params)[pos]
        allowed = present[s:e] | (self.fill_missing & _between_detections(present[s:e]))
        return np.where(allowed[..., None], smoothed, np.nan)


class ModelMethod:
    """A trained model on each segment in the 25-joint layout: a real-track model on whole tracks, or a
    window model (`denoise_track`); only the joints of its training data change."""

    kind = "model"

    def __init__(
        self,
        model: torch.nn.Module,
        step: int,
        description: str,
        trained_joints: np.ndarray | None,
        min_score: float,
        fill_missing: bool,
        window_options: dict[str, Any],
    ):
        self.model, self.step, self.description = model, step, description
        self.trained_joints = trained_joints  # (25,) bool: joints the model may change (None: all)
        self.min_score, self.fill_missing = min_score, fill_missing
        self.window_options = window_options  # `denoise_track`'s keywords
        self.on_tracks = getattr(model, "input_kind", None) == "tracks"  # whole tracks, not windows

    @property
    def repairs_swaps_by_default(self) -> bool:
        # a real-track model fixes a swap the repair missed less surely than it fixes jitter, unless it
        # finds swaps itself (the shipped posetcn): then it does better alone (its model card)
        return self.on_tracks and getattr(self.model, "swap_detector", None) is None

    @property
    def min_frames(self) -> int:
        from posedenoise.noise import WINDOW

        return MIN_SMOOTH_FRAMES if self.on_tracks else WINDOW * self.step

    def describe(self) -> str:
        return self.description

    def check(self, fps: float) -> None:
        pass  # a model works in frames, at any frame rate

    def layout_problem(self, layout: str) -> str | None:
        return model_layout_problem(layout)

    def joints_handled(
        self, names: list[str], mapping: np.ndarray
    ) -> tuple[np.ndarray, list[str], list[str]]:
        """(K,) bool source joints it changes, landmarks passed through, those left for want of training."""
        changes = mapping >= 0  # (25,) joints of the layout the file has
        if self.trained_joints is not None:
            changes &= self.trained_joints
        handled = np.zeros(len(names), dtype=bool)
        handled[mapping[changes]] = True  # source joints the model changes
        untrained = [names[mapping[j]] for j in np.flatnonzero((mapping >= 0) & ~changes)]
        return handled, [n for n in names if n not in JOINTS] + untrained, untrained

    def delay(self, fps: float) -> tuple[int, int]:
        """(frames a live output waits for, frames ahead this output reads)."""
        from posedenoise.noise import WINDOW

        if self.on_tracks:
            frames = self.model.config.receptive_field // 2
            return frames, frames
        return (WINDOW - 1) // 2 * self.step, (WINDOW - 1) * self.step

    def estimate(
        self, track: PersonTrack, present: np.ndarray, s: int, e: int, layout: str, fps: float
    ) -> np.ndarray:
        """(e - s, K_src, 2) new keypoints for frames s:e of a track, NaN where they stay as they were."""
        names, mapping = SOURCE_LAYOUTS[layout]
        pos = track.frames[s:e] - track.frames[s]  # index of each detection in the dense piece
        length = int(pos[-1]) + 1
        coords25, present25 = layout25(track, layout, self.min_score)
        dense = np.zeros((length, len(JOINTS), 2))
        dense_present = np.zeros((length, len(JOINTS)), dtype=bool)
        dense[pos], dense_present[pos] = coords25[s:e], present25[s:e]
        if self.on_tracks:
            from posedenoise.tracktrain import predict_tracks

            dense_score = np.zeros((length, len(JOINTS)))
            dense_score[pos] = to_layout25(track.scores[s:e, :, None], mapping)[0][..., 0]
            est25 = predict_tracks(self.model, dense[None], dense_present[None], dense_score[None])[0][pos]
            allowed = present25[s:e] | (self.fill_missing & _between_detections(present25[s:e]))
            est25 = np.where(allowed[..., None], est25, np.nan)
        else:
            est25 = denoise_track(dense, dense_present, self.model, **self.window_options)  # (L, 25, 2)
            est25 = est25[pos]  # (e - s, 25, 2)
        out = np.full((e - s, len(names), 2), np.nan)
        has = mapping >= 0
        if self.trained_joints is not None:
            has = has & self.trained_joints
        out[:, mapping[has]] = est25[:, has]
        return out


def _choose_method(
    checkpoint: str | Path | None,
    filter: str | None,
    model: torch.nn.Module | None,
    step: int | None,
    params: dict[str, Any],
    device: str,
    sigma_in: float,
    min_score: float,
    fill_missing: bool,
    window_options: dict[str, Any],
) -> SmootherMethod | ModelMethod:
    """The method of `denoise_file`: a filter, or a model loaded from a checkpoint, built, or given."""
    if filter is not None:
        return SmootherMethod(filter, params, fill_missing)
    trained_joints: np.ndarray | None = None  # (25,) bool: joints a model may change (None: all)
    unshipped_architecture = False
    if checkpoint is not None:
        from posedenoise.models import list_models
        from posedenoise.shipped import resolve_checkpoint

        unshipped_architecture = (
            str(checkpoint) in list_models() and not resolve_checkpoint(checkpoint).exists()
        )
    if unshipped_architecture:
        # a registered model without weights to learn (the identity): built, not loaded
        from posedenoise.models import create_model

        model = create_model(str(checkpoint))
        if any(True for _ in model.parameters()):
            raise PoseDenoiseError(
                f"{checkpoint} is an architecture, not a trained model: give its checkpoint or a shipped name"
            )
        step = 1
        description = f"model {type(model).__name__.lower()} (step 1, sigma_in {sigma_in:g})"
    elif checkpoint is not None:
        from posedenoise.checkpoint import load_model

        model, meta = load_model(checkpoint, device)
        if getattr(model, "input_kind", None) == "tracks":
            step = 1
            finds_swaps = getattr(model, "swap_detector", None) is not None
            detector = ", finding left/right swaps itself" if finds_swaps else ""
            description = f"model {meta.get('shipped_name', meta['model'])} (whole tracks{detector})"
        else:
            from posedenoise.noise import Experiment

            experiment = Experiment(int(meta["shift"]), int(meta["experiment"]))
            step = experiment.step
            description = (
                f"model {meta['model']} (experiment {experiment.name}, step {step}, sigma_in {sigma_in:g})"
            )
            trained_joints = np.zeros(len(JOINTS), dtype=bool)
            trained_joints[meta.get("trained_joints", CHAPTER_JOINTS)] = True
    else:
        model = model.to(device)
        step = 1 if step is None else int(step)
        description = f"model {type(model).__name__} (step {step}, sigma_in {sigma_in:g})"
    window_options = {**window_options, "step": step, "device": device}
    return ModelMethod(model, step, description, trained_joints, min_score, fill_missing, window_options)


def denoise_file(
    input: str | Path,
    output: str | Path,
    checkpoint: str | Path | None = None,
    filter: str | None = None,
    *,
    model: torch.nn.Module | None = None,
    step: int | None = None,
    filter_params: dict[str, Any] | None = None,
    reject: str | None = None,
    reject_params: dict[str, Any] | None = None,
    layout: str | None = None,
    device: str = "cpu",
    min_score: float = DEFAULT_MIN_SCORE,
    fill_missing: bool = True,
    jump: float = DEFAULT_JUMP,
    max_gap: int = DEFAULT_MAX_GAP,
    sigma_in: float = 1.0,
    margin: float = 0.1,
    stride: int = 1,
    batch_size: int = 64,
    fps: float | None = None,
    repair_swaps: bool | None = None,
    plot: str | Path | None = None,
    plot_joints: list[str] | None = None,
    sidecar: bool = True,
    subpixel: bool = True,
    progress: ProgressFn | None = None,
) -> DenoiseSummary:
    """Denoise the pose tracks of `input` and write them to `output` in the same format.

    Exactly one of: `checkpoint` (a trained model; its experiment gives the step), `filter` (one of
    `filters.FILTERS`, with `filter_params` for it in seconds and Hz; defaults for those not given), or
    `model` (an in-memory model, with `step`, default 1).
    reject: outlier rejection run before the filter or model (one of `filters.REJECTS`), with
        `reject_params`.
    min_score: joints scored lower are missing (for BlazePose files the score is the visibility).
    fill_missing: missing joints take the estimate (default); False keeps the detector's values.
    jump, max_gap: where to split tracks (see `breaks.track_breaks`).
    sigma_in: blur of the input heatmaps drawn from the detections (training drew 1 to 3; 1 is the
        sharpest, and what experiment 2 trained with).
    stride: 1 = a window at every frame; 2 to 5 = fewer windows (faster, fewer estimates to average).
    fps: frame rate for the filters (default: the file's, else 30).
    plot: also draw `plot_joints` (names or numbers; default wrists and ankles) of the longest track
        before and after, to this image file.
    repair_swaps: first put back left/right swaps (`posedenoise.swaps`), before rejection, filter or model.
        None (default): on for a real-track model (it fixes a swap the repair missed less surely than it
        fixes jitter), off for filters and the chapter's models.
    sidecar: also write the method and its parameters to `settings_path(output)` (JSON).
    subpixel: heatmap models draw and read joints below the grid pixel (see `denoise_track`); False keeps
        the chapter's rounding.
    With none of `checkpoint`, `filter` and `model`, the shipped real-track model is used (and said so).
    `checkpoint` may also name a shipped model, or `identity` (the whole model path with nothing learned).
    A model changes only the joints of its training data (a checkpoint records them); the others are left
    as detected and listed in the summary.
    """
    if sum(x is not None for x in (checkpoint, filter, model)) > 1:
        raise PoseDenoiseError("give at most one of a model or a filter")
    if Path(output).resolve() == Path(input).resolve():
        raise PoseDenoiseError(f"{output}: is the input file; give another output (-o) name")
    fileio.check_target(output)
    _check_options(min_score, jump, max_gap, sigma_in, margin, stride, batch_size, fps)
    if filter is None and filter_params:
        raise PoseDenoiseError(f"{', '.join(sorted(filter_params))}: filter parameters need a filter")

    params = filters.resolve(filter, filter_params) if filter is not None else {}
    rejection = filters.resolve_reject(reject, reject_params) if reject is not None else {}
    notes: list[str] = []
    if checkpoint is None and filter is None and model is None:
        from posedenoise.shipped import DEFAULT_TRACK_MODEL

        checkpoint = DEFAULT_TRACK_MODEL
        notes.append(f"no model or filter given: used the shipped real-track model {DEFAULT_TRACK_MODEL}")
    window_options = dict(sigma_in=sigma_in, margin=margin, fill_missing=fill_missing, stride=stride)
    window_options.update(batch_size=batch_size, subpixel=subpixel)
    method = _choose_method(
        checkpoint, filter, model, step, params, device, sigma_in, min_score, fill_missing, window_options
    )
    if fps is not None:
        method.check(fps)  # bad parameters fail before reading
    description = method.describe()
    if reject is not None:
        if fps is not None:
            filters.check(reject, rejection, fps)
        description = f"outlier rejection {filters.describe(reject, rejection)}, then {description}"
    if repair_swaps is None:
        repair_swaps = method.repairs_swaps_by_default
    if repair_swaps:
        description = f"left/right swap repair, then {description}"

    # COCO results are streamed in bounded memory (`streaming`), other files read whole
    with _open_tracks(input, output, layout, progress) as opened:
        names, mapping = SOURCE_LAYOUTS[opened.layout]
        if plot is not None:
            from posedenoise.track_plot import choose_joints

            shown_joints = choose_joints(names, plot_joints)  # unknown names fail before any work
        problem = method.layout_problem(opened.layout)
        if problem is not None:
            raise InputError(input, problem)
        summary = DenoiseSummary(
            input=str(input),
            output=str(output),
            format=opened.format,
            layout=opened.layout,
            method=description,
            tracks=len(opened),
            records=opened.num_records,
            changed_records=0,
            segments=0,
            min_score=min_score,
            fill_missing=fill_missing,
            step=method.step,
            notes=list(opened.notes) + notes,
        )
        if (method.kind == "filter" or reject is not None) and fps is None and opened.fps is None:
            summary.notes.append(f"no frame rate in the file: {DEFAULT_FPS:g} fps assumed (give --fps)")
        fps = fps or opened.fps or DEFAULT_FPS
        summary.fps = fps
        method.check(fps)  # the file's frame rate may not suit the parameters
        if reject is not None:
            filters.check(reject, rejection, fps)
        summary.delay_frames, summary.lookahead_frames = method.delay(fps)
        handled, summary.passthrough, untrained = method.joints_handled(names, mapping)
        if untrained:
            summary.notes.append(
                f"left as detected (absent from the model's training data): {', '.join(untrained)}"
            )
        if reject is not None and summary.lookahead_frames >= 0:
            ahead = filters.odd_frames(rejection["reject_window_s"], fps) // 2
            summary.delay_frames += ahead
            summary.lookahead_frames += ahead
        summary.settings = {
            "method": method.kind,
            "filter": filter,
            "filter_params": params,
            "reject": reject,
            "reject_params": rejection,
            "repair_swaps": repair_swaps,
            "model": description if method.kind == "model" else None,
            "fps": fps,
            "min_score": min_score,
            "fill_missing": fill_missing,
            "jump": jump,
            "max_gap": max_gap,
            "layout": opened.layout,
        }

        done = 0
        jitter_in, jitter_out = [0.0, 0], [0.0, 0]
        segment_starts: list[list[int]] = []  # per track, first index of each segment after the first
        longest = None  # (track, new keypoints, index) of the longest track, for the plot
        # a long track of a streamed file is read and smoothed a piece at a time where that gives the same
        # numbers (finite-window filters, nothing that reads the whole track first): bounded memory
        in_pieces = (
            isinstance(opened, StreamedResults)
            and plot is None
            and reject is None
            and not repair_swaps
            and longtracks.can_run_in_pieces(filter, params, fps)
        )
        for index, track in enumerate(opened.tracks(long=longtracks.LONG) if in_pieces else opened.tracks()):
            if isinstance(track, TrackOnDisk):
                done = _denoise_long_track(
                    track, summary, filter, params, fps, jitter_in, jitter_out, done, opened.num_records,
                    progress, min_score=min_score, fill_missing=fill_missing, jump=jump, max_gap=max_gap,
                    handled=handled, min_frames=method.min_frames,
                )  # fmt: skip
                segment_starts.append([])  # (only the plot reads them, and it takes no piece path)
                continue
            present = track.present(min_score)  # (T, K)
            breaks = track_breaks(track.frames, track.keypoints, present, jump=jump, max_gap=max_gap)
            for br in breaks:
                summary.splits.append(
                    {"track": track.track_id, "frame": br.frame, "reason": br.reason, "amount": br.amount}
                )
            source = track
            if reject is not None or repair_swaps:
                source = replace(track, keypoints=track.keypoints.copy(), scores=track.scores.copy())
            if repair_swaps:
                for s, e in segments(len(track), breaks):
                    repaired, swapped = swap_repair(track.keypoints[s:e], present[s:e], names)
                    source.keypoints[s:e] = repaired
                    source.scores[s:e] = swap_back(track.scores[s:e], swapped, names)
                    for g, group in enumerate(swap_groups(names)):
                        if swapped[:, g].any():
                            frames = track.frames[s:e][swapped[:, g]].tolist()
                            swap = {"track": track.track_id, "group": group.name, "frames": frames}
                            summary.swaps.append(swap)
                present = source.present(min_score)
            keypoints = source.keypoints.copy()  # the output: as read (swaps repaired), then estimates
            summary.missing_joints += int((~present[:, handled]).sum())
            for s, e in segments(len(track), breaks):
                summary.segments += 1
                first, last = int(track.frames[s]), int(track.frames[e - 1])
                if last - first + 1 < method.min_frames:
                    summary.short_segments.append(
                        {
                            "track": track.track_id,
                            "first": first,
                            "last": last,
                            "frames": last - first + 1,
                            "needs": method.min_frames,
                        }
                    )
                else:
                    if reject is not None:
                        pos = track.frames[s:e] - track.frames[s]
                        seen = np.where(present[s:e, :, None], source.keypoints[s:e], np.nan)
                        cleaned, replaced = filters.reject_outliers(
                            reject, _dense_piece(track.frames[s:e], seen, np.nan), fps, **rejection
                        )
                        replaced = replaced[pos] & handled
                        source.keypoints[s:e][replaced] = cleaned[pos][replaced]
                        summary.rejected += int(replaced.sum())
                    new = method.estimate(source, present, s, e, opened.layout, fps)
                    update = np.isfinite(new).all(axis=-1)  # (e - s, K)
                    keypoints[s:e][update] = new[update]
                    summary.filled_joints += int((update & ~present[s:e]).sum())
                    changed = (keypoints[s:e] != track.keypoints[s:e]) & np.isfinite(keypoints[s:e])
                    summary.changed_records += int(changed.any(axis=(1, 2)).sum())
                done += e - s
                if progress is not None:
                    progress("denoise", done, opened.num_records)
            starts = [b.index for b in breaks]
            segment_starts.append(starts)
            for acc, kp in ((jitter_in, track.keypoints), (jitter_out, keypoints)):
                total, count = filters.jitter(track.frames, kp[:, handled], starts)
                acc[0] += total
                acc[1] += count
            opened.set_keypoints(index, track, keypoints)
            if plot is not None and (longest is None or len(track) > len(longest[0])):
                longest = (track, keypoints, index)

        if jitter_in[1]:
            summary.jitter_before = jitter_in[0] / jitter_in[1]
        if jitter_out[1]:
            summary.jitter_after = jitter_out[0] / jitter_out[1]
        summary.settings["jitter_before"] = summary.jitter_before
        summary.settings["jitter_after"] = summary.jitter_after
        opened.write(output)
    if sidecar:
        fileio.write_json(settings_path(output), _json_safe(summary.settings))
    if longest is not None:
        from posedenoise.track_plot import plot_joints as draw

        track, keypoints, index = longest
        starts = segment_starts[index]  # where the plotted line breaks
        title = f"{Path(input).name}, track {track.track_id}: {description}"
        draw(plot, track.frames, track.keypoints, keypoints, names, shown_joints, title, starts)
        summary.notes.append(f"plot of {', '.join(names[j] for j in shown_joints)} written to {plot}")
    return summary


def _denoise_long_track(
    track: TrackOnDisk,
    summary: DenoiseSummary,
    filter: str,
    params: dict[str, Any],
    fps: float,
    jitter_in: list,
    jitter_out: list,
    done: int,
    total: int,
    progress: ProgressFn | None,
    **options: Any,
) -> int:
    """`longtracks.denoise_in_pieces` of one track, added to the summary and the jitter sums as the
    whole-track loop of `denoise_file` adds a track; returns the detections done so far."""
    counted = [done]

    def advance(n: int) -> None:
        counted[0] += n
        if progress is not None:
            progress("denoise", counted[0], total)

    result = longtracks.denoise_in_pieces(track, filter, params, fps, advance=advance, **options)
    for br in result.splits:
        summary.splits.append(
            {"track": track.track_id, "frame": br.frame, "reason": br.reason, "amount": br.amount}
        )
    for first, last in result.short_segments:
        summary.short_segments.append(
            {
                "track": track.track_id,
                "first": first,
                "last": last,
                "frames": last - first + 1,
                "needs": options["min_frames"],
            }
        )
    summary.segments += result.segments
    summary.missing_joints += result.missing_joints
    summary.filled_joints += result.filled_joints
    summary.changed_records += result.changed_records
    for acc, (total_sum, count) in ((jitter_in, result.jitter_before), (jitter_out, result.jitter_after)):
        acc[0] += total_sum
        acc[1] += count
    return counted[0]


@contextmanager
def _open_tracks(
    input: str | Path, output: str | Path, layout: str | None, progress: ProgressFn | None
) -> Iterator[StreamedResults | _TracksInMemory]:
    input, output = Path(input), Path(output)
    if input.suffix.lower() == ".json" and output.suffix.lower() == ".json" and input.is_file():
        streamed = StreamedResults(input, output, layout=layout, progress=progress)
        try:
            streamed.__enter__()
        except NotStreamable:
            pass  # another JSON format, COCO annotations, ...: read whole below
        else:
            try:
                yield streamed
            finally:
                streamed.__exit__(None, None, None)
            return
    yield _TracksInMemory(read_tracks(input, layout=layout))


class _TracksInMemory:
    """A `TrackFile` behind the interface of `streaming.StreamedResults`."""

    def __init__(self, track_file: TrackFile):
        self.track_file = track_file
        self.format, self.layout, self.fps = track_file.format, track_file.layout, track_file.fps
        self.notes, self.num_records = track_file.notes, track_file.num_records
        self.new: list[np.ndarray | None] = [None] * len(track_file.tracks)

    def __len__(self) -> int:
        return len(self.track_file.tracks)

    def tracks(self) -> Iterator[PersonTrack]:
        return iter(self.track_file.tracks)

    def set_keypoints(self, index: int, track: PersonTrack, keypoints: np.ndarray) -> None:
        self.new[index] = keypoints

    def write(self, output: str | Path) -> None:
        write_tracks(self.track_file.with_keypoints(self.new), output)


def _ranges(frames: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    parts, start = [], None
    for i, f in enumerate(frames):
        if start is None:
            start = f
        if i + 1 == len(frames) or frames[i + 1] != f + 1:
            parts.append(f"{start}-{f}" if f != start else f"{f}")
            start = None
    return ", ".join(parts)


def settings_path(output: str | Path) -> Path:
    """Where `denoise` records the method and parameters that made `output`: `<stem>.denoise.json`."""
    output = Path(output)
    return output.with_name(f"{output.stem if output.suffix else output.name}.denoise.json")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


MAX_GAP = 1000  # frames: a track is smoothed across gaps up to this long, frame by frame in memory
MAX_SIGMA_IN = 10.0  # grid pixels: training drew 1 to 3; wider maps carry no position left


def _check_options(min_score, jump, max_gap, sigma_in, margin, stride, batch_size, fps) -> None:
    """Refuse option values that would be changed, ignored or meaningless (named by their options)."""
    checks.number("--min-score", min_score, 0.0, 1.0)
    checks.number("--jump", jump, 0.0, above=True)  # 0 or below would split at every frame
    checks.whole("--max-gap", max_gap, 0, MAX_GAP)
    checks.number("--sigma-in", sigma_in, 0.0, MAX_SIGMA_IN, above=True)
    checks.number("margin", margin, 0.0, 5.0)
    checks.whole("--stride", stride, 1, 5)  # at most the window length (noise.WINDOW; it needs torch)
    checks.whole("--batch-size", batch_size, 1)
    if fps is not None:
        checks.number("--fps", fps, 0.0, above=True)


def _dense_piece(frames: np.ndarray, values: np.ndarray, fill_value: float) -> np.ndarray:
    """Detections at `frames` spread onto every frame between the first and last."""
    pos = frames - frames[0]
    out = np.full((int(pos[-1]) + 1,) + values.shape[1:], fill_value)
    out[pos] = values
    return out


def _between_detections(present: np.ndarray) -> np.ndarray:
    """(T, K) bool: at or between the first and last detection of each joint. Filling only there never
    extrapolates motion past the ends of what was seen."""
    after_first = np.maximum.accumulate(present, axis=0)
    before_last = np.flip(np.maximum.accumulate(np.flip(present, axis=0), axis=0), axis=0)
    return after_first & before_last


# ----------------------------------------------------------------------------- many files

POSE_SUFFIXES = (".json", ".csv", ".npy", ".npz")


@dataclass
class FileResult:
    """The outcome of one file of `denoise_many`: its summary, or the one-line error that stopped it."""

    input: str
    output: str
    seconds: float
    summary: DenoiseSummary | None = None
    error: str | None = None


def is_openpose_folder(path: Path) -> bool:
    """A folder of OpenPose `*_keypoints.json` files: one video, not a folder of videos."""
    return path.is_dir() and any(p.name.endswith("_keypoints.json") for p in path.iterdir())


def plan_outputs(inputs: list[str | Path], output: str | Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one input (a file or an OpenPose folder) and its output, or several inputs
    and/or folders of them (pose files .json, .csv, .npy, .npz other than `.denoise.json` settings, and
    OpenPose folders) and an output folder, each output named as its input."""
    inputs, output = [Path(p) for p in inputs], Path(output)
    if len(inputs) == 1 and is_openpose_folder(inputs[0]):
        return [(inputs[0], output)]
    if len(inputs) == 1 and not inputs[0].is_dir():
        target = output / inputs[0].name if output.is_dir() else output
        if target.resolve() == inputs[0].resolve():
            raise InputError(inputs[0], "would be written over by its output; choose another -o")
        return [(inputs[0], target)]
    files: list[Path] = []
    for path in inputs:
        if path.is_dir() and not is_openpose_folder(path):
            found = sorted(
                p
                for p in path.iterdir()
                if not p.name.startswith(".")
                and (
                    p.is_file()
                    and p.suffix.lower() in POSE_SUFFIXES
                    and not p.name.endswith(".denoise.json")
                    or is_openpose_folder(p)
                )
            )
            if not found:
                raise InputError(path, "no pose files (.json, .csv, .npy, .npz) or OpenPose folders in it")
            files.extend(found)
        else:
            files.append(path)  # a missing or bad file is reported with the others' results
    if output.exists() and not output.is_dir():
        raise InputError(output, "exists and is not a folder; with several inputs -o names a folder")
    if output.suffix.lower() in POSE_SUFFIXES and not output.exists():
        raise InputError(output, "looks like a file name; with several inputs -o names a folder")
    pairs = [(f, output / f.name) for f in files]
    names: dict[str, Path] = {}
    for f, out in pairs:
        if out.resolve() == f.resolve():
            raise InputError(f, f"would be written over by its output in {output}; choose another -o folder")
        if out.name in names:
            raise InputError(f, f"has the same name as {names[out.name]}; their outputs would collide")
        names[out.name] = f
    return pairs


def denoise_many(
    pairs: list[tuple[Path, Path]],
    jobs: int = 1,
    on_done: Callable[[FileResult], None] | None = None,
    progress: ProgressFn | None = None,
    **options: Any,
) -> list[FileResult]:
    """`denoise_file(input, output, **options)` for each pair, in `jobs` processes; a file that fails is
    reported in its result and the others go on. `on_done` is called as each file finishes; `progress`
    (one process only) gets each file's progress. Results in the order of `pairs`."""
    if jobs < 1:
        raise PoseDenoiseError(f"--jobs must be at least 1, got {jobs}")
    results: list[FileResult | None] = [None] * len(pairs)
    if jobs == 1 or len(pairs) == 1:
        for i, (src, dst) in enumerate(pairs):
            results[i] = _denoise_one(src, dst, options, progress)
            if on_done is not None:
                on_done(results[i])
        return results  # type: ignore[return-value]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork: the workers start with this process's imports instead of importing everything again
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=min(jobs, len(pairs)), mp_context=context) as pool:
        futures = {
            pool.submit(_denoise_one, src, dst, options, None): i for i, (src, dst) in enumerate(pairs)
        }
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if on_done is not None:
                on_done(results[i])
    return results  # type: ignore[return-value]


def _denoise_one(src: Path, dst: Path, options: dict[str, Any], progress: ProgressFn | None) -> FileResult:
    import time

    started = time.perf_counter()
    try:
        summary = denoise_file(src, dst, progress=progress, **options)
    except PoseDenoiseError as exc:
        return FileResult(str(src), str(dst), time.perf_counter() - started, error=str(exc))
    except (OSError, ValueError, RecursionError, MemoryError) as exc:  # a file no check foresaw
        message = f"{src}: {type(exc).__name__}: {exc}".splitlines()[0]
        return FileResult(str(src), str(dst), time.perf_counter() - started, error=message)
    return FileResult(str(src), str(dst), time.perf_counter() - started, summary=summary)


__all__ = [
    "DenoiseSummary",
    "FileResult",
    "ModelMethod",
    "SmootherMethod",
    "denoise_file",
    "denoise_many",
    "denoise_track",
    "is_openpose_folder",
    "plan_outputs",
    "settings_path",
]
