"""Structured header values of RFC 3261 §25: parameters, name-addr, Via, CSeq.

Pure functions from `str` to small frozen values; every malformed input raises ParseError.
Splitting on commas and semicolons respects quoted strings and <...> brackets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ParseError

__all__ = [
    "NameAddr",
    "Via",
    "format_params",
    "parse_cseq",
    "parse_name_addr",
    "parse_params",
    "parse_uint",
    "parse_via",
    "split_commas",
    "unquote",
]

TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:")
_WS = " \t"
# A host, a bracketed IPv6 reference, or a token: what a parameter value may be (§25.1).
_PARAM_VALUE_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~:]+|\[[0-9A-Fa-f:.]+\]")
_VIA_RE = re.compile(
    r"SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?[ \t]*(.*)",
    re.DOTALL,
)


_URI_SPACE = re.compile(r"[ \t\r\n]")
_URI_UNBRACKETED = re.compile(r"[,?;]")


def is_token(s: str) -> bool:
    return _TOKEN_RE.fullmatch(s) is not None


def parse_uint(text: str, what: str, limit: int = 2**32 - 1) -> int:
    """A decimal number of at most `limit` (RFC 3261 bounds, RFC 4475 §3.1.2.4)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ParseError(f"{what}: not a number")
    value = int(text)
    if value > limit:
        raise ParseError(f"{what}: value too large")
    return value


_SCAN_TOKEN = {
    sep: re.compile(r'"(?:\\.|[^"\\])*"|<[^<>]*>|[^"<>' + sep + r"]+|" + re.escape(sep), re.DOTALL)
    for sep in ",;"
}


def _scan(value: str, sep: str) -> list[str]:
    """Split at `sep` outside quoted strings and <...>; raises on an open quote or bracket."""
    if '"' not in value and "<" not in value and ">" not in value:
        return value.split(sep)  # the common case: nothing to protect
    parts: list[str] = []
    current: list[str] = []
    pos = 0
    pattern = _SCAN_TOKEN[sep]
    while pos < len(value):
        m = pattern.match(value, pos)
        if m is None:
            raise ParseError("unterminated quoted string or <")
        tok = m.group()
        if tok == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(tok)
        pos = m.end()
    parts.append("".join(current))
    return parts


def split_commas(value: str) -> list[str]:
    """Values of a comma-separated header; an empty element is an error."""
    if "," not in value and '"' not in value and "<" not in value and ">" not in value:
        one = value.strip(_WS)  # one value, nothing quoted: what the scan below makes of it
        if not one:
            raise ParseError("empty element in a comma-separated header")
        return [one]
    parts = [p.strip(_WS) for p in _scan(value, ",")]
    if "" in parts:
        raise ParseError("empty element in a comma-separated header")
    return parts


def unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return re.sub(r"\\(.)", r"\1", s[1:-1], flags=re.DOTALL)
    return s


_PARAM_RE = re.compile(
    r"[ \t]*;[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)"
    r'(?:[ \t]*=[ \t]*("(?:\\.|[^"\\])*"|[A-Za-z0-9\-.!%*_+`\'~:]+|\[[0-9A-Fa-f:.]+\]))?',
    re.DOTALL,
)


def parse_params(text: str) -> dict[str, str | None]:
    """`;a=b;c` (leading `;` included) into {lowercased name: value or None}."""
    if '"' not in text and " " not in text and "\t" not in text:
        return _plain_params(text)
    return _scan_params(text)


_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_PLAIN_VALUE = r"(?:[A-Za-z0-9\-.!%*_+`'~:]+|\[[0-9A-Fa-f:.]+\])"
# `;name[=value]` repeated, in one match: what `_plain_params` accepts
_PLAIN_PARAMS_RE = re.compile(f"(?:;{_TOKEN}(?:={_PLAIN_VALUE})?)+")


def _plain_params(text: str) -> dict[str, str | None]:
    """`parse_params` for text without quotes or blanks: one match of the whole text against
    the expressions `_PARAM_RE` is made of, then a split (tests/sip/test_fast_paths.py compares
    it with the general scanner)."""
    params: dict[str, str | None] = {}
    if not text:
        return params
    if _PLAIN_PARAMS_RE.fullmatch(text) is None:
        raise ParseError("bad parameters")
    for piece in text[1:].split(";"):
        name, eq, value = piece.partition("=")
        params[name.lower()] = value if eq else None
    return params


def _scan_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    pos, end = 0, len(text)
    while pos < end:
        m = _PARAM_RE.match(text, pos)
        if m is None:
            if text[pos:].strip(_WS):
                raise ParseError("bad parameters")
            break
        params[m.group(1).lower()] = m.group(2)
        pos = m.end()
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(frozen=True, slots=True)
class NameAddr:
    """`"Display" <uri>;params` or `uri;params` (To, From, Contact, Route)."""

    uri: str
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _check_uri(uri: str, *, bracketed: bool) -> None:
    if not uri or _URI_SPACE.search(uri):
        raise ParseError("whitespace in URI")
    if not _SCHEME_RE.match(uri):
        raise ParseError("URI without scheme")
    if not bracketed and _URI_UNBRACKETED.search(uri):
        raise ParseError("URI with , ? or ; must be enclosed in <>")


