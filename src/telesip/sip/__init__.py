"""Sans-I/O SIP: messages, digest auth, client transactions, registration. No sockets, no clock."""

from __future__ import annotations

from .auth import Challenge, DigestState, digest_response, parse_challenge
from .errors import AuthError, ParseError, SipError, StateError, UnsupportedVersion
from .message import Headers, Keepalive, Request, Response, StreamFramer, parse_message
from .registration import (
    Registration,
    RegistrationParams,
    RegistrationPolicy,
    RegistrationStatus,
    RegState,
    StatusChanged,
)
from .transaction import ClientTransaction, InviteClientTransaction

__all__ = [
    "AuthError",
    "Challenge",
    "ClientTransaction",
    "DigestState",
    "Headers",
    "InviteClientTransaction",
    "Keepalive",
    "ParseError",
    "RegState",
    "Registration",
    "RegistrationParams",
    "RegistrationPolicy",
    "RegistrationStatus",
    "Request",
    "Response",
    "SipError",
    "StateError",
    "StatusChanged",
    "StreamFramer",
    "UnsupportedVersion",
    "digest_response",
    "parse_challenge",
    "parse_message",
]
