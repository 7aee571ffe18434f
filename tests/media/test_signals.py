"""Tones, the analysis helpers, and the call recorder."""

from __future__ import annotations

import itertools
import math
import wave
from pathlib import Path

import numpy as np
import pytest

from telesip.media import CallRecorder, Ringback, SineGenerator, dominant_frequency, rms_dbfs
from telesip.media.analysis import dtmf_keys
from telesip.media.tone import dtmf


def test_sine_frames_have_continuous_phase() -> None:
    gen = SineGenerator(1000, -6.0)
    joined = np.concatenate([gen.frame() for _ in range(5)])
    n = np.arange(800)
    reference = np.rint(32767 * 10 ** (-6 / 20) * np.sin(2 * np.pi * 1000 * n / 8000))
    assert np.max(np.abs(joined - reference)) <= 1


@pytest.mark.parametrize(("freq", "level"), [(440.0, -10.0), (1000.0, -3.0), (425.0, -20.0)])
def test_frequency_and_level_measure_what_was_made(freq: float, level: float) -> None:
    gen = SineGenerator(freq, level)
    x = np.concatenate([gen.frame() for _ in range(25)])
    assert dominant_frequency(x) == pytest.approx(freq, abs=1.0)
    assert rms_dbfs(x) == pytest.approx(level, abs=0.05)


def test_rms_of_silence_and_full_scale() -> None:
    assert rms_dbfs(np.zeros(160, np.int16)) == -math.inf
    assert rms_dbfs(np.array([], np.int16)) == -math.inf
    full = SineGenerator(1000, 0.0).frame()
    assert rms_dbfs(full) == pytest.approx(0.0, abs=0.05)


def test_ringback_cadence() -> None:
    frames = list(itertools.islice(Ringback(425, -15, on=1.0, off=4.0), 500))
    on = [bool(np.any(f)) for f in frames]
    assert on[:50] == [True] * 50 and on[50:250] == [False] * 200 and on[250:300] == [True] * 50
    tone = np.concatenate(frames[:50])
    assert dominant_frequency(tone) == pytest.approx(425, abs=1)
    assert rms_dbfs(tone) == pytest.approx(-15, abs=0.1)


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def test_recorder_mixes_two_sides_aligned(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    rec = CallRecorder(path)
    a, b = SineGenerator(1000, -10), SineGenerator(440, -10)
    # 3 s of call: side "in" talks all along, side "out" only in the second second; the
    # callbacks run a few ms early or late, which must not shift or cut the audio.
    for i in range(150):
        jitter = 0.003 * ((i * 7) % 3 - 1)
        rec.add("in", a.frame(), at=100.0 + i * 0.02 + jitter)
        if 50 <= i < 100:
            rec.add("out", b.frame(), at=100.0 + i * 0.02 - jitter)
    assert rec.close() == pytest.approx(3.0)
    assert rec.close() == pytest.approx(3.0)
    x = _read(path)
    assert len(x) == 24000
    first, second, third = x[:8000], x[8000:16000], x[16000:]
    assert dominant_frequency(first) == pytest.approx(1000, abs=1)
    assert dominant_frequency(third) == pytest.approx(1000, abs=1)
    spectrum = np.abs(np.fft.rfft(second * np.hanning(8000)))
    peaks = sorted(np.argsort(spectrum)[-2:])  # 1 Hz per bin
    assert peaks == [440, 1000]
    assert rms_dbfs(first) == pytest.approx(-10, abs=0.1)
    # The jittery times did not cut or overlap a side: its frames lie back to back.
    fresh = SineGenerator(1000, -10)
    assert np.array_equal(first, np.concatenate([fresh.frame() for _ in range(50)]))


def test_recorder_silence_when_a_side_is_quiet_and_clipping(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    rec = CallRecorder(path)
    loud = np.full(160, 30000, np.int16)
    rec.add("a", loud, at=0.0)
    rec.add("b", loud, at=0.0)  # 60000 clips to 32767
    rec.add("a", loud, at=1.0)  # a second of nothing from anyone in between
    assert rec.close() == pytest.approx(1.02)
    x = _read(path)
    assert np.all(x[:160] == 32767)
    assert not np.any(x[160:8000])
    assert np.all(x[8000:] == 30000)


def test_recorder_writes_as_it_goes(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    rec = CallRecorder(path, lag=0.5)
    tone = SineGenerator(1000, -10)
    for i in range(500):  # 10 s
        rec.add("in", tone.frame(), at=i * 0.02)
    assert rec.written >= 8000 * 9  # all but the last half second is on disk
    assert rec.duration == pytest.approx(10.0)
    rec.close()
    assert len(_read(path)) == 80000


def test_in_band_keys_are_the_q23_pairs_and_read_back() -> None:
    key = dtmf("5")
    assert key.size == 800 + 480  # 100 ms of tone, 60 ms of silence
    spectrum = np.abs(np.fft.rfft(key[:800].astype(np.float64)))
    peaks = sorted(int(np.argmax(spectrum[lo:hi])) + lo for lo, hi in ((0, 100), (100, 400)))
    assert [p * 8000 / 800 for p in peaks] == [770.0, 1340.0]  # 10 Hz bins: 770 and 1336 Hz
    assert not key[800:].any()
    assert rms_dbfs(key[:800]) == pytest.approx(-9.0 + 10 * math.log10(2), abs=0.1)
    typed = np.concatenate([dtmf(k) for k in "0123456789*#ABCD"])
    assert dtmf_keys(typed) == "0123456789*#ABCD"
    assert dtmf_keys(np.concatenate([dtmf("7"), dtmf("7")])) == "77"  # a pause between them
    noise = np.random.default_rng(7).normal(0, 2000, typed.size)
    assert dtmf_keys(typed + noise) == "0123456789*#ABCD"  # noise 15 dB under the keys
    tone = np.concatenate(list(itertools.islice(SineGenerator(1000, -3.0), 50)))
    assert dtmf_keys(tone) == "" and dtmf_keys(noise) == "" and dtmf_keys(np.zeros(800)) == ""
