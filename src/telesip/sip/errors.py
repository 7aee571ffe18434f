"""Errors of the sans-I/O SIP core: their own tree, outside the person-facing one (they share
only its shape, ``telesip.domain.errors.CodedError``); the shells that drive the core catch them.

    SipError                  root of everything raised by telesip.sip
    ├── ParseError            bytes that are not a well-formed SIP message (RFC 3261 §7)
    │   ├── UnsupportedVersion  well-formed, but not SIP/2.0 (a server answers 505)
    │   └── SdpError            a body that is not usable SDP (sdp.py)
    ├── AuthError             a challenge we cannot answer (unknown algorithm, bad fields)
    ├── StateError            an event that the state table does not allow in this state
    ├── NoCommonCodec         an offer with no codec we take (negotiation.py; a UAS answers 488)
    └── LookupFailed          no address for the server (workers/dns.py, the resolver's shell)

Texts never carry credentials: a password or a computed digest response is never formatted
into a message here.
"""

from __future__ import annotations

from telesip.domain.errors import CodedError

__all__ = ["AuthError", "ParseError", "SipError", "StateError", "UnsupportedVersion"]


class SipError(CodedError):
    """Root of the SIP core's errors; `code` is stable, the text is for people."""

    code = "sip_error"
    default_message = "SIP error."


class ParseError(SipError, ValueError):
    code = "sip_parse_error"


class UnsupportedVersion(ParseError):
    code = "sip_unsupported_version"


class AuthError(SipError):
    code = "sip_auth_error"


class StateError(SipError, RuntimeError):
    code = "sip_illegal_state"
