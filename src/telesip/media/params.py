"""What the media layer needs to know of a negotiated session, and what it reports back.

`MediaParams` is filled from the SIP side's SDP negotiation by the caller (the media package
does not import `telesip.sip`); `StreamStats` is a snapshot of one `RtpStream`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .codecs import RTP_CLOCK
from .errors import UnsupportedCodec

if TYPE_CHECKING:
    from .srtp import SrtpKeys

__all__ = ["MediaParams", "StreamStats"]


@dataclass(frozen=True, slots=True)
class MediaParams:
    codec: str
    """"PCMA", "PCMU", "G722" or "OPUS" (`codecs.RTP_CLOCK`)."""
    payload_type: int
    remote_addr: str | None = None
    remote_port: int | None = None
    dtmf_payload_type: int | None = None
    """The telephone-event payload type, or None when the peer did not offer it."""
    ptime: int = 20
    """Milliseconds of audio per packet we send (the peer's a=ptime)."""
    remote_rtcp_port: int | None = None
    """The peer's a=rtcp port; None means RTP port + 1."""
    clock_rate: int = 8000
    """The codec's RTP clock (48000 for Opus); telephone-events use the same clock."""
    srtp: SrtpKeys | None = None
    """SRTP keys (RFC 3711, keyed by SDES); None: RTP and RTCP in clear."""

    def __post_init__(self) -> None:
        if RTP_CLOCK.get(self.codec.upper()) != self.clock_rate:
            raise UnsupportedCodec(codec=f"{self.codec}/{self.clock_rate}")
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} out of range")
        if not 10 <= self.ptime <= 200 or self.ptime % 10:
            raise ValueError(f"ptime {self.ptime} ms is not a multiple of 10 in 10..200")


@dataclass(frozen=True, slots=True)
class StreamStats:
    local_port: int
    remote: tuple[str, int] | None
    """Where RTP goes now (after latching, the packets' source)."""
    latched: bool
    """True once a packet from the remote confirmed (or moved) the address."""
    relatches: int
    """How many times the remote moved to the source of a packet."""
    packets_sent: int
    octets_sent: int
    packets_received: int
    """Accepted RTP packets (audio and events) of the current remote source."""
    lost: int
    late: int
    duplicates: int
    concealed: int
    invalid: int
    """Datagrams that were not RTP, or RTP of a payload type we did not negotiate."""
    foreign: int
    """Valid RTP from an address other than the latched remote (dropped)."""
    jitter_ms: float
    remote_ssrc: int | None
    rtt_ms: float | None
    """Round-trip time from the peer's last report about us (RFC 3550 §6.4.1)."""
    remote_fraction_lost: float | None
    """Loss of our packets as the peer reported it, 0..1."""
    dtmf_sent: int
    dtmf_received: int
    rtcp_sent: int
    rtcp_received: int
    last_received_at: float | None
    """Event loop time of the last accepted RTP packet (to spot a vanished peer)."""
