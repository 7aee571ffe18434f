"""Sans-I/O SIP: messages, digest auth, transactions, registration, SDP, dialogs and calls.
No sockets, no clock."""

# ruff: noqa: E402 - `compiled.use` must run before the modules it may load compiled
from __future__ import annotations

from . import compiled

compiled.use(__path__)  # the mypyc build of the hot modules, when it matches their sources

from .auth import Challenge, DigestState, digest_response, parse_challenge
from .call import (
    Answered,
    CallEvent,
    CallParams,
    CallState,
    Cancelled,
    Ended,
    Failed,
    IncomingCall,
    Info,
    MediaChanged,
    OutgoingCall,
    Progress,
    ReinviteFailed,
)
from .dialog import Dialog
from .errors import AuthError, ParseError, SipError, StateError, UnsupportedVersion
from .message import (
    Headers,
    Keepalive,
    Request,
    Response,
    StreamFramer,
    parse_message,
    read_response,
)
from .negotiation import (
    DEFAULT_CODECS,
    Negotiated,
    NoCommonCodec,
    accept_answer,
    answer,
    make_offer,
    with_direction,
)
from .registration import (
    BindingState,
    Registration,
    RegistrationParams,
    RegistrationPhase,
    RegistrationPolicy,
    RegistrationStatus,
    StatusChanged,
)
from .sdp import SdpError, SessionDescription
from .transaction import ClientTransaction, InviteClientTransaction, InviteServerTransaction

__all__ = [
    "DEFAULT_CODECS",
    "Answered",
    "AuthError",
    "BindingState",
    "CallEvent",
    "CallParams",
    "CallState",
    "Cancelled",
    "Challenge",
    "ClientTransaction",
    "Dialog",
    "DigestState",
    "Ended",
    "Failed",
    "Headers",
    "IncomingCall",
    "Info",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "Keepalive",
    "MediaChanged",
    "Negotiated",
    "NoCommonCodec",
    "OutgoingCall",
    "ParseError",
    "Progress",
    "Registration",
    "RegistrationParams",
    "RegistrationPhase",
    "RegistrationPolicy",
    "RegistrationStatus",
    "ReinviteFailed",
    "Request",
    "Response",
    "SdpError",
    "SessionDescription",
    "SipError",
    "StateError",
    "StatusChanged",
    "StreamFramer",
    "UnsupportedVersion",
    "accept_answer",
    "answer",
    "digest_response",
    "make_offer",
    "parse_challenge",
    "parse_message",
    "read_response",
    "with_direction",
]
