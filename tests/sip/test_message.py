"""Parser and serializer: the RFC 4475 torture messages, structured fields, stream framing."""

from __future__ import annotations

from pathlib import Path

import pytest

from telesip.sip import Keepalive, ParseError, Request, Response, StreamFramer, parse_message
from telesip.sip.errors import UnsupportedVersion
from telesip.sip.fields import parse_name_addr, parse_via

TORTURE = Path(__file__).parent / "data" / "torture"
VALID = sorted((TORTURE / "valid").glob("*.sip"))
INVALID = sorted((TORTURE / "invalid").glob("*.sip"))


def test_the_torture_corpus_is_there() -> None:
    assert len(VALID) >= 20 and len(INVALID) >= 20


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_rfc4475_valid_messages_parse(path: Path) -> None:
    msg = parse_message(path.read_bytes())
    assert msg.headers.get("Call-ID", "").split(".")[0].strip() == path.stem


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_rfc4475_invalid_messages_raise_parse_error(path: Path) -> None:
    with pytest.raises(ParseError):
        parse_message(path.read_bytes())


def _load(name: str) -> Request | Response:
    return parse_message((TORTURE / "valid" / f"{name}.sip").read_bytes())


def test_wsinv_folding_compact_forms_and_case() -> None:
    msg = _load("wsinv")
    assert isinstance(msg, Request)
    assert msg.method == "INVITE"
    assert msg.headers.get("max-forwards") == "0068"
    assert msg.headers.get("CSeq") == "0009 INVITE"
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    vias = [parse_via(v) for v in msg.headers.get_all("v")]
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    frm = parse_name_addr(msg.headers.get("From") or "")
    assert frm.display == 'J Rosenberg \\"' and frm.tag == "98asjd8"
    to = parse_name_addr(msg.headers.get("t") or "")
    assert to.uri == "sip:vivekg@chair-dnrc.example.com" and to.tag == "1918181833n"
    (contact,) = msg.headers.get_all("Contact")
    m = parse_name_addr(contact)
    assert m.display == 'Quoted string ""'
    assert m.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(msg.body) == 150


def test_dblreq_keeps_only_the_first_message() -> None:
    msg = _load("dblreq")
    assert isinstance(msg, Request) and msg.method == "REGISTER" and msg.body == b""


def test_noreason_and_unreason_status_lines() -> None:
    noreason = _load("noreason")
    assert isinstance(noreason, Response) and (noreason.status, noreason.reason) == (100, "")
    unreason = _load("unreason")
    assert isinstance(unreason, Response) and unreason.reason.endswith("простое")


def test_esc02_method_is_not_unescaped() -> None:
    msg = _load("esc02")
    assert isinstance(msg, Request) and msg.method == "RE%47IST%45R"
    assert len(msg.headers.get_all("Contact")) == 2  # C%6Fntact is another header


def test_badvers_is_an_unsupported_version() -> None:
    with pytest.raises(UnsupportedVersion):
        parse_message((TORTURE / "invalid" / "badvers.sip").read_bytes())


def test_round_trip_sets_content_length() -> None:
    msg = _load("esc01")
    again = parse_message(msg.to_bytes())
    assert isinstance(again, Request)
    assert again.body == msg.body and again.headers.get("Content-Length") == "150"
    assert [n for n, _ in again.headers][:3] == ["To", "From", "Max-Forwards"]


REGISTER_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TCP 127.0.0.1:5060;rport=5060;branch=z9hG4bKabc\r\n"
    b"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>;tag=2\r\n"
    b"Call-ID: x@y\r\nCSeq: 2 REGISTER\r\n"
    b"Contact: <sip:alice@127.0.0.1:5060>;expires=60, <sip:alice@10.0.0.1>;expires=30\r\n"
)


def test_stream_framer_cuts_by_content_length_and_sees_keepalives() -> None:
    one = REGISTER_200 + b"Content-Length: 4\r\n\r\nbody"
    two = REGISTER_200 + b"l: 0\r\n\r\n"
    stream = b"\r\n\r\n" + one + b"\r\n" + two
    framer = StreamFramer()
    out: list[bytes | Keepalive] = []
    for i in range(len(stream)):  # byte by byte: framing must not depend on chunking
        out += framer.feed(stream[i : i + 1])
    assert out == [Keepalive(ping=True), one, Keepalive(ping=False), two]
    msg = parse_message(one, is_stream=True)
    assert isinstance(msg, Response) and msg.body == b"body"
    assert len(msg.headers.get_all("Contact")) == 2


def test_stream_without_content_length_is_an_error() -> None:
    with pytest.raises(ParseError):
        StreamFramer().feed(REGISTER_200 + b"\r\n")
    with pytest.raises(ParseError):
        parse_message(REGISTER_200 + b"\r\n", is_stream=True)


def test_stream_frame_too_large_is_an_error() -> None:
    with pytest.raises(ParseError):
        StreamFramer().feed(REGISTER_200 + b"Content-Length: 999999\r\n\r\n")


def test_headers_repr_hides_values() -> None:
    msg = parse_message(REGISTER_200 + b"Authorization: Digest response=secret\r\n\r\n")
    assert "secret" not in repr(msg.headers) and "secret" not in repr(msg)
