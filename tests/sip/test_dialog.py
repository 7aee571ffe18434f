"""Dialogs (RFC 3261 §12): identity, route sets, CSeq, requests built inside them."""

from __future__ import annotations

import random

import pytest

from telesip.sip.dialog import Dialog, parse_dtmf_info
from telesip.sip.message import Headers, Response

from .helpers import req

INVITE = (
    b"INVITE sip:bob@192.0.2.5:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp1\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b'From: "Alice" <sip:alice@example.com>;tag=a1\r\n'
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: dlg-1\r\n"
    b"CSeq: 10 INVITE\r\n"
    b"Contact: <sip:alice@198.51.100.7:5060;ob>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def _uas() -> Dialog:
    return Dialog.from_invite(
        req(INVITE), local_tag="b2", local_contact="sip:bob@192.0.2.5:5060",
        local_addr=("192.0.2.5", 5060), rng=random.Random(1),
    )  # fmt: skip


def test_uas_dialog_from_the_invite() -> None:
    d = _uas()
    assert (d.call_id, d.local_tag, d.remote_tag) == ("dlg-1", "b2", "a1")
    assert d.remote_target == "sip:alice@198.51.100.7:5060;ob"
    assert d.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert d.remote_seq == 10 and d.local_seq == 0
    assert d.next_hop == "sip:p1.example.com;lr"
    assert d.remote_uri == '"Alice" <sip:alice@example.com>'


def test_bye_from_the_uas_uses_loose_routes_and_its_own_cseq() -> None:
    d = _uas()
    bye = req(d.request("BYE").to_bytes())
    assert bye.uri == "sip:alice@198.51.100.7:5060;ob"
    assert bye.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert bye.headers.get("From") == "<sip:bob@example.com>;tag=b2"
    assert bye.headers.get("To") == '"Alice" <sip:alice@example.com>;tag=a1'
    assert bye.headers.get("CSeq") == "1 BYE" and d.local_seq == 1
    assert bye.headers.get_all("Via")[0].startswith(
        "SIP/2.0/UDP 192.0.2.5:5060;rport;branch=z9hG4bK"
    )
    assert "Contact" not in bye.headers
    reinvite = req(d.request("INVITE", b"v=0\r\n", "application/sdp").to_bytes())
    assert reinvite.headers.get("CSeq") == "2 INVITE"
    assert reinvite.headers.get("Contact") == "<sip:bob@192.0.2.5:5060>"


def test_uac_dialog_reverses_record_route_and_acks_with_the_invite_cseq() -> None:
    invite = req(
        b"INVITE sip:+4930123@pbx.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bKu1\r\n"
        b"From: <sip:100@pbx.example.com>;tag=u1\r\nTo: <sip:+4930123@pbx.example.com>\r\n"
        b"Call-ID: dlg-2\r\nCSeq: 2 INVITE\r\nContact: <sip:100@[2001:db8::5]:5060>\r\n\r\n"
    )
    h = Headers()
    h.add("Via", invite.headers.get_all("Via")[0])
    h.add("Record-Route", "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>")
    h.add("From", invite.headers.get("From") or "")
    h.add("To", "<sip:+4930123@pbx.example.com>;tag=srv")
    h.add("Call-ID", "dlg-2")
    h.add("CSeq", "2 INVITE")
    h.add("Contact", "<sip:gw@203.0.113.9:5070>")
    d = Dialog.from_response(
        invite, Response(200, "OK", h), local_contact="sip:100@[2001:db8::5]:5060",
        local_addr=("2001:db8::5", 5060),
    )  # fmt: skip
    assert d.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert (d.local_tag, d.remote_tag, d.local_seq) == ("u1", "srv", 2)
    ack = req(d.ack(2).to_bytes())
    assert ack.uri == "sip:gw@203.0.113.9:5070" and ack.headers.get("CSeq") == "2 ACK"
    assert ack.headers.get_all("Via")[0].startswith("SIP/2.0/UDP [2001:db8::5]:5060;")
    assert "User-Agent" not in ack.headers
    assert d.local_seq == 2  # the ACK does not use up a CSeq
    assert req(d.request("BYE").to_bytes()).headers.get("CSeq") == "3 BYE"


def test_strict_route_puts_the_target_last() -> None:
    d = _uas()
    d.route_set = ["<sip:strict.example.com>", "<sip:p2.example.com;lr>"]
    bye = req(d.request("BYE").to_bytes())
    assert bye.uri == "sip:strict.example.com"
    assert bye.headers.get_all("Route") == [
        "<sip:p2.example.com;lr>",
        "<sip:alice@198.51.100.7:5060;ob>",
    ]


def _peer(cseq: int, method: str = "BYE", to_tag: str = "b2", call_id: str = "dlg-1") -> bytes:
    return (
        f"{method} sip:bob@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKx{cseq}\r\n"
        f"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag={to_tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\r\n"
    ).encode()


def test_requests_from_the_peer_are_checked() -> None:
    d = _uas()
    assert d.check(req(_peer(11, "INFO"))) is None and d.remote_seq == 11
    assert d.check(req(_peer(9))) == 500  # lower than the last: out of order
    assert d.check(req(_peer(12, to_tag="other"))) == 481
    assert d.check(req(_peer(12, call_id="nope"))) == 481
    assert d.check(req(_peer(10, "ACK"))) is None  # ACK keeps the INVITE's number
    assert d.check(req(_peer(12))) is None and d.remote_seq == 12


def test_target_refresh() -> None:
    d = _uas()
    msg = req(
        _peer(11, "INVITE").replace(b"\r\n\r\n", b"\r\nContact: <sip:alice@10.9.9.9>\r\n\r\n")
    )
    d.refresh_target(msg)
    assert d.remote_target == "sip:alice@10.9.9.9"


def test_info_dtmf_body_and_parsing() -> None:
    d = _uas()
    info = d.info_dtmf("5")
    assert info.body == b"Signal=5\r\nDuration=160\r\n"
    assert info.headers.get("Content-Type") == "application/dtmf-relay"
    with pytest.raises(ValueError):
        d.info_dtmf("x")
    assert parse_dtmf_info("application/dtmf-relay", b"Signal= #\r\nDuration= 250\r\n") == "#"
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=11\r\n") == "#"
    assert parse_dtmf_info("application/dtmf", b"10") == "*"
    assert parse_dtmf_info("application/dtmf", b"7\r\n") == "7"
    assert parse_dtmf_info("text/plain", b"Signal=1") is None
    assert parse_dtmf_info("application/dtmf-relay", b"Signal=xyz") is None
