"""SRTP and SRTCP (RFC 3711) for one stream, through libsrtp (the `pylibsrtp` binding).

`SrtpTransform(keys)` holds two libsrtp sessions: one protects what we send with our master key
(the one in our SDP), the other checks and decrypts what the peer sends with its key. libsrtp
keeps the rollover counters and the replay windows; a packet that fails authentication or
replays raises `MalformedPacket` (the stream counts it as invalid and drops it).

Keys come from the SDP negotiation (SDES, RFC 4568) as `SrtpKeys`; their repr shows no key.
Pure computation, no I/O: the sockets are the calls wing's `RtpStream`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pylibsrtp

from .errors import MalformedPacket

__all__ = ["SRTP_PROFILES", "SrtpKeys", "SrtpTransform"]

#: RFC 4568 suite names -> libsrtp profiles. With _32 only SRTP's tag is short: SRTCP keeps
#: its 80-bit tag (RFC 4568 §6.2.2; libsrtp's profile does the same).
SRTP_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """A stream's suite and master keys (key || salt, 30 bytes each for the AES-CM suites)."""

    suite: str
    local_key: bytes = field(repr=False)  # ours: what we protect with
    remote_key: bytes = field(repr=False)  # the peer's: what we unprotect with

    def __post_init__(self) -> None:
        if self.suite not in SRTP_PROFILES:
            raise ValueError(f"SRTP suite {self.suite!r} is not supported")


def _session(key: bytes, profile: int, ssrc_type: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key, ssrc_type=ssrc_type, srtp_profile=profile)
    return pylibsrtp.Session(policy=policy)


class SrtpTransform:
    """Protect outgoing RTP/RTCP, unprotect incoming, for one stream's negotiated keys."""

    __slots__ = ("_rx", "_tx", "keys")

    def __init__(self, keys: SrtpKeys) -> None:
        profile = SRTP_PROFILES[keys.suite]
        self.keys = keys
        try:
            self._tx = _session(keys.local_key, profile, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
            self._rx = _session(keys.remote_key, profile, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        except pylibsrtp.Error as exc:  # a key of the wrong length for the suite
            raise ValueError(f"unusable SRTP key for {keys.suite}") from exc

    def protect(self, packet: bytes) -> bytes:
        """The SRTP packet; `MalformedPacket` when libsrtp refuses (a sequence number sent
        before under this key: its keystream must not be used twice, RFC 3711 §9.1)."""
        try:
            return self._tx.protect(packet)
        except pylibsrtp.Error as exc:
            raise MalformedPacket(reason=f"SRTP refused to protect it ({exc})") from exc

    def protect_rtcp(self, packet: bytes) -> bytes:
        try:
            return self._tx.protect_rtcp(packet)
        except pylibsrtp.Error as exc:
            raise MalformedPacket(reason=f"SRTCP refused to protect it ({exc})") from exc

    def unprotect(self, packet: bytes) -> bytes:
        try:
            return self._rx.unprotect(packet)
        except pylibsrtp.Error as exc:
            raise MalformedPacket(reason=f"SRTP packet refused ({exc})") from exc

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        try:
            return self._rx.unprotect_rtcp(packet)
        except pylibsrtp.Error as exc:
            raise MalformedPacket(reason=f"SRTCP packet refused ({exc})") from exc
