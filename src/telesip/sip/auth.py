"""Digest access authentication for SIP (RFC 2617, RFC 7616, RFC 8760): an I/O-free flow.

`parse_challenge` reads a WWW-Authenticate / Proxy-Authenticate value; `DigestState` keeps
the last challenge and its nonce count and produces Authorization / Proxy-Authorization
values for each new request (preemptively, so a refresh needs no extra round trip).
Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess; qop "auth" (auth-int is not offered by
registrars and is refused). Passwords never reach a repr or an exception text.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

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


def _md5() -> Callable[[bytes], Any]:
    """CPython's own MD5 (what hashlib falls back to): half the cost of OpenSSL's per digest,
    whose hexdigest copies an EVP context; the same values (tests/sip/test_auth.py vectors)."""
    try:
        return cast(Callable[[bytes], Any], importlib.import_module("_md5").md5)
    except ImportError:  # another interpreter
        return hashlib.md5


# nonce counts as written (a nonce lives minutes: its count stays small), formatted once
_NC = [f"{n:08x}" for n in range(256)]

_CONSTRUCTORS: dict[str, Callable[[bytes], Any]] = {
    "MD5": _md5(),
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


_HA2: dict[tuple[str, str, str], str] = {}  # (method, uri, algorithm) -> H(A2), bounded


@dataclass(slots=True, init=False)
class DigestState:
    """Credentials plus the challenge in force; `authorize` bumps the nonce count.

    The hashes that do not change from one request to the next are kept: H(A1) per realm and
    algorithm (the password's), H(A2) per method and URI (for every account at once, `_HA2`).
    A refresh hashes once where `digest_response` hashes three times; both give the same value
    (tests/sip/test_auth.py compares them).
    """

    username: str
    password: str = field(repr=False)
    challenge: Challenge | None = None
    nc: int = 0
    # H(A1) and what it was made of: (username, password, realm, algorithm, H(A1)), the same
    # string objects as the fields and the challenge (a few pointers per account, no copies)
    _ha1: tuple[str, str, str, str, str] | None = field(default=None, repr=False, compare=False)

    # written out (one per account): see message.Response
    def __init__(
        self,
        username: str,
        password: str,
        challenge: Challenge | None = None,
        nc: int = 0,
        _ha1: tuple[str, str, str, str, str] | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.challenge = challenge
        self.nc = nc
        self._ha1 = _ha1

    def set_challenge(self, ch: Challenge) -> None:
        if self.challenge is None or ch.nonce != self.challenge.nonce:
            self.nc = 0
        self.challenge = ch

    def set_challenge_hint(self, ch: Challenge | None) -> None:
        """A challenge another account got from the same server and realm: use it for our
        first request (our own nonce count starts at 1)."""
        if ch is not None and self.challenge is None:
            self.set_challenge(ch)

    def adopt(self, ch: Challenge | None) -> bool:
        """A newer nonce another account got from the same server, realm and algorithm: answer
        it on our next request instead of the one we hold (our nonce count starts over). Saves
        each account its own 401 when the server's nonces expire (Kamailio's live 300 s); a
        server that wants its own nonce per client says 401 again and we follow it. True when
        adopted."""
        own = self.challenge
        if (
            ch is None
            or own is None
            or ch.nonce == own.nonce
            or ch.realm != own.realm
            or ch.algorithm != own.algorithm
            or ch.header_name != own.header_name
        ):
            return False
        self.set_challenge(ch)
        return True

    def authorize(self, method: str, uri: str, cnonce: str) -> tuple[str, str] | None:
        """(header name, value) for the next request, or None before any challenge."""
        ch = self.challenge
        if ch is None:
            return None
        self.nc += 1
        nc = _NC[self.nc] if self.nc < 256 else f"{self.nc:08x}"
        alg = ch.algorithm
        base = alg.removesuffix("-SESS")
        sess = alg != base
        user, password, realm = self.username, self.password, ch.realm
        ha1 = self._ha1
        if ha1 is None or ha1[0] != user or ha1[1] != password or ha1[2] != realm or ha1[3] != base:
            ha1 = self._ha1 = (user, password, realm, base, _h(base, f"{user}:{realm}:{password}"))
        h1 = ha1[4]
        if sess:  # -sess: the session key of RFC 7616 §3.4.2, per cnonce
            h1 = _h(base, f"{h1}:{ch.nonce}:{cnonce}")
        ha2 = _HA2.get((method, uri, base))
        if ha2 is None:  # the same for every account of a registrar: kept for all
            ha2 = _h(base, f"{method}:{uri}")
            if len(_HA2) < 1024:
                _HA2[(method, uri, base)] = ha2
        qop = "auth" in ch.qop
        text = f"{h1}:{ch.nonce}:{nc}:{cnonce}:auth:{ha2}" if qop else f"{h1}:{ch.nonce}:{ha2}"
        resp = str(_CONSTRUCTORS[base](text.encode()).hexdigest())
        opaque = f', opaque="{ch.opaque}"' if ch.opaque is not None else ""
        value = (
            f'Digest username="{user}", realm="{realm}", nonce="{ch.nonce}", uri="{uri}", '
            f'response="{resp}", algorithm={alg.replace("-SESS", "-sess")}{opaque}'
        )
        if qop or sess:
            value += f', cnonce="{cnonce}"'
        if qop:
            value += f", qop=auth, nc={nc}"
        return ch.header_name, value
