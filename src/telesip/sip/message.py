"""SIP messages (RFC 3261 §7): parse, validate, serialize; StreamFramer for TCP/TLS.

`parse_message(data)` takes one datagram (or one frame from `StreamFramer`) and returns a
Request or Response, or raises ParseError. Header names are case-insensitive and compact
forms are expanded; folded lines are unfolded; headers that RFC 3261 lets be repeated or
comma-joined are read by `Headers.get_all`. Validated up front: the start line, Via, CSeq,
Call-ID, Content-Length, Max-Forwards, Expires, Min-Expires, Retry-After, Date, Warning and
Content-Type everywhere; From, To, Contact, Route and Record-Route in requests (a UAC reads
those of a response leniently, where it uses them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .errors import ParseError, UnsupportedVersion
from .fields import (
    Via,
    is_token,
    parse_cseq,
    parse_name_addr,
    parse_params,
    parse_uint,
    parse_via,
    split_commas,
)

__all__ = [
    "MAX_MESSAGE",
    "Headers",
    "Keepalive",
    "Request",
    "Response",
    "StreamFramer",
    "parse_message",
    "read_response",
]

MAX_MESSAGE = 65535  # RFC 3261 UDP bound; also the stream framer's limit per message

COMPACT = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
    "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires",
    "y": "Identity",
}  # fmt: skip
_KNOWN = [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authentication-Info",
    "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Expires",
    "From", "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version", "Organization", "Path",
    "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Record-Route",
    "Reply-To", "Require", "Retry-After", "Route", "Server", "Service-Route", "Subject",
    "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning",
    "WWW-Authenticate", *COMPACT.values(),
]  # fmt: skip
CANONICAL = {n.lower(): n for n in _KNOWN}
# Headers whose value is a comma-separated list (RFC 3261 §7.3.1); the auth headers are not.
LIST_HEADERS = frozenset((
    "accept", "accept-encoding", "accept-language", "alert-info", "allow", "call-info", "contact",
    "content-encoding", "content-language", "error-info", "in-reply-to", "path", "proxy-require",
    "record-route", "require", "route", "service-route", "supported", "unsupported", "via",
    "warning", "allow-events",
))  # fmt: skip
SINGLE_HEADERS = frozenset((
    "call-id", "cseq", "from", "to", "max-forwards", "content-length", "content-type", "expires",
    "min-expires", "retry-after", "date",
))  # fmt: skip
_REQUIRED = ("via", "from", "to", "call-id", "cseq")
_FOLD = re.compile(r"\r?\n[ \t]+")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_DATE = re.compile(r"[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT")


_KEYS: dict[str, tuple[str, str]] = {}  # raw name -> (canonical name, lookup key)


def _key(name: str) -> tuple[str, str]:
    hit = _KEYS.get(name)
    if hit is None:
        low = name.lower()
        canon = COMPACT.get(low, name) if len(low) == 1 else CANONICAL.get(low, name)
        hit = (canon, canon.lower())
        if len(_KEYS) < 4096:  # bounded: hostile peers can invent names forever
            _KEYS[name] = hit
    return hit


def canonical(name: str) -> str:
    return _key(name)[0]


class Headers:
    """Ordered (name, value) pairs with case-insensitive, compact-aware lookup."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str, str]] = []  # (lookup key, canonical name, value)
        for n, v in items:
            self.add(n, v)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((n, v) for _, n, v in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        key = (_KEYS.get(name) or _key(name))[1]
        for k, _, v in self._items:
            if k == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value, comma-separated lists split for list headers."""
        key = _key(name)[1]
        values = [v for k, _, v in self._items if k == key]
        if key in LIST_HEADERS:
            return [part for v in values for part in split_commas(v)]
        return values

    def add(self, name: str, value: str) -> None:
        canon, key = _key(name)
        self._items.append((key, canon, value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = _key(name)[1]
        self._items = [item for item in self._items if item[0] != key]

    def copy(self) -> Headers:
        h = Headers()
        h._items = list(self._items)
        return h

    def __repr__(self) -> str:
        return f"Headers({[n for _, n, _ in self._items]!r})"  # names only: values may hold secrets


def _serialize(start: str, headers: Headers, body: bytes) -> bytes:
    lines = [start]
    lines.extend(f"{n}: {v}" for n, v in headers if n != "Content-Length")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(slots=True, eq=False)
class Request:
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def to_bytes(self) -> bytes:
        return _serialize(f"{self.method} {self.uri} SIP/2.0", self.headers, self.body)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


@dataclass(slots=True, eq=False, init=False)
class Response:
    status: int
    reason: str
    headers: Headers
    body: bytes
    top_via: Via | None = field(repr=False)  # set by the parser

    # written out, not generated: compiled (telesip.native), a written __init__ is a C call,
    # the one dataclasses generates runs in the interpreter (one Response per answer read)
    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers | None = None,
        body: bytes = b"",
        top_via: Via | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = Headers() if headers is None else headers
        self.body = body
        self.top_via = top_via

    def via(self) -> Via | None:
        """The topmost Via, parsed (cached when the message came from `parse_message`)."""
        if self.top_via is None:
            vias = self.headers.get_all("Via")
            self.top_via = parse_via(vias[0]) if vias else None
        return self.top_via

    def to_bytes(self) -> bytes:
        return _serialize(f"SIP/2.0 {self.status} {self.reason}", self.headers, self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def _start_line(line: str) -> tuple[str, str, str]:
    """(kind, a, b): ("req", method, uri) or ("resp", code, reason)."""
    usual = line.startswith("SIP/2.0 ")
    if usual or line[:4].upper() == "SIP/":
        if usual:  # the usual status line: its version is read
            code, _, reason = line[8:].partition(" ")
        else:
            version, _, rest = line.partition(" ")
            code, _, reason = rest.partition(" ")
            if not _VERSION.fullmatch(version):
                raise ParseError("bad status line")
            if version.upper() != "SIP/2.0":
                raise UnsupportedVersion("unsupported SIP version")
        if len(code) != 3 or not code.isascii() or not code.isdigit() or not "100" <= code <= "699":
            raise ParseError("bad status code")
        return "resp", code, reason
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise ParseError("request line must be: method SP uri SP version")
    method, uri, version = parts
    if not is_token(method):
        raise ParseError("bad method")
    if not _VERSION.fullmatch(version):
        raise ParseError("bad request line version")
    if version.upper() != "SIP/2.0":
        raise UnsupportedVersion("unsupported SIP version")
    scheme, colon, rest = uri.partition(":")
    if not colon or not is_token(scheme) or not scheme[0].isalpha():
        raise ParseError("bad Request-URI")
    if scheme.lower() in ("sip", "sips") and "?" in rest.rpartition("@")[2]:
        raise ParseError("headers in the Request-URI")
    return "req", method, uri


# What `_validate` looks at, by kind of message; every other header is only stored.
_CHECKED_REQ = frozenset((
    "via", "from", "to", "contact", "route", "record-route", "cseq", "max-forwards", "expires",
    "min-expires", "retry-after", "content-length", "warning", "date", "content-type",
))  # fmt: skip
_CHECKED_RESP = _CHECKED_REQ - {"from", "to", "contact", "route", "record-route"}


def _validate(
    items: list[tuple[str, str, str]], kind: str, method: str, is_stream: bool
) -> tuple[Via | None, str | None]:
    """Check what RFC 3261 lets us check up front; (topmost Via, Content-Length value)."""
    seen: set[str] = set()
    top: Via | None = None
    clen: str | None = None
    checked = _CHECKED_RESP if kind == "resp" else _CHECKED_REQ
    for low, name, value in items:
        if low in seen:
            if low in SINGLE_HEADERS:
                raise ParseError(f"{name} appears more than once")
        else:
            seen.add(low)
        if low not in checked:
            continue
        if low == "via":
            for v in split_commas(value):
                via = parse_via(v)
                top = top or via
        elif low == "cseq":
            _, cmethod = parse_cseq(value)
            if kind == "req" and cmethod != method:
                raise ParseError("CSeq method differs from the request method")
        elif low == "content-length":
            parse_uint(value, "Content-Length", MAX_MESSAGE)
            clen = value
        elif low in ("from", "to"):
            parse_name_addr(value)  # requests only: a UAC does not use them in responses
        elif low in ("contact", "route", "record-route"):
            if low == "contact" and value.strip() == "*":
                continue  # response Contacts are read leniently where they are used
            for v in split_commas(value):
                na = parse_name_addr(v)
                if low == "contact" and "expires" in na.params:
                    parse_uint(na.params["expires"] or "", "Contact expires")
        elif low == "max-forwards":
            parse_uint(value, "Max-Forwards", 255)
        elif low in ("expires", "min-expires"):
            parse_uint(value, name)
        elif low == "retry-after":
            parse_uint(value.partition("(")[0].partition(";")[0], "Retry-After")
        elif low == "warning":
            for v in split_commas(value):
                code = v.split(" ", 1)[0]
                if len(code) != 3 or not code.isdigit():
                    raise ParseError("bad Warning code")
        elif low == "date":
            if not _DATE.fullmatch(value.strip()):
                raise ParseError("Date must be an RFC 1123 date in GMT")
        elif low == "content-type":
            ctype, _, params = value.partition(";")
            typ, slash, sub = ctype.strip().partition("/")
            if not slash or not is_token(typ.strip()) or not is_token(sub.strip()):
                raise ParseError("bad Content-Type")
            parse_params(";" + params if params else "")
    if len(seen) < 5 or not seen.issuperset(_REQUIRED):
        for req in _REQUIRED:
            if req not in seen:
                raise ParseError(f"missing {canonical(req)}")
    if is_stream and "content-length" not in seen:
        raise ParseError("Content-Length is mandatory on stream transports")
    return top, clen


# raw text before a header line's colon -> (lookup key, canonical name); only valid names
_LINE_KEYS: dict[str, tuple[str, str]] = {}


def _header_items(lines: list[str]) -> list[tuple[str, str, str]]:
    """(lookup key, canonical name, value) per header line; raises ParseError."""
    items: list[tuple[str, str, str]] = []
    append = items.append
    known = _LINE_KEYS
    for i in range(1, len(lines)):
        name, colon, value = lines[i].partition(":")
        hit = known.get(name)
        if hit is None or not colon:
            stripped = name.rstrip(" \t")
            if not colon or not is_token(stripped):
                raise ParseError("bad header line")
            canon, key = _key(stripped)
            hit = (key, canon)
            if len(known) < 4096:  # bounded: hostile peers can invent names forever
                known[name] = hit
        append((hit[0], hit[1], value.strip(" \t")))
    return items


def _head_of(data: bytes) -> tuple[str, int]:
    """The header section of a message (folded lines unfolded) and where it ends; raises
    ParseError for a message too large, with no end of headers, or not UTF-8."""
    head, end = _head_text(data)
    return _unfold(head), end


def _head_text(data: bytes) -> tuple[str, int]:
    """`_head_of` without the unfolding."""
    if len(data) > MAX_MESSAGE:
        raise ParseError("message too large")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ParseError("no end of headers")
    try:
        return data[:end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise ParseError("header section is not UTF-8") from exc


def _unfold(head: str) -> str:
    return _FOLD.sub(" ", head) if "\n " in head or "\n\t" in head else head


def parse_message(data: bytes, *, is_stream: bool = False) -> Request | Response:
    """One message from a datagram or a framed stream chunk; raises ParseError."""
    head, end = _head_of(data)
    lines = head.split("\r\n")
    kind, a, b = _start_line(lines[0])
    breaks = len(lines) - 1
    if head.count("\r") != breaks or head.count("\n") != breaks:
        _bare_cr_lf(lines)  # a lone CR or LF: an error in a header line (not the start line)
    items = _header_items(lines)
    top, clen = _validate(items, kind, a, is_stream)
    headers = Headers()
    headers._items = items
    if clen is not None:
        n = int(clen.strip())
        if end + 4 + n > len(data):
            raise ParseError("Content-Length larger than the message")
        body = data[end + 4 : end + 4 + n]  # RFC 4475 §3.1.1.11: trailing octets are dropped
    else:
        body = data[end + 4 :]
    if kind == "resp":
        return Response(int(a), b, headers, body, top)
    return Request(a, b, headers, body)


# The header lines a client reads in a response: the top Via (to match its transaction),
# Call-ID (to find its registration), CSeq, Contact and Expires (the binding granted), the
# challenges, Retry-After, Min-Expires and Content-Length (RFC 3261 §8.1.3, §10.2.4, §22.2).
_UAC_NAMES = frozenset((
    "via", "v", "call-id", "i", "cseq", "contact", "m", "expires", "min-expires", "retry-after",
    "www-authenticate", "proxy-authenticate", "content-length", "l",
))  # fmt: skip
_UAC_SINGLE = SINGLE_HEADERS & {
    "call-id", "cseq", "content-length", "expires", "min-expires", "retry-after"
}  # fmt: skip
_UAC_REQUIRED = ("via", "call-id", "cseq")
# raw text before a line's colon -> (canonical name, lookup key) of a line a client reads, or
# _NOT_READ for any other line; bounded, like _LINE_KEYS
_UAC_KEYS: dict[str, tuple[str, str]] = {}
_NOT_READ = ("", "")


def _uac_key(raw: str) -> tuple[str, str]:
    name = raw.rstrip(" \t")
    hit = _key(name) if name.isascii() and name.lower() in _UAC_NAMES else _NOT_READ
    if len(_UAC_KEYS) < 4096:
        _UAC_KEYS[raw] = hit
    return hit


def read_response(data: bytes, *, is_stream: bool = False) -> Response:
    """A response as a client reads it (the registration path): framed and started as
    `parse_message` does, but only the header lines a client reads (`_UAC_NAMES`) are looked
    at, each checked as `parse_message` checks it; the others are neither kept nor checked, so
    a response that `parse_message` takes, this takes too and reads the same (status, reason,
    body, top Via and the value of every line it keeps: tests/sip/test_fast_paths.py), and an
    answer whose Date or Warning is malformed still counts. Raises ParseError otherwise, and for
    a request."""
    head, end = _head_text(data)
    lines = head.split("\r\n")
    # The usual answer has no CR or LF left inside its lines (one scan of their joined text,
    # where counting both would be two) and no line folded into the one before: read as it is.
    # Otherwise as parse_message reads it: unfolded, then a lone CR or LF is an error.
    joined = "".join(lines)
    odd = "\r" in joined or "\n" in joined or _continued(lines)
    if odd:
        head = _unfold(head)
        lines = head.split("\r\n")
    kind, a, b = _start_line(lines[0])
    if kind != "resp":
        raise ParseError("not a response")
    breaks = len(lines) - 1
    if odd and (head.count("\r") != breaks or head.count("\n") != breaks):
        _bare_cr_lf(lines)  # a lone CR or LF: fail where parse_message fails
    items: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    top: Via | None = None
    clen = -1  # no Content-Length
    known = _UAC_KEYS
    for i in range(1, len(lines)):
        line = lines[i]
        colon = line.find(":")
        if colon < 0:
            continue
        raw = line[:colon]
        hit = known.get(raw)
        if hit is None:
            hit = _uac_key(raw)
        if not hit[0]:
            continue  # a line a client does not read
        canon, low = hit
        value = line[colon + 1 :].strip(" \t")
        if low in seen:
            if low in _UAC_SINGLE:
                raise ParseError(f"{canon} appears more than once")
        else:
            seen.add(low)
        if low == "via":
            for v in split_commas(value):
                via = parse_via(v)
                top = top or via
        elif low == "cseq":
            parse_cseq(value)
        elif low == "content-length":
            clen = parse_uint(value, "Content-Length", MAX_MESSAGE)
        elif low == "expires" or low == "min-expires":
            parse_uint(value, canon)
        elif low == "retry-after":
            parse_uint(value.partition("(")[0].partition(";")[0], "Retry-After")
        items.append((low, canon, value))
    for req in _UAC_REQUIRED:
        if req not in seen:
            raise ParseError(f"missing {canonical(req)}")
    if is_stream and clen < 0:
        raise ParseError("Content-Length is mandatory on stream transports")
    if clen >= 0:
        if end + 4 + clen > len(data):
            raise ParseError("Content-Length larger than the message")
        body = data[end + 4 : end + 4 + clen]
    else:
        body = data[end + 4 :]
    headers = Headers()
    headers._items = items
    return Response(int(a), b, headers, body, top)


def _continued(lines: list[str]) -> bool:
    """A header line folded into the one before (it starts with a blank)."""
    for i in range(1, len(lines)):
        first = lines[i][:1]
        if first == " " or first == "\t":
            return True
    return False


def _bare_cr_lf(lines: list[str]) -> None:
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not is_token(name.rstrip(" \t")):
            raise ParseError("bad header line")
        if "\r" in value or "\n" in value:
            raise ParseError("bare CR or LF in a header")


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A CRLF keepalive seen on a stream (RFC 5626 §3.5.1): `ping` needs a CRLF pong back."""

    ping: bool


_CLEN_RE = re.compile(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)


class StreamFramer:
    """Cuts a TCP/TLS byte stream into messages by Content-Length (RFC 3261 §18.3).

    `feed(data)` returns complete frames (bytes for `parse_message(..., is_stream=True)`) and
    Keepalive markers. A stream that cannot be framed raises ParseError: close it.
    """

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes | Keepalive]:
        self._buf += data
        out: list[bytes | Keepalive] = []
        buf = self._buf
        while buf:
            if buf.startswith(b"\r\n\r\n"):
                del buf[:4]
                out.append(Keepalive(ping=True))
                continue
            if buf.startswith(b"\r\n"):
                if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                    break  # maybe the start of a ping
                del buf[:2]
                out.append(Keepalive(ping=False))
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_MESSAGE:
                    raise ParseError("header section too large")
                break
            m = _CLEN_RE.search(bytes(buf[: end + 2]).replace(b"\r\n ", b" "), 0)
            if not m:
                raise ParseError("Content-Length is mandatory on stream transports")
            total = end + 4 + int(m.group(1))
            if total > MAX_MESSAGE:
                raise ParseError("message too large")
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out
