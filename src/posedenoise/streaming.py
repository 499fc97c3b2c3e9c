"""COCO keypoint results of any length in bounded memory: read, follow, denoise and write back piece by piece.

An hour of a crowd is over a gigabyte of JSON, and parsed whole it takes many times that in Python
objects. `StreamedResults` never holds the document:
1. the records are decoded one at a time (the standard library's C decoder on a moving window of the
   text), converted to arrays a batch at a time, followed from frame to frame as they come
   (`tracks.BoxAssociator`, when the file is in frame order as detectors write it) and spilled to a
   temporary folder beside the output;
2. the spilled arrays are regrouped on disk so that each track is one contiguous block, then handed out
   one track at a time, and the new keypoints of each are spilled the same way;
3. the file is decoded again and written out record by record with the new x, y: the same text as
   `tracks.write_tracks` writes for the whole document (one line in, one line out; indent 2 otherwise).
Memory: a batch of records, one track, and 4 bytes per record (its track number). A long track can
also be handed out as a `TrackOnDisk` (`tracks(long=...)`) and read and written a range at a time
(`posedenoise.longtracks`), so that a finite-window filter needs a piece of it, not the whole. A file
whose frames are out of order is followed after reading, with its frames and boxes in memory (40 bytes
per record).

Files that are not a COCO results list (or a dict holding one under "results") raise `NotStreamable`,
and so do the rare ones this reader cannot take in one pass (a "layout" given after the results, whole
and non-whole image ids mixed): the caller reads those whole with `tracks.read_tracks`.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.layout import SOURCE_LAYOUTS
from posedenoise.trackformats.coco import coco_header, convert_coco_records, updated_records
from posedenoise.tracks import BoxAssociator, PersonTrack, associate_boxes, frames_of_ids, keypoint_boxes

BLOCK = 1 << 22  # bytes read at a time
BATCH = 4096  # records converted, spilled and written at a time
_HOLE = "\x00"  # where a record's keypoints go in its spilled text
_HOLE_TEXT = json.dumps(_HOLE)
_SPACE = re.compile(r"[ \t\n\r]*")

ProgressFn = Callable[[str, int, int | None], None]  # (stage, done, total)


class NotStreamable(Exception):
    """Not a COCO results document this module reads; read the file whole instead."""


class _Scanner:
    """The top level of a JSON text, value by value: each value decoded by `json.JSONDecoder.raw_decode`
    (the C decoder `json.loads` uses) in a window of the text that moves on as values are consumed.

    A streaming parser library emits an event per token and builds the values in Python; decoding whole
    records with the standard decoder keeps the speed of `json.loads` with the memory of one block."""

    def __init__(self, path: Path, file: Any):
        self.path, self.file = path, file
        self.text, self.pos = "", 0
        self.eof = False
        self.bytes_read = 0
        self.line, self.column = 1, 0  # where text[0] is (for error messages)
        self.mark: int | None = None  # from here on, newlines are inside the document
        self.newline = False
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self._decoder = json.JSONDecoder()

    def _fill(self) -> None:
        block = self.file.read(max(BLOCK, len(self.text) - self.pos))  # at least double a long value
        self.bytes_read += len(block)
        self.eof = not block
        try:
            more = self._decode(block, final=self.eof)
        except UnicodeDecodeError:
            raise InputError(self.path, "not a text file") from None
        done = self.text[: self.pos]
        if self.mark is not None:
            self.newline = self.newline or "\n" in self.text[self.mark : self.pos]
            self.mark = 0
        last = done.rfind("\n")
        self.line += done.count("\n")
        self.column = len(done) - last - 1 if last >= 0 else self.column + len(done)
        self.text = self.text[self.pos :] + more
        self.pos = 0

    def error(self, message: str, at: int) -> InputError:
        last = self.text.rfind("\n", 0, at)
        line = self.line + self.text.count("\n", 0, at)
        column = at - last if last >= 0 else self.column + at + 1
        return InputError(self.path, f"malformed JSON ({message} at line {line}, column {column})")

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self._fill()

    def take(self, chars: str) -> str:
        char = self.peek()
        if not char or char not in chars:
            expected = " or ".join(repr(c) for c in chars)
            raise self.error(f"Expecting {expected}", self.pos)
        self.pos += 1
        return char

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.text, self.pos)
            except RecursionError:
                raise InputError(self.path, "malformed JSON (nested too deeply to read)") from None
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.text) - 6 or exc.msg.startswith("Unterminated string")
                if cut and not self.eof:  # the value may go on in the next block
                    self._fill()
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if end == len(self.text) and not self.eof:  # a number may go on in the next block
                self._fill()
                continue
            self.pos = end
            return value

    def open_document(self) -> None:
        self.pos += 1
        self.mark = self.pos

    def close_document(self) -> bool:
        """After the closing bracket: only white space may follow. Returns whether the document had a
        newline inside it (it was written indented)."""
        self.newline = self.newline or "\n" in self.text[self.mark : self.pos]
        self.mark = None
        if self.peek():
            raise self.error("Extra data", self.pos)
        return self.newline


def _events(scanner: _Scanner) -> Iterator[tuple]:
    """The document as events: ("list",) or ("dict",); ("field", key, value) for the members of a dict
    other than the results; ("records", key) then ("batch", [record, ...])... ("end_records",); ("end",
    indented)."""
    first = scanner.peek()
    if first == "[":
        yield ("list",)
        scanner.mark = scanner.pos
        yield ("records", None)
        yield from _record_batches(scanner)
    elif first == "{":
        yield ("dict",)
        scanner.open_document()
        seen = set()
        if scanner.peek() == "}":
            scanner.pos += 1
        else:
            while True:
                if scanner.peek() != '"':
                    raise scanner.error("Expecting property name enclosed in double quotes", scanner.pos)
                key = scanner.value()
                if key in seen:
                    raise NotStreamable(f"the key {key!r} appears twice")
                seen.add(key)
                scanner.take(":")
                if key == "results" and scanner.peek() == "[":
                    yield ("records", key)
                    yield from _record_batches(scanner)
                else:
                    yield ("field", key, scanner.value())
                if scanner.take(",}") == "}":
                    break
    else:
        raise NotStreamable("not a JSON list or object")
    yield ("end", scanner.close_document())


def _record_batches(scanner: _Scanner) -> Iterator[tuple]:
    scanner.take("[")
    batch: list = []
    if scanner.peek() == "]":
        scanner.pos += 1
    else:
        while True:
            batch.append(scanner.value())
            if len(batch) == BATCH:
                yield ("batch", batch)
                batch = []
            if scanner.take(",]") == "]":
                break
    if batch:
        yield ("batch", batch)
    yield ("end_records",)


def _runs(labels: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(label, positions in `labels`) of each label present, positions in increasing order."""
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        yield int(ordered[s]), order[s:e]


