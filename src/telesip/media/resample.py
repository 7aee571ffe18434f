"""`Resampler`: int16 mono PCM from one rate to another, exactly in proportion, for the rare
call whose two sides run at different rates (an outgoing call's Telegram leg opens at the
line's first codec's rate before the far phone answers with another, or a re-INVITE changes
the codec). Every other call runs at one rate end to end and needs none.

FFmpeg's swresample (PyAV, the `codecs` extra: only a process that can run G.722 or Opus
ever has two rates in a call) does the filtering, statefully across frames; a small FIFO
turns its output, which lags by the filter's delay, into exactly `n * dst / src` samples per
`n` in, zeros in front until the filter has caught up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import UnsupportedCodec
from .g711 import Pcm

av: Any
try:  # the `codecs` extra
    import av
    from av.audio.frame import AudioFrame
    from av.audio.resampler import AudioResampler
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    av = None

__all__ = ["Resampler"]


class _Fifo:
    """Samples in, exactly `n` out: zeros in front while the filter has not caught up."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, np.int16)

    def push(self, samples: Pcm) -> None:
        self._buf = samples if not self._buf.size else np.concatenate((self._buf, samples))

    def take(self, n: int) -> Pcm:
        buf = self._buf
        if buf.size < n:
            out = np.concatenate((np.zeros(n - buf.size, np.int16), buf))
            self._buf = np.zeros(0, np.int16)
            return out
        self._buf = buf[n:]
        return buf[:n]


class Resampler:
    """`convert(pcm)` at `src` Hz gives the same stretch of time at `dst` Hz."""

    def __init__(self, src: int, dst: int) -> None:
        if av is None:
            raise UnsupportedCodec(codec=f"{src} Hz to {dst} Hz (install the codecs extra: PyAV)")
        self.src = src
        self.dst = dst
        self._swr = AudioResampler("s16", "mono", dst)
        self._fifo = _Fifo()
        self._owed = 0  # input samples not yet paid for in whole output samples (x dst)

    def convert(self, pcm: Pcm) -> Pcm:
        frame = AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.src
        for out in self._swr.resample(frame):
            self._fifo.push(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        owed = self._owed + pcm.size * self.dst
        self._owed = owed % self.src
        return self._fifo.take(owed // self.src)