def parse_name_addr(value: str) -> NameAddr:
    s = value.strip(_WS)
    display: str | None = None
    if s.startswith('"'):
        i = 1
        while i < len(s) and s[i] != '"':
            i += 2 if s[i] == "\\" else 1
        if i >= len(s):
            raise ParseError("unterminated display name")
        display = unquote(s[: i + 1])
        s = s[i + 1 :].lstrip(_WS)
        if not s.startswith("<"):
            raise ParseError("quoted display name without <uri>")
    lt = s.find("<")
    if lt >= 0:
        words = s[:lt].split()
        if any(not is_token(w) for w in words):
            raise ParseError("display name is neither quoted nor tokens")
        if words:
            display = " ".join(words)
        gt = s.find(">", lt)
        if gt < 0:
            raise ParseError("unterminated <")
        uri = s[lt + 1 : gt]
        _check_uri(uri, bracketed=True)
        return NameAddr(uri, display, parse_params(s[gt + 1 :]))
    uri, semi, rest = s.partition(";")
    uri = uri.strip(_WS)
    _check_uri(uri, bracketed=False)
    return NameAddr(uri, None, parse_params(semi + rest))


class Via:
    """A parsed Via value. A plain class with a written `__init__`: one is made per message on
    the registration path, and compiled (telesip.native) that is a C call and its attributes
    are read in C, where a named tuple's `__new__` and attribute reads go through Python."""

    __slots__ = ("host", "params", "port", "transport")

    def __init__(
        self, transport: str, host: str, port: int | None, params: dict[str, str | None]
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.params = params

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return (
            self.transport == other.transport
            and self.host == other.host
            and self.port == other.port
            and self.params == other.params
        )

    def __repr__(self) -> str:
        return f"Via({self.transport!r}, {self.host!r}, {self.port!r}, {self.params!r})"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        v = self.params.get("rport")
        return int(v) if v and v.isdigit() else None


# The usual Via, `SIP/2.0/UDP host:port;params` with no blanks or quotes: what `parse_via` reads
# without its general expression (tests/sip/test_fast_paths.py compares the two).
_VIA_PLAIN_RE = re.compile(
    r"SIP/2\.0/([A-Za-z0-9\-.!%*_+`'~]+) (\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::([0-9]{1,5}))?"
    f"((?:;{_TOKEN}(?:={_PLAIN_VALUE})?)*)"
)


# Via values that matched _VIA_PLAIN_RE, cut at their one `;branch=` value -> what they parsed to
# (the params with the branch's place kept). Answers to our requests repeat our Via but for the
# branch: such an answer's Via is read with one lookup instead of the expression and a parse.
_VIA_SHAPES: dict[str, tuple[str, str, int | None, dict[str, str | None]]] = {}


def parse_via(value: str) -> Via:
    """A Via value; raises ParseError. The fast path below gives what `_parse_via` gives
    (tests/sip/test_fast_paths.py): a shape is only kept from a value the one-match expression
    took, whose one `;branch=` (in any case) gave the branch, and whose branch is letters and
    digits (a plain value: another plain value in its place keeps the match)."""
    at = value.find(";branch=")
    if at < 0:
        return _parse_via(value)[0]
    end = value.find(";", at + 8)
    if end < 0:
        end = len(value)
    branch = value[at + 8 : end]
    shape = value[: at + 8] + value[end:]
    plain = branch.isascii() and branch.isalnum()
    hit = _VIA_SHAPES.get(shape) if plain else None
    if hit is not None:
        params = hit[3].copy()
        params["branch"] = branch  # an existing key: its place is kept
        return Via(hit[0], hit[1], hit[2], params)
    via, matched = _parse_via(value)
    if (
        matched
        and plain
        and via.params.get("branch") == branch  # not overridden by a later `;branch`
        and value.lower().count(";branch=") == 1
        and len(_VIA_SHAPES) < 1024  # bounded: a peer can send any number
    ):
        _VIA_SHAPES[shape] = (via.transport, via.host, via.port, via.params.copy())
    return via


def _parse_via(value: str) -> tuple[Via, bool]:
    """The Via, and whether the one-match expression took it."""
    m = _VIA_PLAIN_RE.fullmatch(value)
    matched = m is not None
    if m is not None:  # the usual shape: one match checks it all
        transport, host, port_text, text = m.groups()
        port = None
        if port_text is not None:
            port = int(port_text)
            if port > 65535:
                raise ParseError("Via port: value too large")
        # The expression checked every parameter: `;name` or `;name=value`, where neither holds
        # a `;` or an `=` and a value is never empty. So they split as they are written.
        params: dict[str, str | None] = {}
        if text:
            for param in text[1:].split(";"):
                name, _, v = param.partition("=")
                params[name.lower()] = v or None
    else:
        m = _VIA_RE.fullmatch(value.strip(_WS))
        if not m:
            raise ParseError("bad Via")
        transport, host = m.group(1), m.group(2)
        port = parse_uint(m.group(3), "Via port", 65535) if m.group(3) else None
        params = parse_params(m.group(4))
    rport = params.get("rport")
    if rport is not None and not (
        len(rport) <= 5 and rport.isascii() and rport.isdigit() and int(rport) <= 65535
    ):
        parse_uint(rport, "rport", 65535)  # the general check: it names what is wrong
    return Via(transport.upper(), host, port, params), matched


_CSEQS: dict[str, tuple[int, str]] = {}  # valid CSeq values seen -> parsed (bounded)


def parse_cseq(value: str) -> tuple[int, str]:
    hit = _CSEQS.get(value)
    if hit is not None:  # answers to REGISTERs repeat a few values ("1 REGISTER", ...)
        return hit
    num, _, method = value.strip(_WS).partition(" ")
    method = method.strip(_WS)
    if not is_token(method):
        raise ParseError("bad CSeq method")
    parsed = parse_uint(num, "CSeq", 2**31 - 1), method
    if len(_CSEQS) < 1024:  # bounded: a peer can send any number
        _CSEQS[value] = parsed
    return parsed
