"""Errors of the media layer: their own tree, outside the person-facing one (they share only its
shape, ``telesip.domain.errors.CodedError``); the calls' bridge catches them.

MediaError                 root of everything raised by telesip.media
├── MalformedPacket        bytes that are not a valid RTP / RTCP / RFC 4733 packet
├── UnsupportedCodec       a codec the media layer does not carry (only PCMA, PCMU)
├── InvalidDigit           a DTMF digit outside 0-9 * # A-D
├── NoTelephoneEvent       send_dtmf without a negotiated telephone-event type
└── PortsExhausted         no free even RTP port (with its RTCP port) in the range
"""

from __future__ import annotations

from telesip.domain.errors import CodedError

__all__ = [
    "InvalidDigit",
    "MalformedPacket",
    "MediaError",
    "NoTelephoneEvent",
    "PortsExhausted",
    "UnsupportedCodec",
]


class MediaError(CodedError):
    code = "media_error"
    default_message = "Media error."


class MalformedPacket(MediaError, ValueError):
    code = "media_malformed_packet"
    default_message = "Malformed media packet: {reason}."


class UnsupportedCodec(MediaError, ValueError):
    code = "media_unsupported_codec"
    default_message = "Codec {codec!r} is not supported (PCMA and PCMU are)."


class InvalidDigit(MediaError, ValueError):
    code = "media_invalid_digit"
    default_message = "{digit!r} is not a DTMF digit (0-9, *, #, A-D)."


class PortsExhausted(MediaError):
    code = "media_ports_exhausted"
    default_message = (
        "No free RTP port in {range}: {in_use} pairs in use, {refused} refused by the system. "
        "Widen TELESIP_RTP_PORTS or lower TELESIP_MAX_CALLS."
    )


class NoTelephoneEvent(MediaError):
    code = "media_no_telephone_event"
    default_message = (
        "The peer did not agree to RFC 4733 telephone events; send the digit by SIP INFO."
    )
