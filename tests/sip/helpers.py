"""Build responses to our own requests by hand, as a registrar would; mutate messages for the
fuzzers."""

from __future__ import annotations

from hypothesis import strategies as st

from telesip.sip import Headers, Request, Response, parse_message


def req(data: bytes) -> Request:
    msg = parse_message(data)
    assert isinstance(msg, Request)
    return msg


def answer(request: Request, status: int, reason: str = "", **extra: str) -> Response:
    h = Headers()
    for v in request.headers.get_all("Via"):
        h.add("Via", v)
    h.add("From", request.headers.get("From") or "")
    to = request.headers.get("To") or ""
    h.add("To", to if status == 100 else to + ";tag=srv")
    h.add("Call-ID", request.headers.get("Call-ID") or "")
    h.add("CSeq", request.headers.get("CSeq") or "")
    for name, value in extra.items():
        h.add(name.replace("_", "-"), value)
    return Response(status, reason or "Whatever", h)


def wire(resp: Response) -> Response:
    """Through bytes and back: what a transport would deliver."""
    msg = parse_message(resp.to_bytes())
    assert isinstance(msg, Response)
    return msg


def mutate(seed: bytes, data: st.DataObject, pieces: list[bytes]) -> bytes:
    """1-8 random edits of `seed`: flip a byte, cut a run, insert one of `pieces`, duplicate."""
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del buf[pos : pos + data.draw(st.integers(1, 40))]
        elif op == "insert":
            buf[pos:pos] = data.draw(st.sampled_from(pieces))
        else:
            buf[pos:pos] = buf[pos : pos + data.draw(st.integers(1, 60))]
    return bytes(buf)
