"""Call recording: the two directions of a call mixed into one 8 kHz 16-bit mono WAV file.

Each direction ("side") hands in its frames with the time they belong to (`at`, seconds on any
clock shared by the sides, e.g. `loop.time()`). A side's frames follow on one another while their
times agree within `tolerance` (callbacks run a few ms early or late, which must not cut or
overlap audio); a larger disagreement (a pause, a hold) moves the side to its time, leaving
silence. Samples older than `lag` behind the most advanced side are final: they are mixed with
clipping and appended to the file, so memory stays small and a crash loses at most `lag`.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["CallRecorder"]


class CallRecorder:
    def __init__(
        self,
        path: str | Path,
        *,
        rate: int = 8000,
        lag: float = 0.5,
        tolerance: float = 0.06,
        flush_every: float = 0.25,
    ) -> None:
        self.path = Path(path)
        self.rate = rate
        self._lag = round(lag * rate)
        self._tolerance = round(tolerance * rate)
        self._flush_every = round(flush_every * rate)
        self._wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._origin: float | None = None
        self._cursors: dict[str, int] = {}
        self._base = 0  # sample position of _mix[0]; everything before it is in the file
        self._mix = np.zeros(4 * rate, np.int32)
        self.written = 0
        self.dropped = 0
        """Samples that came later than `lag` and could not be mixed in."""
        self.closed = False

    def add(self, side: str, frame: npt.NDArray[np.int16], at: float | None = None) -> None:
        """Mix `frame` (int16) of direction `side` at time `at` (None: right after its last)."""
        if self.closed:
            return
        cursor = self._cursors.get(side)
        if at is not None:
            if self._origin is None:
                self._origin = at - (max(self._cursors.values(), default=0) / self.rate)
            expected = round((at - self._origin) * self.rate)
            if cursor is None or abs(expected - cursor) > self._tolerance:
                cursor = expected
        elif cursor is None:
            cursor = self._base
        n = len(frame)
        start = cursor
        if start < self._base:  # too late for the file: keep what still fits
            skip = min(n, self._base - start)
            self.dropped += skip
            frame = frame[skip:]
            start = self._base
        end = start + len(frame)
        if end - self._base > len(self._mix):
            grown = np.zeros(max(2 * len(self._mix), end - self._base), np.int32)
            grown[: len(self._mix)] = self._mix
            self._mix = grown
        self._mix[start - self._base : end - self._base] += frame
        self._cursors[side] = cursor + n
        final = max(self._cursors.values()) - self._lag
        if final - self._base >= self._flush_every:
            self._flush(final)

    def _flush(self, upto: int) -> None:
        count = upto - self._base
        if count <= 0:
            return
        chunk = np.clip(self._mix[:count], -32768, 32767).astype("<i2")
        self._wav.writeframes(chunk.tobytes())
        self.written += count
        remaining = len(self._mix) - count
        self._mix[:remaining] = self._mix[count:]
        self._mix[remaining:] = 0
        self._base = upto

    @property
    def duration(self) -> float:
        """Seconds in the recording so far (mixed, not yet written, included)."""
        return max(max(self._cursors.values(), default=0), self._base) / self.rate

    def close(self) -> float:
        """Write what is left, close the file; returns its length in seconds. Idempotent."""
        if not self.closed:
            self.closed = True
            self._flush(max(self._cursors.values(), default=self._base))
            self._wav.close()
        return self.written / self.rate