class StreamedResults:
    """A COCO results file read as tracks in bounded memory (see the module docstring).

    Use as a context manager (it owns a temporary folder beside `output`): `tracks()` yields each
    `PersonTrack`, `set_keypoints(i, keypoints)` takes the new (T, K, 2) keypoints of the i-th, in the
    track's frame order, and `write(output)` writes the file back with them."""

    format = "coco"

    def __init__(
        self,
        path: str | Path,
        output: str | Path,
        layout: str | None = None,
        min_iou: float = 0.3,
        max_age: int = 10,
        progress: ProgressFn | None = None,
    ):
        self.path = Path(path)
        self.output = Path(output)
        self.layout, self.fps = layout, None
        self.min_iou, self.max_age = min_iou, max_age
        self.progress = progress
        self.notes: list[str] = []
        self.num_records = 0
        self.size = self.path.stat().st_size
        self._workdir: tempfile.TemporaryDirectory | None = None

    # ------------------------------------------------------------------------- reading

    def __enter__(self) -> StreamedResults:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._workdir = tempfile.TemporaryDirectory(prefix=f".{self.output.name}.", dir=self.output.parent)
        self.dir = Path(self._workdir.name)
        try:
            self._read()
        except BaseException:
            self._workdir.cleanup()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._workdir is not None:
            self._workdir.cleanup()

    def _spill(self, name: str) -> Any:
        return open(self.dir / name, "wb")

    def _read(self) -> None:
        layout_given = self.layout
        if layout_given is not None and layout_given not in SOURCE_LAYOUTS:
            choices = ", ".join(SOURCE_LAYOUTS)
            raise InputError(self.path, f"unknown layout {layout_given!r}; choose one of {choices}")
        self.k: int | None = None
        self.ids_given: bool | None = None
        self.id_codes: dict[Any, int] = {}
        self.frame_order: dict[Any, int] | None = None  # non-whole image ids: frames in order of appearance
        self.associator = BoxAssociator(self.min_iou, self.max_age)
        self.pending = (np.zeros(0, dtype=np.int64), np.zeros((0, 4)))  # the last frame, not yet complete
        self.sorted, self.shared_frame = True, False
        self.last_frame: int | None = None
        fields: dict[str, Any] = {}
        self.fields, self.members = fields, []
        kind, saw_records = None, False
        with (
            open(self.path, "rb") as file,
            self._spill("values") as self.values_file,
            self._spill("frames") as self.frames_file,
            self._spill("boxes") as self.boxes_file,
            self._spill("labels") as self.labels_file,  # (N,) int32 track of each record, on disk
            open(self.dir / "templates", "w", encoding="ascii") as templates,
        ):
            self.templates = templates
            scanner = _Scanner(self.path, file)
            for event in _events(scanner):
                if event[0] in ("list", "dict"):
                    kind = event[0]
                elif event[0] == "field":
                    fields[event[1]] = event[2]
                    self.members.append(event[1])
                    if event[1] in ("instance_info",):
                        raise NotStreamable("an mmpose document")
                elif event[0] == "records":
                    self.layout, self.fps = coco_header(self.path, fields, layout_given)
                    self.records_key = event[1]
                    self.members.append(None)  # the records' place among the members
                    saw_records = True
                elif event[0] == "batch":
                    self._add(event[1])
                    if self.progress is not None:
                        self.progress("read", scanner.bytes_read, self.size)
                elif event[0] == "end":
                    self.indent = 2 if event[1] else None
        # one-line documents are written from the spilled texts; indented ones by decoding the file again
        self.use_templates = self.templates is not None and self.indent is None
        if kind == "dict" and not saw_records:
            raise NotStreamable("no results list")
        if layout_given is None and fields.get("layout") is not None and fields["layout"] != self.layout:
            raise NotStreamable("a layout given after the results")
        _, self.fps = coco_header(self.path, fields, self.layout)
        if self.num_records == 0:
            raise InputError(self.path, "no detections in the file")
        self._finish_labels()
        self._regroup()

    def _add(self, batch: list) -> None:
        first = self.num_records
        if first == 0 and self.records_key is None:
            from posedenoise.trackformats import json_format

            if json_format(batch[:1]) != "coco":  # AlphaPose, ...: a list read by its own reader
                raise NotStreamable("another format")
        kept, xy, scores, image_ids, track_ids, boxes, self.layout = convert_coco_records(
            self.path, batch, first, False, self.k, self.layout
        )
        self.k = xy.shape[1]
        frames = self._frames(image_ids)
        given = [t is not None for t in track_ids]
        if any(given) and not all(given) or (self.ids_given is not None and all(given) != self.ids_given):
            raise InputError(self.path, "some detections have a track_id and others do not")
        self.ids_given = all(given)
        if self.templates is not None:
            self._template(batch, scores)
        scores = np.nan_to_num(scores, nan=0.0)
        np.concatenate([xy, scores[..., None]], axis=-1).tofile(self.values_file)  # (B, K, 3)
        frames.tofile(self.frames_file)
        if self.ids_given:
            if any(isinstance(t, (list, dict)) for t in track_ids):
                raise InputError(self.path, "track ids must be numbers or strings")
            codes = [self.id_codes.setdefault(t, len(self.id_codes)) for t in track_ids]
            np.array(codes, dtype=np.int32).tofile(self.labels_file)
        else:
            boxes = np.where(np.isnan(boxes).any(axis=1, keepdims=True), keypoint_boxes(xy, scores), boxes)
            boxes.tofile(self.boxes_file)
            self._follow(frames, boxes)
        self.num_records += len(kept)

    def _template(self, batch: list, scores: np.ndarray) -> None:
        """Spill each record's text without its keypoints, so that writing need not decode the file again.

        The keypoints are then written from the spilled arrays, which gives the same text when every
        value is a float and no score is NaN (a float's repr round-trips)."""
        values = itertools.chain.from_iterable(r["keypoints"] for r in batch)
        plain = not np.isnan(scores).any() and set(map(type, values)) == {float}
        if plain:
            text = "\n".join(json.dumps({**r, "keypoints": _HOLE}) for r in batch) + "\n"
            plain = text.count(_HOLE_TEXT) == len(batch)  # exactly one hole per record
        if plain:
            self.templates.write(text)
        else:
            self.templates.close()
            self.templates = None

    def _frames(self, image_ids: list) -> np.ndarray:
        if self.frame_order is None:
            notes: list[str] = []
            frames = frames_of_ids(self.path, image_ids, notes)
            if not notes:
                return frames
            if self.num_records:
                raise NotStreamable("whole and other image ids mixed")
            self.frame_order = {}
            self.notes.append("frame ids are not integers: frames taken in order of first appearance")
        if any(isinstance(i, (list, dict)) or i is None for i in image_ids):
            raise InputError(self.path, "image/frame ids must be numbers or strings")
        order = self.frame_order
        return np.array([order.setdefault(i, len(order)) for i in image_ids], dtype=np.int64)

    def _follow(self, frames: np.ndarray, boxes: np.ndarray, final: bool = False) -> None:
        """Associate every complete frame so far (a frame's records may go on in the next batch)."""
        if not self.sorted:
            return
        frames = np.concatenate([self.pending[0], frames])
        boxes = np.concatenate([self.pending[1], boxes])
        step = np.diff(frames)
        if (step < 0).any() or (self.last_frame is not None and len(frames) and frames[0] <= self.last_frame):
            self.sorted = False  # followed after reading, from the spilled boxes
            return
        self.shared_frame = self.shared_frame or bool((step == 0).any())
        cut = len(frames) if final else int(np.searchsorted(frames, frames[-1], side="left"))
        if cut:
            starts = np.flatnonzero(np.r_[True, frames[1:cut] != frames[: cut - 1]])
            labels = [
                self.associator.frame(int(frames[s]), boxes[s:e])
                for s, e in zip(starts.tolist(), [*starts[1:].tolist(), cut], strict=True)
            ]
            # one array per batch, not per frame: 90,000 frames of small arrays took 10 MB more
            np.concatenate(labels).astype(np.int32).tofile(self.labels_file)
            self.last_frame = int(frames[cut - 1])
        self.pending = (frames[cut:], boxes[cut:])

    def _labels(self, lo: int, count: int) -> np.ndarray:
        """(count,) int32: the tracks of records lo:lo + count. The labels stay on disk: 4 bytes a record
        would make memory grow with the file."""
        return np.fromfile(self.dir / "labels", dtype=np.int32, count=count, offset=lo * 4)

    def _label_blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        n = self.num_records
        for lo in range(0, n, BATCH * 64):
            yield lo, self._labels(lo, min(BATCH * 64, n - lo))

    def _finish_labels(self) -> None:
        n = self.num_records
        if self.ids_given:
            self.track_ids = list(self.id_codes)  # codes in order of appearance
        else:
            with open(self.dir / "labels", "ab") as self.labels_file:  # the last frame's labels
                self._follow(np.zeros(0, dtype=np.int64), np.zeros((0, 4)), final=True)
            if self.sorted:
                shared = self.shared_frame
            else:
                frames = np.fromfile(self.dir / "frames", dtype=np.int64)
                shared = len(np.unique(frames)) < n
                boxes = np.fromfile(self.dir / "boxes", dtype=np.float64).reshape(n, 4)
                labels = associate_boxes(frames, boxes, self.min_iou, self.max_age).astype(np.int32)
                labels.tofile(self.dir / "labels")
                del frames, boxes, labels
            if not shared:  # one person: nobody to tell apart
                with open(self.dir / "labels", "wb") as out:
                    for lo in range(0, n, BATCH * 64):
                        np.zeros(min(BATCH * 64, n - lo), dtype=np.int32).tofile(out)
                self.track_ids = [0]
            else:
                tracks = 1 + max(int(block.max()) for _, block in self._label_blocks())
                self.notes.append(
                    f"no track ids: {tracks} tracks formed by box overlap (IoU >= "
                    f"{self.min_iou}, up to {self.max_age} frames apart, optimal assignment)"
                )
                self.track_ids = list(range(tracks))
        # tracks in order of their first record, as `read_tracks` lists them
        first = np.full(len(self.track_ids), n)
        counts = np.zeros(len(self.track_ids), dtype=np.int64)
        for lo, block in self._label_blocks():  # a block at a time: record numbers take 8 bytes each
            np.minimum.at(first, block, np.arange(lo, lo + len(block)))
            counts += np.bincount(block, minlength=len(self.track_ids))
        self.order = np.argsort(first, kind="stable")  # the label of the 1st, 2nd, ... track
        self.counts = counts
        self.starts = np.r_[0, np.cumsum(self.counts)[:-1]]  # each track's first row on disk

    def _regroup(self) -> None:
        """Rewrite the spilled records track after track (each track's records in file order)."""
        k, n = self.k, self.num_records
        written = np.zeros(len(self.track_ids), dtype=np.int64)
        with (
            open(self.dir / "values", "rb") as values_in,
            open(self.dir / "frames", "rb") as frames_in,
            open(self.dir / "track_values", "wb") as values_out,
            open(self.dir / "track_frames", "wb") as frames_out,
        ):
            for lo in range(0, n, BATCH * 4):
                count = min(BATCH * 4, n - lo)
                values = np.fromfile(values_in, dtype=np.float64, count=count * k * 3).reshape(count, k, 3)
                frames = np.fromfile(frames_in, dtype=np.int64, count=count)
                for label, rows in _runs(self._labels(lo, count)):
                    at = int(self.starts[label] + written[label])
                    os.pwrite(values_out.fileno(), values[rows].tobytes(), at * k * 3 * 8)
                    os.pwrite(frames_out.fileno(), frames[rows].tobytes(), at * 8)
                    written[label] += len(rows)
        for name in ("values", "frames", "boxes"):
            (self.dir / name).unlink()

    # ------------------------------------------------------------------------- tracks

    def __len__(self) -> int:
        return len(self.track_ids)

    def tracks(self, long: int | None = None) -> Iterator[PersonTrack | TrackOnDisk]:
        """Each track as a `PersonTrack`, in order of first appearance; with `long`, a track of more than
        `long` detections comes as a `TrackOnDisk` instead, to be read and written piece by piece."""
        k = self.k
        with open(self.dir / "track_values", "rb") as values, open(self.dir / "track_frames", "rb") as frames:
            for label in self.order.tolist():
                track_id = self.track_ids[label]
                start, count = int(self.starts[label]), int(self.counts[label])
                frame = np.frombuffer(os.pread(frames.fileno(), count * 8, start * 8), dtype=np.int64)
                order = np.argsort(frame, kind="stable")
                frame = frame[order]
                if count > 1 and (np.diff(frame) == 0).any():
                    dup = int(frame[1:][np.diff(frame) == 0][0])
                    raise InputError(self.path, f"track {track_id!r} has two detections in frame {dup}")
                if long is not None and count > long:
                    yield TrackOnDisk(self, track_id, frame, order, start)
                    continue
                rows = np.frombuffer(os.pread(values.fileno(), count * k * 3 * 8, start * k * 3 * 8))
                rows = rows.reshape(count, k, 3)
                yield PersonTrack(track_id, frame, rows[order, :, :2], rows[order, :, 2], order)

    def set_keypoints(self, index: int, track: PersonTrack, keypoints: np.ndarray) -> None:
        """The new (T, K, 2) keypoints of the `index`-th track (as `tracks()` gave it)."""
        in_file_order = np.empty_like(keypoints, dtype=np.float64)
        in_file_order[track.records] = keypoints
        mode = "r+b" if (self.dir / "track_new").exists() else "wb"
        with open(self.dir / "track_new", mode) as new:
            at = int(self.starts[self.order[index]])
            os.pwrite(new.fileno(), in_file_order.tobytes(), at * self.k * 2 * 8)

    def _runs_of(self, start: int, positions: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
        """(first row on disk, rows, where in `positions`) of each run of consecutive rows among
        `start + positions` (a track's records in file order): one run for a file in frame order."""
        rows = start + positions
        order = np.argsort(rows, kind="stable")
        ranked = rows[order]
        cuts = np.flatnonzero(np.diff(ranked) != 1) + 1
        return [
            (int(run[0]), len(run), where)
            for run, where in zip(np.split(ranked, cuts), np.split(order, cuts), strict=True)
        ]

    def read_rows(self, start: int, positions: np.ndarray) -> np.ndarray:
        """(n, K, 3) x, y, score of the records `positions` (in the track's file order) of a track."""
        k = self.k
        out = np.empty((len(positions), k, 3))
        with open(self.dir / "track_values", "rb") as values:
            for first, n, where in self._runs_of(start, positions):
                block = os.pread(values.fileno(), n * k * 24, first * k * 24)
                out[where] = np.frombuffer(block).reshape(n, k, 3)
        return out

    def write_rows(self, start: int, positions: np.ndarray, keypoints: np.ndarray) -> None:
        """The new (n, K, 2) keypoints of the records `positions` of a track (see `read_rows`)."""
        keypoints = np.asarray(keypoints, dtype=np.float64)
        mode = "r+b" if (self.dir / "track_new").exists() else "wb"
        with open(self.dir / "track_new", mode) as new:
            for first, _, where in self._runs_of(start, positions):
                os.pwrite(new.fileno(), np.ascontiguousarray(keypoints[where]).tobytes(), first * self.k * 16)

    # ------------------------------------------------------------------------- writing

    def write(self, output: str | Path) -> None:
        """Write the file back with the new keypoints (`set_keypoints` of every track), atomically."""
        if self.use_templates:
            self._write_templates(output)
        else:
            self._write_decoding(output)

    def _new_rows(
        self, new: Any, values: Any, lo: int, count: int, done: np.ndarray, scores: bool
    ) -> np.ndarray:
        """(count, K, 2 | 3) new x, y (and the scores) of records lo:lo + count, in file order."""
        k = self.k
        rows = np.empty((count, k, 3 if scores else 2))
        for label, where in _runs(self._labels(lo, count)):
            at, n = int(self.starts[label] + done[label]), len(where)
            xy = np.frombuffer(os.pread(new.fileno(), n * k * 16, at * k * 16)).reshape(n, k, 2)
            if scores:
                # the file's x, y and score, with x, y replaced where the new pair is finite
                block = np.frombuffer(os.pread(values.fileno(), n * k * 24, at * k * 24)).reshape(n, k, 3)
                finite = np.isfinite(xy).all(axis=-1, keepdims=True)  # (n, K, 1)
                rows[where] = block
                rows[where, :, :2] = np.where(finite, xy, block[..., :2])
            else:
                rows[where] = xy
            done[label] += n
        return rows

    def _write_templates(self, output: str | Path) -> None:
        n = self.num_records
        done = np.zeros(len(self.track_ids), dtype=np.int64)
        with (
            open(self.dir / "templates", encoding="ascii") as templates,
            open(self.dir / "track_new", "rb") as new,
            open(self.dir / "track_values", "rb") as values,
            fileio.atomic_path(output) as tmp,
            open(tmp, "w") as out,
        ):
            head = [m if m is None else _member(m, self.fields[m], None) for m in self.members]
            if self.records_key is None:
                out.write("[")
            else:
                out.write("{" + ", ".join(h for h in head[: head.index(None)]))
                out.write((", " if head.index(None) else "") + json.dumps(self.records_key) + ": [")
            for lo in range(0, n, BATCH):
                count = min(BATCH, n - lo)
                rows = self._new_rows(new, values, lo, count, done, scores=True).reshape(count, -1).tolist()
                texts = [
                    line[:-1].replace(_HOLE_TEXT, json.dumps(kps), 1)
                    for line, kps in zip(itertools.islice(templates, count), rows, strict=True)
                ]
                out.write((", " if lo else "") + ", ".join(texts))
                if self.progress is not None:
                    self.progress("write", lo + count, n)
            if self.records_key is None:
                out.write("]\n")
            else:
                tail = head[head.index(None) + 1 :]
                out.write("]" + "".join(", " + h for h in tail) + "}\n")

    def _write_decoding(self, output: str | Path) -> None:
        indent = self.indent
        done = np.zeros(len(self.track_ids), dtype=np.int64)
        first_record = 0
        with (
            open(self.path, "rb") as file,
            open(self.dir / "track_new", "rb") as new,
            fileio.atomic_path(output) as tmp,
            open(tmp, "w") as out,
        ):
            scanner = _Scanner(self.path, file)
            separator, pad = (", ", "") if indent is None else (",\n", "\n")
            members = 0
            records = 0
            for event in _events(scanner):
                kind = event[0]
                if kind == "list":
                    out.write("[" + pad)
                elif kind == "dict":
                    out.write("{" + pad)
                elif kind == "field":
                    out.write((separator if members else "") + _member(event[1], event[2], indent))
                    members += 1
                elif kind == "records":
                    if event[1] is not None:
                        head = json.dumps(event[1]) + ": ["
                        out.write((separator if members else "") + ("  " if indent else "") + head + pad)
                        members += 1
                elif kind == "batch":
                    batch = event[1]
                    xy = self._new_rows(new, None, first_record, len(batch), done, scores=False)
                    first_record += len(batch)
                    level = 1 if self.records_key is None else 2
                    texts = [_dumped(r, indent, level) for r in updated_records(batch, xy)]
                    out.write((separator if records else "") + separator.join(texts))
                    records += len(batch)
                    if self.progress is not None:
                        self.progress("write", scanner.bytes_read, self.size)
                elif kind == "end_records":
                    if self.records_key is None:
                        out.write(pad + "]")
                    else:
                        out.write(pad + ("  ]" if indent else "]"))
                elif kind == "end":
                    if self.records_key is not None:
                        out.write(pad + "}")
            out.write("\n")


class TrackOnDisk:
    """A track of a `StreamedResults` left on disk: its frame numbers in memory (8 bytes a detection and 8
    for where each is in the file), its keypoints read and written a range of detections at a time."""

    def __init__(
        self, source: StreamedResults, track_id: Any, frames: np.ndarray, order: np.ndarray, start: int
    ):
        self.source, self.track_id = source, track_id
        self.frames = frames  # (T,) int64, increasing
        self.records = order  # (T,) int64: each detection's place among the track's records in the file
        self._start = start
        self.num_keypoints = source.k

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """(n, K, 2) keypoints and (n, K) scores of the detections `rows` (indices in frame order)."""
        values = self.source.read_rows(self._start, self.records[rows])
        return values[..., :2], values[..., 2]

    def write(self, rows: slice, keypoints: np.ndarray) -> None:
        """The new (n, K, 2) keypoints of the detections `rows`: every detection is written once."""
        self.source.write_rows(self._start, self.records[rows], keypoints)


def _dumped(value: Any, indent: int | None, level: int) -> str:
    """`value` as `json.dumps(document, indent=indent)` writes it at nesting depth `level`."""
    if indent is None:
        return json.dumps(value)
    prefix = " " * (indent * level)
    return prefix + json.dumps(value, indent=indent).replace("\n", "\n" + prefix)


def _member(key: str, value: Any, indent: int | None) -> str:
    """A member of the top-level object as `json.dumps(document, indent=indent)` writes it."""
    if indent is None:
        return f"{json.dumps(key)}: {json.dumps(value)}"
    text = json.dumps(value, indent=indent).replace("\n", "\n" + " " * indent)
    return f"{' ' * indent}{json.dumps(key)}: {text}"


__all__ = ["NotStreamable", "StreamedResults", "TrackOnDisk"]
