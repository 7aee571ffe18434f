"""Digest access authentication for SIP (RFC 2617, RFC 7616, RFC 8760): an I/O-free flow.

`parse_challenge` reads a WWW-Authenticate / Proxy-Authenticate value; `DigestState` keeps
the last challenge and its nonce count and produces Authorization / Proxy-Authorization
values for each new request (preemptively, so a refresh needs no extra round trip).
Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess; qop "auth" (auth-int is not offered by
registrars and is refused). Passwords never reach a repr or an exception text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import AuthError, ParseError
from .fields import split_commas, unquote

__all__ = ["Challenge", "DigestState", "digest_response", "parse_challenge"]

_HASHES: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


@dataclass(frozen=True, slots=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"  # upper-cased; "-SESS" suffix for the session variants
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    proxy: bool = False  # came in a 407 / Proxy-Authenticate

    @property
    def header_name(self) -> str:
        return "Proxy-Authorization" if self.proxy else "Authorization"


def parse_challenge(value: str, *, proxy: bool = False) -> Challenge:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise AuthError("not a Digest challenge")
    params: dict[str, str] = {}
    try:
        items = split_commas(rest)
    except ParseError as exc:
        raise AuthError("malformed challenge") from exc
    for item in items:
        k, eq, v = item.partition("=")
        if not eq:
            raise AuthError("malformed challenge parameter")
        params[k.strip().lower()] = unquote(v.strip())
    if "nonce" not in params or "realm" not in params:
        raise AuthError("challenge without realm or nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    if algorithm.removesuffix("-SESS") not in _HASHES:
        raise AuthError("unsupported digest algorithm")
    qop = tuple(q.strip().lower() for q in params["qop"].split(",")) if "qop" in params else ()
    if qop and "auth" not in qop:
        raise AuthError("only qop=auth is supported")
    return Challenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=algorithm,
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
        proxy=proxy,
    )


_CONSTRUCTORS: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
    "SHA-512-256": lambda data: hashlib.new("sha512_256", data),
}


def _h(algorithm: str, text: str) -> str:
    return str(_CONSTRUCTORS[algorithm.removesuffix("-SESS")](text.encode()).hexdigest())


def digest_response(
    ch: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str | None = None,
    nc: int = 1,
) -> str:
    """The `response` hex value (RFC 7616 §3.4.1; without qop, RFC 2069 compatibility)."""
    alg = ch.algorithm
    ha1 = _h(alg, f"{username}:{ch.realm}:{password}")
    if alg.endswith("-SESS"):
        if cnonce is None:
            raise AuthError("session algorithms need a cnonce")
        ha1 = _h(alg, f"{ha1}:{ch.nonce}:{cnonce}")
    ha2 = _h(alg, f"{method}:{uri}")
    if "auth" in ch.qop:
        if cnonce is None:
            raise AuthError("qop=auth needs a cnonce")
        return _h(alg, f"{ha1}:{ch.nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return _h(alg, f"{ha1}:{ch.nonce}:{ha2}")


@dataclass(slots=True)
class DigestState:
    """Credentials plus the challenge in force; `authorize` bumps the nonce count."""

    username: str
    password: str = field(repr=False)
    challenge: Challenge | None = None
    nc: int = 0

    def set_challenge(self, ch: Challenge) -> None:
        if self.challenge is None or ch.nonce != self.challenge.nonce:
            self.nc = 0
        self.challenge = ch

    def set_challenge_hint(self, ch: Challenge | None) -> None:
        """A challenge another account got from the same server and realm: use it for our
        first request (our own nonce count starts at 1)."""
        if ch is not None and self.challenge is None:
            self.set_challenge(ch)

    def authorize(self, method: str, uri: str, cnonce: str) -> tuple[str, str] | None:
        """(header name, value) for the next request, or None before any challenge."""
        ch = self.challenge
        if ch is None:
            return None
        self.nc += 1
        resp = digest_response(
            ch,
            username=self.username,
            password=self.password,
            method=method,
            uri=uri,
            cnonce=cnonce,
            nc=self.nc,
        )
        parts = [
            f'Digest username="{self.username}"',
            f'realm="{ch.realm}"',
            f'nonce="{ch.nonce}"',
            f'uri="{uri}"',
            f'response="{resp}"',
            f"algorithm={ch.algorithm.replace('-SESS', '-sess')}",
        ]
        if ch.opaque is not None:
            parts.append(f'opaque="{ch.opaque}"')
        if "auth" in ch.qop or ch.algorithm.endswith("-SESS"):
            parts.append(f'cnonce="{cnonce}"')
        if "auth" in ch.qop:
            parts.append(f"qop=auth, nc={self.nc:08x}")
        return ch.header_name, ", ".join(parts)
