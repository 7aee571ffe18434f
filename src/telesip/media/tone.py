"""Test and progress tones: 20 ms int16 frames at 8 kHz with continuous phase.

Levels are dBFS with the sine convention of AES17: a full-scale sine is 0 dBFS, so
`analysis.rms_dbfs` of a tone made at -10 dBFS reads -10.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .g711 import Pcm

__all__ = [
    "DTMF_FREQUENCIES",
    "FULL_SCALE",
    "Ringback",
    "SineGenerator",
    "dtmf",
    "ringback",
    "sine",
]

FULL_SCALE = 32767

# ITU-T Q.23: each key is one low (row) and one high (column) frequency
_ROWS, _COLUMNS = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (_ROWS[i // 4], _COLUMNS[i % 4]) for i, key in enumerate("123A456B789C*0#D")
}


class SineGenerator:
    """A sine whose phase runs on across frames (no click at frame edges)."""

    def __init__(
        self,
        frequency: float,
        level_dbfs: float = -10.0,
        *,
        rate: int = 8000,
        frame_samples: int = 160,
    ) -> None:
        self.frequency = frequency
        self.amplitude = FULL_SCALE * 10.0 ** (level_dbfs / 20.0)
        self.rate = rate
        self.frame_samples = frame_samples
        self._step = 2.0 * math.pi * frequency / rate
        self._ramp = np.arange(frame_samples, dtype=np.float64) * self._step
        self._phase = 0.0

    def frame(self) -> Pcm:
        samples = np.sin(self._ramp + self._phase) * self.amplitude
        self._phase = (self._phase + self._step * self.frame_samples) % (2.0 * math.pi)
        out: Pcm = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
        return out

    def __iter__(self) -> Iterator[Pcm]:
        while True:
            yield self.frame()


def sine(
    frequency: float, level_dbfs: float = -10.0, *, rate: int = 8000, frame_samples: int = 160
) -> Iterator[Pcm]:
    """Endless 20 ms frames of a sine."""
    return iter(SineGenerator(frequency, level_dbfs, rate=rate, frame_samples=frame_samples))


class Ringback:
    """Ringback tone: `frequency` for `on` seconds, silence for `off` (425 Hz 1 s / 4 s)."""

    def __init__(
        self,
        frequency: float = 425.0,
        level_dbfs: float = -15.0,
        *,
        on: float = 1.0,
        off: float = 4.0,
        rate: int = 8000,
        frame_samples: int = 160,
    ) -> None:
        self._tone = SineGenerator(frequency, level_dbfs, rate=rate, frame_samples=frame_samples)
        self._on = round(on * rate / frame_samples)
        self._period = self._on + round(off * rate / frame_samples)
        self._silence = np.zeros(frame_samples, np.int16)
        self._index = 0

    def frame(self) -> Pcm:
        position = self._index % self._period
        self._index += 1
        return self._tone.frame() if position < self._on else self._silence

    def __iter__(self) -> Iterator[Pcm]:
        while True:
            yield self.frame()


def ringback(
    frequency: float = 425.0, level_dbfs: float = -15.0, *, on: float = 1.0, off: float = 4.0
) -> Iterator[Pcm]:
    """Endless 20 ms frames of the ringback cadence."""
    return iter(Ringback(frequency, level_dbfs, on=on, off=off))


def dtmf(
    digit: str, *, on: float = 0.1, off: float = 0.06, level_dbfs: float = -9.0, rate: int = 8000
) -> Pcm:
    """A key as in-band audio (ITU-T Q.23/Q.24): its two frequencies for ``on`` seconds, each
    at ``level_dbfs``, then ``off`` seconds of silence before a next key."""
    low, high = DTMF_FREQUENCIES[digit.upper()]
    t = np.arange(round(on * rate), dtype=np.float64) / rate
    amplitude = FULL_SCALE * 10.0 ** (level_dbfs / 20.0)
    tone = amplitude * (np.sin(2 * math.pi * low * t) + np.sin(2 * math.pi * high * t))
    out: Pcm = np.concatenate(
        (
            np.clip(np.rint(tone), -32768, 32767).astype(np.int16),
            np.zeros(round(off * rate), np.int16),
        )
    )
    return out
