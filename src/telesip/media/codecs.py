"""The SIP side's audio codecs behind one interface: G.711 (A-law, μ-law), G.722 and Opus.

Every codec turns PCM (int16 mono) at its own audio rate, `PCM_RATE[name]`, into RTP payloads
and back, with no resampling inside: the calls wing carries each call at its codec's rate, so a
wideband codec's band reaches Telegram (the Telegram leg takes 8, 16 or 48 kHz) and G.711 stays
on its cheap 8 kHz path. `open_codec(name)` gives a fresh, stateful instance per stream (G.722
is ADPCM and Opus predicts: one instance must see one direction's packets in order).
`RTP_CLOCK` is each codec's RTP timestamp rate, which is not always its audio rate:

- **G.711** (PCMA, PCMU): audio at 8 kHz, clock 8000, one byte per sample (numpy tables,
  `g711.py`).
- **G.722** (ITU-T G.722, 64 kbit/s sub-band ADPCM): audio at 16 kHz, but its RTP clock is
  8000 (RFC 3551 §4.5.2, kept for an old mistake): 20 ms are 320 samples, 160 bytes and 160
  timestamp units. FFmpeg's codec through PyAV.
- **Opus** (RFC 6716, RTP per RFC 7587): `opus/48000/2` in SDP, clock 48000 (20 ms = 960
  units), audio at 48 kHz here too (mono, 24 kbit/s, VoIP application; a stereo stream from a
  peer is downmixed by the decoder). libopus through PyAV.

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
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    av = None

__all__ = ["PCM_RATE", "RTP_CLOCK", "AudioCodec", "available", "open_codec", "rate_of"]

PCM_RATE = {"PCMA": 8000, "PCMU": 8000, "G722": 16000, "OPUS": 48000}
"""Each codec's audio rate: the rate of the PCM it takes and gives."""

RTP_CLOCK = {"PCMA": 8000, "PCMU": 8000, "G722": 8000, "OPUS": 48000}
"""Each codec's RTP clock rate (the rate of its timestamps and of its rtpmap)."""

OPUS_BITRATE = 24000


class AudioCodec(Protocol):
    name: str
    rate: int
    """The audio rate of the PCM it takes and gives (`PCM_RATE`)."""
    clock_rate: int

    def encode(self, pcm: Pcm) -> bytes:
        """The payload of `pcm` (int16 at `rate`)."""

    def decode(self, payload: bytes) -> Pcm:
        """The payload's audio, int16 at `rate`."""


class _G711:
    rate = 8000
    clock_rate = 8000

    def __init__(self, name: str, encode: Callable[[Pcm], bytes], decode: Callable[[bytes], Pcm]):
        self.name = name
        self.encode = encode
        self.decode = decode


class _AvCodec:
    """One FFmpeg encoder and decoder pair at the codec's own audio rate."""

    def __init__(self, name: str, ffmpeg: str) -> None:
        if av is None:
            raise UnsupportedCodec(codec=f"{name} (install the codecs extra: PyAV)")
        self.name = name
        self.rate = PCM_RATE[name]
        self.clock_rate = RTP_CLOCK[name]
        self._enc: Any = av.CodecContext.create(ffmpeg, "w")
        self._enc.sample_rate = self.rate
        self._enc.layout = "mono"
        self._enc.format = "s16"
        if name == "OPUS":
            self._enc.bit_rate = OPUS_BITRATE
            self._enc.options = {"application": "voip"}
        self._dec: Any = av.CodecContext.create(ffmpeg, "r")
        self._dec.sample_rate = self.rate
        self._dec.layout = "mono"
        self._pts = 0

    def encode(self, pcm: Pcm) -> bytes:
        frame = AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += pcm.size
        return b"".join(bytes(p) for p in self._enc.encode(frame))

    def decode(self, payload: bytes) -> Pcm:
        frames = [_int16(f.to_ndarray()) for f in self._dec.decode(av.Packet(payload))]
        if len(frames) == 1:
            return frames[0]
        return np.concatenate(frames) if frames else np.zeros(0, np.int16)


def _int16(samples: Any) -> Pcm:
    """A decoded frame's first channel as int16 (FFmpeg's decoders give s16 here; a float
    format is scaled)."""
    first = samples.reshape(samples.shape[0], -1)[0] if samples.ndim > 1 else samples
    if first.dtype == np.int16:
        return first  # type: ignore[no-any-return]
    scaled = np.clip(first * 32768.0, -32768, 32767)
    return scaled.astype(np.int16)  # type: ignore[no-any-return]


def available() -> frozenset[str]:
    """The codecs (upper-case names) this process can encode and decode."""
    return frozenset(RTP_CLOCK) if av is not None else frozenset(("PCMA", "PCMU"))


def rate_of(name: str) -> int:
    """The audio rate of the codec `name` (8000 for a name it does not know)."""
    return PCM_RATE.get(name.upper(), 8000)


def open_codec(name: str) -> AudioCodec:
    """A fresh codec instance for one stream."""
    key = name.upper()
    if key == "PCMA":
        return _G711("PCMA", alaw_encode, alaw_decode)
    if key == "PCMU":
        return _G711("PCMU", ulaw_encode, ulaw_decode)
    if key == "G722":
        return _AvCodec("G722", "g722")
    if key == "OPUS":
        return _AvCodec("OPUS", "libopus")
    raise UnsupportedCodec(codec=name)
