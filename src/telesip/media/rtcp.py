"""RTCP (RFC 3550 §6): SR, RR, SDES (CNAME), BYE in compound packets, and reception statistics.

`parse_rtcp(data)` reads a compound packet into typed reports; packet types it does not know
(APP, XR, feedback) are skipped by their length, anything malformed raises `MalformedPacket`.
`build_rtcp(*packets)` writes one. `ReceptionStats` keeps, for one remote source, the sequence
bookkeeping of RFC 3550 A.1, the loss figures of A.3 and the interarrival jitter of A.8, and
produces the report block that goes into our next SR/RR.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import MalformedPacket

__all__ = [
    "NTP_EPOCH_OFFSET",
    "Bye",
    "ReceiverReport",
    "ReceptionStats",
    "ReportBlock",
    "RtcpPacket",
    "SenderReport",
    "SourceDescription",
    "build_rtcp",
    "ntp_timestamp",
    "parse_rtcp",
]

SR, RR, SDES, BYE = 200, 201, 202, 203
CNAME = 1
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_BLOCK = struct.Struct("!IIIIII")


def ntp_timestamp(unix_time: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point since 1900) of a Unix time."""
    return int((unix_time + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int
    """Lost since the previous report, as a fraction of 256."""
    cumulative_lost: int
    """24-bit signed: duplicates can make it negative."""
    highest_seq: int
    """Extended highest sequence number received (cycles << 16 | seq)."""
    jitter: int
    """Interarrival jitter in timestamp units."""
    lsr: int = 0
    """Middle 32 bits of the NTP timestamp of the last SR received from this source."""
    dlsr: int = 0
    """Delay since that SR, in 1/65536 s."""

    def to_bytes(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.cumulative_lost)) & 0xFFFFFF
        return _BLOCK.pack(
            self.ssrc,
            (min(255, max(0, self.fraction_lost)) << 24) | lost,
            self.highest_seq & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.lsr & 0xFFFFFFFF,
            self.dlsr & 0xFFFFFFFF,
        )

    @classmethod
    def parse(cls, data: bytes, pos: int) -> ReportBlock:
        ssrc, lost, high, jitter, lsr, dlsr = _BLOCK.unpack_from(data, pos)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        return cls(ssrc, lost >> 24, cumulative, high, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """One SDES chunk per source; only CNAME is kept (other items are read past)."""

    chunks: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Bye:
    ssrcs: tuple[int, ...]
    reason: str | None = None


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye


def _header(count: int, pt: int, body: bytes) -> bytes:
    assert len(body) % 4 == 0
    return struct.pack("!BBH", 0x80 | count, pt, len(body) // 4) + body


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _build_one(packet: RtcpPacket) -> bytes:
    if isinstance(packet, SenderReport):
        body = struct.pack(
            "!IQIII",
            packet.ssrc,
            packet.ntp_timestamp,
            packet.rtp_timestamp & 0xFFFFFFFF,
            packet.packet_count & 0xFFFFFFFF,
            packet.octet_count & 0xFFFFFFFF,
        ) + b"".join(r.to_bytes() for r in packet.reports)
        return _header(len(packet.reports), SR, body)
    if isinstance(packet, ReceiverReport):
        body = struct.pack("!I", packet.ssrc) + b"".join(r.to_bytes() for r in packet.reports)
        return _header(len(packet.reports), RR, body)
    if isinstance(packet, SourceDescription):
        chunks = []
        for ssrc, cname in packet.chunks:
            text = cname.encode()[:255]
            # Items, then a null item; the chunk is padded with nulls to 32 bits (at least one).
            raw = struct.pack("!IBB", ssrc, CNAME, len(text)) + text
            chunks.append(raw + bytes(4 - len(raw) % 4))
        return _header(len(packet.chunks), SDES, b"".join(chunks))
    body = b"".join(struct.pack("!I", s) for s in packet.ssrcs)
    if packet.reason:
        reason = packet.reason.encode()[:255]
        body += _pad4(bytes([len(reason)]) + reason)
    return _header(len(packet.ssrcs), BYE, body)


def build_rtcp(*packets: RtcpPacket) -> bytes:
    """A compound RTCP packet (RFC 3550 §6.1: start it with an SR or RR)."""
    for p in packets:
        if len(getattr(p, "reports", ())) > 31 or len(getattr(p, "chunks", ())) > 31:
            raise ValueError("at most 31 report blocks or chunks per packet")
    return b"".join(_build_one(p) for p in packets)


def _parse_sdes(data: bytes, count: int, pos: int, end: int) -> SourceDescription:
    chunks: list[tuple[int, str]] = []
    for _ in range(count):
        if pos + 4 > end:
            raise MalformedPacket(reason="SDES chunk past the end")
        (ssrc,) = struct.unpack_from("!I", data, pos)
        pos += 4
        cname = ""
        while True:
            if pos >= end:
                raise MalformedPacket(reason="SDES items past the end")
            kind = data[pos]
            if kind == 0:
                pos = (pos + 4) & ~3  # the null item and the padding to the next word
                break
            if pos + 2 > end or pos + 2 + data[pos + 1] > end:
                raise MalformedPacket(reason="SDES item past the end")
            length = data[pos + 1]
            if kind == CNAME:
                cname = data[pos + 2 : pos + 2 + length].decode("utf-8", "replace")
            pos += 2 + length
        chunks.append((ssrc, cname))
    return SourceDescription(tuple(chunks))


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """The known packets of a compound RTCP packet, in order."""
    if len(data) < 8:
        raise MalformedPacket(reason=f"{len(data)} bytes is shorter than an RTCP packet")
    out: list[RtcpPacket] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise MalformedPacket(reason="trailing bytes after the last RTCP packet")
        b0, pt, words = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            raise MalformedPacket(reason=f"RTCP version {b0 >> 6}")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise MalformedPacket(reason="RTCP length past the end")
        if b0 & 0x20:  # padding: only legal on the last packet; its count is in its last octet
            if end != len(data) or data[end - 1] == 0 or data[end - 1] > 4 * words:
                raise MalformedPacket(reason="bad RTCP padding")
            body_end = end - data[end - 1]
        else:
            body_end = end
        count = b0 & 0x1F
        body = pos + 4
        if pos == 0 and pt not in (SR, RR):
            raise MalformedPacket(reason=f"compound RTCP starts with type {pt}, not SR/RR")
        if pt == SR:
            if body + 24 + 24 * count > body_end:
                raise MalformedPacket(reason="SR shorter than its report count")
            ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", data, body)
            blocks = tuple(ReportBlock.parse(data, body + 24 + 24 * i) for i in range(count))
            out.append(SenderReport(ssrc, ntp, rtp_ts, packets, octets, blocks))
        elif pt == RR:
            if body + 4 + 24 * count > body_end:
                raise MalformedPacket(reason="RR shorter than its report count")
            (ssrc,) = struct.unpack_from("!I", data, body)
            blocks = tuple(ReportBlock.parse(data, body + 4 + 24 * i) for i in range(count))
            out.append(ReceiverReport(ssrc, blocks))
        elif pt == SDES:
            out.append(_parse_sdes(data, count, body, body_end))
        elif pt == BYE:
            if body + 4 * count > body_end:
                raise MalformedPacket(reason="BYE shorter than its source count")
            ssrcs = struct.unpack_from(f"!{count}I", data, body)
            reason = None
            rpos = body + 4 * count
            if rpos < body_end:
                length = data[rpos]
                if rpos + 1 + length > body_end:
                    raise MalformedPacket(reason="BYE reason past the end")
                reason = data[rpos + 1 : rpos + 1 + length].decode("utf-8", "replace")
            out.append(Bye(tuple(ssrcs), reason))
        pos = end
    return out


_MAX_DROPOUT = 3000
_MAX_MISORDER = 100
_MIN_SEQUENTIAL = 2
_SEQ_MOD = 1 << 16


class ReceptionStats:
    """One remote source's sequence, loss and jitter bookkeeping (RFC 3550 A.1, A.3, A.8)."""

    def __init__(self, ssrc: int, seq: int, *, clock_rate: int = 8000) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.max_seq = seq
        self.cycles = 0
        self.base_seq = seq
        self.bad_seq = _SEQ_MOD + 1
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self.jitter = 0.0
        """Interarrival jitter in timestamp units (A.8, kept unrounded)."""
        self._transit: int | None = None
        self.probation = 0  # the source is accepted at once: the SDP told us it exists

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = _SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update_seq(self, seq: int) -> bool:
        """Count a packet's sequence number; False when A.1 says to drop it (a wild jump)."""
        udelta = (seq - self.max_seq) % _SEQ_MOD
        if udelta < _MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += _SEQ_MOD
            self.max_seq = seq
        elif udelta <= _SEQ_MOD - _MAX_MISORDER:
            if seq == self.bad_seq:
                self._init_seq(seq)  # two sequential packets: the source restarted
            else:
                self.bad_seq = (seq + 1) % _SEQ_MOD
                return False
        # else: a duplicate or reordered packet
        self.received += 1
        return True

    def update_jitter(self, rtp_timestamp: int, arrival: int) -> None:
        """A.8: `arrival` is the arrival time in the same timestamp units (any origin)."""
        transit = (arrival - rtp_timestamp) & 0xFFFFFFFF
        if self._transit is not None:
            d = abs(((transit - self._transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
            self.jitter += (d - self.jitter) / 16.0
        self._transit = transit

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        return self.expected - self.received

    def report_block(self, *, lsr: int = 0, dlsr: int = 0) -> ReportBlock:
        """The report block for our next SR/RR; starts a new fraction-lost interval (A.3)."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior = expected
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            cumulative_lost=self.lost,
            highest_seq=self.extended_max,
            jitter=int(self.jitter),
            lsr=lsr,
            dlsr=dlsr,
        )
