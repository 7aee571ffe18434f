"""Media for calls, sans-I/O: G.711, RTP/RTCP packets, RFC 4733 DTMF, jitter buffer, tones,
analysis, recording.

numpy is allowed here; sockets, asyncio, `telesip.sip`, `telesip.calls` and the store are not
(the SIP side converts its `Negotiated` into `MediaParams`). The sockets and the event loop's
clock live in the calls wing: `telesip.calls.rtp_stream` (`RtpStream`) and
`telesip.calls.rtp_ports` (`PortPool`). See docs/calls.md.
"""

from __future__ import annotations

from .analysis import dominant_frequency, rms_dbfs
from .dtmf import DtmfEvent, DtmfPacket, DtmfReceiver, DtmfSender, decode_event, encode_event
from .errors import (
    InvalidDigit,
    MalformedPacket,
    MediaError,
    NoTelephoneEvent,
    PortsExhausted,
    UnsupportedCodec,
)
from .g711 import Pcm, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from .jitter import JitterBuffer, JitterStats
from .params import MediaParams, StreamStats
from .recorder import CallRecorder
from .rtcp import (
    Bye,
    ReceiverReport,
    ReceptionStats,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_rtcp,
    parse_rtcp,
)
from .rtp import RtpExtension, RtpPacket, RtpSender
from .tone import Ringback, SineGenerator, ringback, sine

__all__ = [
    "Bye",
    "CallRecorder",
    "DtmfEvent",
    "DtmfPacket",
    "DtmfReceiver",
    "DtmfSender",
    "InvalidDigit",
    "JitterBuffer",
    "JitterStats",
    "MalformedPacket",
    "MediaError",
    "MediaParams",
    "NoTelephoneEvent",
    "Pcm",
    "PortsExhausted",
    "ReceiverReport",
    "ReceptionStats",
    "ReportBlock",
    "Ringback",
    "RtpExtension",
    "RtpPacket",
    "RtpSender",
    "SenderReport",
    "SineGenerator",
    "SourceDescription",
    "StreamStats",
    "UnsupportedCodec",
    "alaw_decode",
    "alaw_encode",
    "build_rtcp",
    "decode_event",
    "dominant_frequency",
    "encode_event",
    "parse_rtcp",
    "ringback",
    "rms_dbfs",
    "sine",
    "ulaw_decode",
    "ulaw_encode",
]
