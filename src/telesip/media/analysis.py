"""Signal measurements for tests and benchmarks: dominant frequency, level, DTMF keys."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .tone import DTMF_FREQUENCIES

__all__ = ["dominant_frequency", "dtmf_keys", "rms_dbfs"]


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


def _power(x: npt.NDArray[np.float64], frequency: float, rate: int) -> float:
    """Goertzel: the signal's power at one frequency."""
    coeff = 2.0 * math.cos(2.0 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for sample in x:
        s1, s2 = sample + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def dtmf_keys(samples: npt.ArrayLike, rate: int = 8000, *, window: float = 0.04) -> str:
    """The in-band DTMF keys heard, in order: a key is a window where one row and one column
    frequency each carry far more power than the other six and than the rest of the window;
    a key held over several windows is one key."""
    x = np.asarray(samples, dtype=np.float64)
    n = round(window * rate)
    rows = sorted({low for low, _ in DTMF_FREQUENCIES.values()})
    columns = sorted({high for _, high in DTMF_FREQUENCIES.values()})
    by_pair = {pair: key for key, pair in DTMF_FREQUENCIES.items()}
    keys, last = [], None
    for start in range(0, len(x) - n + 1, n):
        w = x[start : start + n]
        energy = float(np.dot(w, w)) * n / 2  # what a sine filling the window reads in _power
        if energy == 0.0:
            last = None
            continue
        r = [_power(w, f, rate) for f in rows]
        c = [_power(w, f, rate) for f in columns]
        ri, ci = int(np.argmax(r)), int(np.argmax(c))
        others = max(
            [p for i, p in enumerate(r) if i != ri] + [p for i, p in enumerate(c) if i != ci]
        )
        strong = r[ri] > 10 * others and c[ci] > 10 * others and r[ri] + c[ci] > 0.5 * energy
        key = by_pair[(rows[ri], columns[ci])] if strong else None
        if key is not None and key != last:
            keys.append(key)
        last = key
    return "".join(keys)
