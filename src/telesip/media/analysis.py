"""Signal measurements for tests and benchmarks: dominant frequency and level."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["dominant_frequency", "rms_dbfs"]


def dominant_frequency(samples: npt.ArrayLike, rate: int = 8000) -> float:
    """The strongest frequency in Hz (Hann window, parabolic interpolation between FFT bins)."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 4:
        raise ValueError("need at least 4 samples")
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:])) + 1
    offset = 0.0
    if 1 <= k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denominator = a - 2 * b + c
        if denominator:
            offset = 0.5 * (a - c) / denominator
    return float((k + offset) * rate / len(x))


def rms_dbfs(samples: npt.ArrayLike) -> float:
    """RMS level in dBFS, AES17 convention (a full-scale sine reads 0); -inf for silence."""
    x = np.asarray(samples, dtype=np.float64)
    if not len(x):
        return -math.inf
    rms = math.sqrt(float(np.mean(x * x)))
    if rms == 0.0:
        return -math.inf
    return 20.0 * math.log10(rms * math.sqrt(2.0) / 32767.0)
