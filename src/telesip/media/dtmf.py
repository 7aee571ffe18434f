"""RFC 4733 telephone events (DTMF digits) in RTP: payload codec, sender and receiver.

The payload is 4 octets: event (0-9, 10 = *, 11 = #, 12-15 = A-D), E bit (end), R, volume
(0-63, in -dBm0), and the duration in timestamp units since the event's timestamp. All packets
of one event carry the same RTP timestamp. `DtmfSender` produces one packet per packetization
interval: the first with the marker bit, updates with a growing duration, and the end packet
three times (§2.5.1.4). `DtmfReceiver` reports each event once: a new event is a new timestamp
(or a new digit), so a lost start or a repeated end does not duplicate or lose a digit.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from .errors import InvalidDigit, MalformedPacket

__all__ = [
    "DIGITS",
    "DtmfEvent",
    "DtmfPacket",
    "DtmfReceiver",
    "DtmfSender",
    "decode_event",
    "encode_event",
]

DIGITS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")


def _event_code(digit: str) -> int:
    code = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise InvalidDigit(digit=digit)
    return code


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    digit: str
    end: bool
    volume: int
    duration: int


def encode_event(digit: str, end: bool = False, volume: int = 10, duration: int = 0) -> bytes:
    """The 4-octet telephone-event payload."""
    if not 0 <= volume <= 63:
        raise ValueError("volume is 0..63 (-dBm0)")
    return _EVENT.pack(
        _event_code(digit), (0x80 if end else 0) | volume, max(0, min(duration, 0xFFFF))
    )


def decode_event(payload: bytes) -> DtmfEvent:
    """The event of a telephone-event payload (extra octets, e.g. redundancy, are ignored)."""
    if len(payload) < 4:
        raise MalformedPacket(reason="telephone-event payload shorter than 4 octets")
    code, flags, duration = _EVENT.unpack_from(payload)
    if code >= len(DIGITS):
        raise MalformedPacket(reason=f"telephone event {code} is not a DTMF digit")
    return DtmfEvent(DIGITS[code], bool(flags & 0x80), flags & 0x3F, duration)


@dataclass(frozen=True, slots=True)
class DtmfPacket:
    """One RTP packet of an event: the payload, its marker bit, the event's timestamp."""

    payload: bytes
    marker: bool
    timestamp: int


class DtmfSender:
    """The packet series of one digit, one `next_packet()` per packetization interval.

    `timestamp` is the RTP timestamp at the event's start (the audio clock's current value);
    durations grow by `step` samples per packet until `duration` (the tone length); then the
    end packet goes out `end_repeats` times with the final duration.
    """

    def __init__(
        self,
        digit: str,
        timestamp: int,
        *,
        duration: int = 800,
        step: int = 160,
        volume: int = 10,
        end_repeats: int = 3,
    ) -> None:
        _event_code(digit)
        if duration < step or step <= 0:
            raise ValueError("duration must be at least one step")
        self.digit = digit.upper()
        self.timestamp = timestamp & 0xFFFFFFFF
        self.duration = min(duration, 0xFFFF)
        self.step = step
        self.volume = volume
        self._elapsed = 0
        self._ends_left = end_repeats

    @property
    def done(self) -> bool:
        return self._ends_left == 0

    def next_packet(self) -> DtmfPacket | None:
        if self.done:
            return None
        first = self._elapsed == 0
        self._elapsed = min(self._elapsed + self.step, self.duration)
        end = self._elapsed >= self.duration
        if end:
            self._ends_left -= 1
        payload = encode_event(self.digit, end, self.volume, self._elapsed)
        return DtmfPacket(payload, first, self.timestamp)

    def packets(self) -> list[DtmfPacket]:
        """The whole remaining series (for tests and for senders that pace it themselves)."""
        out: list[DtmfPacket] = []
        while (p := self.next_packet()) is not None:
            out.append(p)
        return out


class DtmfReceiver:
    """Turns the packets of telephone events into digits, each event reported once."""

    def __init__(self, *, memory: int = 8) -> None:
        # The (timestamp, digit) of recent events: a late packet of an earlier event, or its
        # third end packet, must not read as a new one.
        self._seen: deque[tuple[int, str]] = deque(maxlen=memory)

    def feed(self, timestamp: int, payload: bytes) -> str | None:
        """The digit when this packet starts a new event, else None. Raises MalformedPacket."""
        event = decode_event(payload)
        key = (timestamp, event.digit)
        if key in self._seen:
            return None
        self._seen.append(key)
        return event.digit
