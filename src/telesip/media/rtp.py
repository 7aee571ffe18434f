"""RTP packets and the sending side (RFC 3550 §5): header parse/build, sequence and timestamp.

`RtpPacket.parse` rejects anything that is not a well-formed version-2 packet with
`MalformedPacket` (short, wrong version, CSRC list or extension past the end, bad padding, an
RTCP packet type on the RTP port per RFC 5761 §4). `RtpSender` owns one SSRC: it starts the
sequence number and timestamp at random values, marks the first packet of each talkspurt, and
counts packets and payload octets for the sender report. RTCP lives in `rtcp.py`.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from .errors import MalformedPacket

__all__ = ["RtpExtension", "RtpPacket", "RtpSender", "seq_diff"]

_HEADER = struct.Struct("!BBHII")
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b between 16-bit sequence numbers, in [-32768, 32767]."""
    return ((a - b + 0x8000) & _U16) - 0x8000


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """The one header extension RFC 3550 allows: 16-bit profile word and 32-bit-aligned data."""

    profile: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0
    """Padding octets after the payload, the count octet included (0 = no padding)."""

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        n = len(data)
        if n < 12:
            raise MalformedPacket(reason=f"{n} bytes is shorter than an RTP header")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != 2:
            raise MalformedPacket(reason=f"RTP version {b0 >> 6}")
        pt = b1 & 0x7F
        if 72 <= pt <= 76:
            raise MalformedPacket(reason="an RTCP packet on the RTP port")
        pos = 12
        csrc: tuple[int, ...] = ()
        cc = b0 & 0x0F
        if cc:
            end = pos + 4 * cc
            if end > n:
                raise MalformedPacket(reason="CSRC list past the end")
            csrc = struct.unpack_from(f"!{cc}I", data, pos)
            pos = end
        extension = None
        if b0 & 0x10:
            if pos + 4 > n:
                raise MalformedPacket(reason="extension header past the end")
            profile, words = struct.unpack_from("!HH", data, pos)
            end = pos + 4 + 4 * words
            if end > n:
                raise MalformedPacket(reason="extension past the end")
            extension = RtpExtension(profile, bytes(data[pos + 4 : end]))
            pos = end
        padding = 0
        end = n
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or pos + padding > n:
                raise MalformedPacket(reason=f"bad padding count {padding}")
            end = n - padding
        return cls(
            payload_type=pt,
            sequence=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[pos:end]),
            marker=bool(b1 & 0x80),
            csrc=csrc,
            extension=extension,
            padding=padding,
        )

    def to_bytes(self) -> bytes:
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} out of range")
        if len(self.csrc) > 15:
            raise ValueError("at most 15 CSRCs")
        if not 0 <= self.padding <= 255:
            raise ValueError("padding must be 0..255 octets")
        b0 = 0x80 | len(self.csrc)
        if self.padding:
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        parts = [
            _HEADER.pack(
                b0,
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence & _U16,
                self.timestamp & _U32,
                self.ssrc & _U32,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            data = self.extension.data
            if len(data) % 4:
                raise ValueError("extension data must be a multiple of 4 octets")
            parts.append(struct.pack("!HH", self.extension.profile, len(data) // 4))
            parts.append(data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


class RtpSender:
    """Numbers the packets of one outgoing source (one SSRC, shared by audio and DTMF events)."""

    def __init__(self, *, ssrc: int | None = None, rng: random.Random | None = None) -> None:
        rng = rng or random.SystemRandom()
        self.ssrc = rng.getrandbits(32) if ssrc is None else ssrc
        self.sequence = rng.getrandbits(16)
        """Sequence number of the next packet."""
        self.timestamp = rng.getrandbits(32)
        """RTP timestamp of the next audio packet's first sample."""
        self.packets_sent = 0
        self.octets_sent = 0
        self.last_timestamp = self.timestamp
        """Timestamp of the latest packet sent (for the sender report)."""
        self._talkspurt = True

    def talkspurt(self) -> None:
        """The next audio packet starts a talkspurt and carries the marker bit."""
        self._talkspurt = True

    def skip(self, samples: int) -> None:
        """Samples that were not sent (silence, a pause): the clock runs on, a talkspurt starts."""
        self.timestamp = (self.timestamp + samples) & _U32
        self._talkspurt = True

    def audio(self, payload_type: int, payload: bytes, samples: int) -> bytes:
        """The next audio packet; its `samples` advance the timestamp."""
        data = self._pack(payload_type, self.timestamp, payload, self._talkspurt)
        self._talkspurt = False
        self.timestamp = (self.timestamp + samples) & _U32
        return data

    def event(self, payload_type: int, timestamp: int, payload: bytes, marker: bool) -> bytes:
        """A packet with an explicit timestamp (RFC 4733 events keep their start timestamp)."""
        return self._pack(payload_type, timestamp, payload, marker)

    def _pack(self, pt: int, ts: int, payload: bytes, marker: bool) -> bytes:
        header = _HEADER.pack(0x80, (0x80 if marker else 0) | pt, self.sequence, ts, self.ssrc)
        self.sequence = (self.sequence + 1) & _U16
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self.last_timestamp = ts
        return header + payload
