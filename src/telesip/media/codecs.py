"""The SIP side's audio codecs behind one interface: G.711 (A-law, μ-law), G.722 and Opus.

Every codec turns the call's PCM (int16, 8 kHz mono: the bridge's rate, what the Telegram leg
is given) into RTP payloads and back; `open_codec(name)` gives a fresh, stateful instance per
stream (G.722 is ADPCM and Opus predicts: one instance must see one direction's packets in
order). `RTP_CLOCK` is each codec's RTP timestamp rate, which is not always its audio rate:

- **G.711** (PCMA, PCMU): 8 kHz, clock 8000, one byte per sample (numpy tables, `g711.py`).
- **G.722** (ITU-T G.722, 64 kbit/s sub-band ADPCM): audio at 16 kHz, but its RTP clock is
  8000 (RFC 3551 §4.5.2, kept for an old mistake): 20 ms are 320 samples, 160 bytes and 160
  timestamp units. The codec is FFmpeg's through PyAV; our 8 kHz is resampled to 16 kHz
  before the encoder and its 16 kHz output back to 8 kHz (FFmpeg's swresample, stateful).
- **Opus** (RFC 6716, RTP per RFC 7587): `opus/48000/2` in SDP whatever the audio really is,
  clock 48000 (20 ms = 960 units). libopus through PyAV: the encoder takes our 8 kHz as it is
  (mono, 24 kbit/s, VoIP application), the decoder gives 48 kHz (mono; a stereo stream is
  downmixed) which is resampled to 8 kHz.

Resampling and codec delays are absorbed by a small FIFO: `encode(n samples)` always yields
the payload of n samples and `decode(payload)` the payload's duration at 8 kHz, the first
packets starting with the few milliseconds of silence the filters owe.

G.722 and Opus need the optional `codecs` extra (PyAV, whose wheels carry FFmpeg and libopus);
`available()` says which codecs this process can run, and the calls wing offers and accepts
only those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .errors import UnsupportedCodec
from .g711 import Pcm, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

av: Any
try:  # the `codecs` extra
    import av
    from av.audio.frame import AudioFrame
    from av.audio.resampler import AudioResampler
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    av = None

__all__ = ["PCM_RATE", "RTP_CLOCK", "AudioCodec", "available", "open_codec"]

PCM_RATE = 8000
"""The rate of the PCM every codec takes and gives."""

RTP_CLOCK = {"PCMA": 8000, "PCMU": 8000, "G722": 8000, "OPUS": 48000}
"""Each codec's RTP clock rate (the rate of its timestamps and of its rtpmap)."""

_WIDEBAND = ("G722", "OPUS")
OPUS_BITRATE = 24000


class AudioCodec(Protocol):
    name: str
    clock_rate: int

    def encode(self, pcm: Pcm) -> bytes:
        """The payload of `pcm` (8 kHz int16)."""

    def decode(self, payload: bytes) -> Pcm:
        """The payload's audio at 8 kHz int16."""


class _G711:
    clock_rate = 8000

    def __init__(self, name: str, encode: Callable[[Pcm], bytes], decode: Callable[[bytes], Pcm]):
        self.name = name
        self.encode = encode
        self.decode = decode


class _Fifo:
    """Samples in, exactly `n` out: zeros in front while the filters have not caught up."""

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


class _AvCodec:
    """One FFmpeg encoder and decoder pair, with resamplers between 8 kHz and the codec's rate."""

    def __init__(self, name: str, ffmpeg: str, enc_rate: int, dec_rate: int, clock: int) -> None:
        if av is None:
            raise UnsupportedCodec(codec=f"{name} (install the codecs extra: PyAV)")
        self.name = name
        self.clock_rate = clock
        self._enc_rate = enc_rate
        self._dec_ratio = dec_rate // PCM_RATE
        self._enc: Any = av.CodecContext.create(ffmpeg, "w")
        self._enc.sample_rate = enc_rate
        self._enc.layout = "mono"
        self._enc.format = "s16"
        if name == "OPUS":
            self._enc.bit_rate = OPUS_BITRATE
            self._enc.options = {"application": "voip"}
        self._dec: Any = av.CodecContext.create(ffmpeg, "r")
        self._dec.sample_rate = dec_rate
        self._dec.layout = "mono"
        self._up = AudioResampler("s16", "mono", enc_rate) if enc_rate != PCM_RATE else None
        self._down = AudioResampler("s16", "mono", PCM_RATE)
        self._pts = 0
        self._in = _Fifo()
        self._out = _Fifo()

    def encode(self, pcm: Pcm) -> bytes:
        frame = AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = PCM_RATE
        frame.pts = self._pts
        self._pts += pcm.size
        if self._up is not None:  # G.722: 8 kHz to 16 kHz, exactly twice the samples out
            for f in self._up.resample(frame):
                self._in.push(f.to_ndarray().reshape(-1).astype(np.int16, copy=False))
            wide = self._in.take(pcm.size * self._enc_rate // PCM_RATE)
            frame = AudioFrame.from_ndarray(wide.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = self._enc_rate
            frame.pts = None
        return b"".join(bytes(p) for p in self._enc.encode(frame))

    def decode(self, payload: bytes) -> Pcm:
        decoded = 0
        for frame in self._dec.decode(av.Packet(payload)):
            decoded += frame.samples
            frame.pts = None
            for f in self._down.resample(frame):
                self._out.push(f.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        return self._out.take(decoded // self._dec_ratio)


def available() -> frozenset[str]:
    """The codecs (upper-case names) this process can encode and decode."""
    return frozenset(RTP_CLOCK) if av is not None else frozenset(("PCMA", "PCMU"))


def open_codec(name: str) -> AudioCodec:
    """A fresh codec instance for one stream."""
    key = name.upper()
    if key == "PCMA":
        return _G711("PCMA", alaw_encode, alaw_decode)
    if key == "PCMU":
        return _G711("PCMU", ulaw_encode, ulaw_decode)
    if key == "G722":
        return _AvCodec("G722", "g722", 16000, 16000, RTP_CLOCK[key])
    if key == "OPUS":
        return _AvCodec("OPUS", "libopus", PCM_RATE, 48000, RTP_CLOCK[key])
    raise UnsupportedCodec(codec=name)
