"""The parser as it was before the fast path (2026-12-07): the oracle the fast parser is
checked against, byte for byte and error for error (tests/sip/test_fast_paths.py). Test code
only; not used by telesip."""

from __future__ import annotations

from telesip.sip.errors import ParseError
from telesip.sip.fields import (
    _VIA_RE,
    Via,
    _scan_params,
    is_token,
    parse_cseq,
    parse_name_addr,
    parse_params,
    parse_uint,
    split_commas,
)
from telesip.sip.message import (
    _DATE,
    _FOLD,
    _REQUIRED,
    MAX_MESSAGE,
    SINGLE_HEADERS,
    Headers,
    Request,
    Response,
    _start_line,
    canonical,
)


def reference_parse_via(value: str) -> Via:
    """`parse_via` as it was before its one-match path (2026-12-07, session 8): the general
    expression, then the general parameter scanner."""
    m = _VIA_RE.fullmatch(value.strip(" \t"))
    if not m:
        raise ParseError("bad Via")
    port = parse_uint(m.group(3), "Via port", 65535) if m.group(3) else None
    params = _scan_params(m.group(4))
    if "rport" in params and params["rport"] is not None:
        parse_uint(params["rport"] or "", "rport", 65535)
    return Via(m.group(1).upper(), m.group(2), port, params)


def _validate(headers: Headers, kind: str, method: str, is_stream: bool) -> Via | None:
    seen: dict[str, int] = {}
    top: Via | None = None
    for low, name, value in headers._items:
        seen[low] = seen.get(low, 0) + 1
        if low in SINGLE_HEADERS and seen[low] > 1:
            raise ParseError(f"{name} appears more than once")
        if low == "via":
            for v in split_commas(value):
                via = reference_parse_via(v)
                top = top or via
        elif low in ("from", "to"):
            if kind == "req":  # a UAC does not use them in responses: skip the work
                parse_name_addr(value)
        elif low in ("contact", "route", "record-route"):
            if kind == "resp" or (low == "contact" and value.strip() == "*"):
                continue  # response Contacts are read leniently where they are used
            for v in split_commas(value):
                na = parse_name_addr(v)
                if low == "contact" and "expires" in na.params:
                    parse_uint(na.params["expires"] or "", "Contact expires")
        elif low == "cseq":
            _, cmethod = parse_cseq(value)
            if kind == "req" and cmethod != method:
                raise ParseError("CSeq method differs from the request method")
        elif low == "max-forwards":
            parse_uint(value, "Max-Forwards", 255)
        elif low in ("expires", "min-expires"):
            parse_uint(value, name)
        elif low == "retry-after":
            parse_uint(value.partition("(")[0].partition(";")[0], "Retry-After")
        elif low == "content-length":
            parse_uint(value, "Content-Length", MAX_MESSAGE)
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
    for req in _REQUIRED:
        if req not in seen:
            raise ParseError(f"missing {canonical(req)}")
    if is_stream and "content-length" not in seen:
        raise ParseError("Content-Length is mandatory on stream transports")
    return top


def reference_parse_message(data: bytes, *, is_stream: bool = False) -> Request | Response:
    """One message from a datagram or a framed stream chunk; raises ParseError."""
    if len(data) > MAX_MESSAGE:
        raise ParseError("message too large")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ParseError("no end of headers")
    try:
        head = data[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("header section is not UTF-8") from exc
    rest = data[end + 4 :]
    lines = _FOLD.sub(" ", head).split("\r\n")
    kind, a, b = _start_line(lines[0])
    headers = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not is_token(name):
            raise ParseError("bad header line")
        if "\r" in value or "\n" in value:
            raise ParseError("bare CR or LF in a header")
        headers.add(name, value.strip(" \t"))
    top = _validate(headers, kind, a, is_stream)
    clen = headers.get("Content-Length")
    if clen is not None:
        n = int(clen.strip())
        if n > len(rest):
            raise ParseError("Content-Length larger than the message")
        body = rest[:n]  # RFC 4475 §3.1.1.11: trailing octets of a datagram are dropped
    else:
        body = rest
    if kind == "resp":
        resp = Response(int(a), b, headers, body)
        resp.top_via = top
        return resp
    return Request(a, b, headers, body)
