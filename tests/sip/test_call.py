"""Call flows on a fake clock: the test plays the far phone / PBX and moves bytes by hand."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from telesip.sip import StateError, parse_message
from telesip.sip.call import (
    Answered,
    CallParams,
    CallState,
    Cancelled,
    Ended,
    Failed,
    IncomingCall,
    Info,
    MediaChanged,
    OutgoingCall,
    Progress,
    ReinviteFailed,
)
from telesip.sip.message import Headers, Request, Response
from telesip.sip.negotiation import answer, make_offer
from telesip.sip.sdp import SessionDescription
from telesip.sip.transaction import make_response

SDP = Path(__file__).parent / "data" / "sdp"
ME = ("192.0.2.5", 5060)
PBX_SDP = (SDP / "asterisk.sdp").read_bytes()


def parsed(data: list[bytes]) -> list[Request | Response]:
    return [parse_message(d) for d in data]


def one(call: IncomingCall | OutgoingCall) -> Request | Response:
    (msg,) = parsed(call.data_to_send())
    return msg


def events(call: IncomingCall | OutgoingCall) -> list[object]:
    out = []
    while (ev := call.next_event()) is not None:
        out.append(ev)
    return out


def run(call: IncomingCall | OutgoingCall, end: float) -> list[tuple[float, Request | Response]]:
    sent = []
    while (t := call.get_timer()) is not None and t <= end:
        call.handle_timer(t)
        sent += [(t, m) for m in parsed(call.data_to_send())]
    return sent


# -- the far end, by hand


def invite(body: bytes = PBX_SDP, extra: str = "", branch: str = "z9hG4bKinv") -> Request:
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    msg = parse_message(
        (
            f"INVITE sip:100@192.0.2.5:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.168.1.10:5060;branch={branch};rport\r\n"
            f"Record-Route: <sip:192.168.1.10;lr>\r\n"
            f'From: "Alice" <sip:+4930111@pbx.example.com>;tag=pbx1\r\n'
            f"To: <sip:100@pbx.example.com>\r\nCall-ID: in-1\r\nCSeq: 102 INVITE\r\n"
            f"Contact: <sip:alice@192.168.1.10:5060>\r\n{ctype}{extra}\r\n"
        ).encode()
        + body
    )
    assert isinstance(msg, Request)
    return msg


def peer_request(
    method: str, cseq: int, *, body: bytes = b"", branch: str | None = None, ctype: str = ""
) -> Request:
    extra = f"Content-Type: {ctype}\r\n" if ctype else ""
    msg = parse_message(
        (
            f"{method} sip:100@192.0.2.5:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.168.1.10:5060;branch={branch or f'z9hG4bK{method}{cseq}'}\r\n"
            f'From: "Alice" <sip:+4930111@pbx.example.com>;tag=pbx1\r\n'
            f"To: <sip:100@pbx.example.com>;tag=me\r\nCall-ID: in-1\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice@192.168.1.10:5060>\r\n{extra}\r\n"
        ).encode()
        + body
    )
    assert isinstance(msg, Request)
    return msg


def incoming(extra: str = "", body: bytes = PBX_SDP) -> IncomingCall:
    call = IncomingCall(invite(body, extra), local_addr=ME, tag="me", now=0.0, rng=random.Random(7))
    trying = one(call)
    assert isinstance(trying, Response) and trying.status == 100
    return call


def our_answer(offer: bytes = PBX_SDP) -> bytes:
    sd, _ = answer(SessionDescription.parse(offer), "192.0.2.5", 20000, session_id=5)
    return sd.to_bytes()


def answered_incoming() -> IncomingCall:
    call = incoming()
    call.answer(our_answer(), 1.0)
    call.data_to_send()
    call.receive(peer_request("ACK", 102), 1.1)
    assert events(call) == [Answered(None)]
    return call


# -- incoming


def test_ringing_answer_ack() -> None:
    call = incoming()
    call.ringing(0.1)
    ringing = one(call)
    assert isinstance(ringing, Response) and ringing.status == 180
    assert ringing.headers.get("To") == "<sip:100@pbx.example.com>;tag=me"
    assert ringing.headers.get("Contact") == "<sip:100@192.0.2.5:5060>"
    call.answer(our_answer(), 2.0)
    ok = one(call)
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.headers.get("Content-Type") == "application/sdp" and b"m=audio 20000" in ok.body
    assert "INFO" in (ok.headers.get("Allow") or "")
    assert call.negotiated is not None and call.negotiated.remote_port == 12648
    call.receive(peer_request("ACK", 102), 2.2)
    assert events(call) == [Answered(None)] and call.state is CallState.CONFIRMED
    assert run(call, 100.0) == []  # nothing retransmitted after the ACK
    assert call.next_hop == "sip:192.168.1.10;lr"


def test_lost_ack_retransmits_200_then_timer_h_ends_with_bye() -> None:
    call = incoming()
    call.answer(our_answer(), 0.0)
    call.data_to_send()
    sent = run(call, 32.0)
    times = [t for t, m in sent if isinstance(m, Response)]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    ((t, bye),) = [(t, m) for t, m in sent if isinstance(m, Request)]
    assert t == 32.0 and bye.method == "BYE" and bye.uri == "sip:alice@192.168.1.10:5060"
    assert bye.headers.get("Route") == "<sip:192.168.1.10;lr>"
    assert events(call) == [Ended("no-ack")]
    call.receive(make_response(bye, 200, "OK"), 32.1)
    assert call.state is CallState.ENDED and events(call) == []


def test_late_ack_after_a_retransmission_stops_them() -> None:
    call = incoming()
    call.answer(our_answer(), 0.0)
    call.data_to_send()
    run(call, 2.0)
    call.receive(peer_request("ACK", 102), 2.0)
    assert events(call) == [Answered(None)] and run(call, 40.0) == []


def test_cancel_before_answer() -> None:
    call = incoming()
    call.ringing(0.1)
    call.data_to_send()
    call.receive(peer_request("CANCEL", 102, branch="z9hG4bKinv"), 3.0)
    ok, terminated = parsed(call.data_to_send())
    assert (
        isinstance(ok, Response) and ok.status == 200 and "CANCEL" in (ok.headers.get("CSeq") or "")
    )
    assert isinstance(terminated, Response) and terminated.status == 487
    assert events(call) == [Cancelled()] and call.state is CallState.ENDED
    assert not call.done  # the 487 waits for its ACK (timer G/H)
    call.receive(invite(), 3.05)  # the INVITE again: the 487 again, not the CANCEL's 200
    assert [m.status for m in parsed(call.data_to_send())] == [487]  # type: ignore[union-attr]
    ack = peer_request("ACK", 102, branch="z9hG4bKinv")
    call.receive(ack, 3.1)
    run(call, 100.0)
    assert call.done
    with pytest.raises(StateError):
        call.answer(our_answer(), 4.0)


def test_cancel_of_another_transaction_is_481() -> None:
    call = incoming()
    call.receive(peer_request("CANCEL", 102, branch="z9hG4bKother"), 1.0)
    resp = one(call)
    assert isinstance(resp, Response) and resp.status == 481 and call.state is CallState.CALLING


def test_retransmitted_invite_gets_the_180_again() -> None:
    call = incoming()
    call.ringing(0.1)
    first = call.data_to_send()
    call.receive(invite(), 0.6)
    assert call.data_to_send() == first


def test_bye_from_the_peer_and_its_retransmission() -> None:
    call = answered_incoming()
    bye = peer_request("BYE", 103)
    call.receive(bye, 5.0)
    ok = one(call)
    assert isinstance(ok, Response) and ok.status == 200
    assert events(call) == [Ended("remote-bye")] and call.state is CallState.ENDED
    call.receive(bye, 5.5)  # our 200 was lost
    assert isinstance(one(call), Response) and events(call) == []
    run(call, 100.0)
    assert call.done


def test_hangup_sends_bye_and_ends_on_its_final() -> None:
    call = answered_incoming()
    call.hangup(5.0)
    bye = one(call)
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert bye.headers.get("CSeq") == "1 BYE"
    assert bye.headers.get("From") == "<sip:100@pbx.example.com>;tag=me"
    call.hangup(5.1)  # twice: harmless
    call.receive(make_response(bye, 200, "OK"), 5.2)
    assert events(call) == [Ended("local-bye")]


def test_hangup_bye_timeout_also_ends() -> None:
    call = answered_incoming()
    call.hangup(5.0)
    call.data_to_send()
    run(call, 100.0)
    assert events(call) == [Ended("local-bye")] and call.done


def test_hangup_before_ack_waits_for_it() -> None:
    call = incoming()
    call.answer(our_answer(), 0.0)
    call.data_to_send()
    call.hangup(0.1)
    assert call.data_to_send() == []
    call.receive(peer_request("ACK", 102), 0.2)
    bye = one(call)
    assert isinstance(bye, Request) and bye.method == "BYE"


def test_their_hold_and_resume_reinvites() -> None:
    call = answered_incoming()
    hold = peer_request(
        "INVITE", 103, body=(SDP / "asterisk_hold.sdp").read_bytes(), ctype="application/sdp"
    )
    call.receive(hold, 10.0)
    ok = one(call)
    assert isinstance(ok, Response) and ok.status == 200
    sd = SessionDescription.parse(ok.body)
    assert sd.media[0].direction == "recvonly" and sd.origin.version == 1
    (changed,) = events(call)
    assert isinstance(changed, MediaChanged) and changed.negotiated.direction == "recvonly"
    call.receive(peer_request("ACK", 103), 10.1)
    resume = peer_request("INVITE", 104, body=PBX_SDP, ctype="application/sdp")
    call.receive(resume, 20.0)
    ok = one(call)
    assert isinstance(ok, Response) and SessionDescription.parse(ok.body).origin.version == 2
    (changed,) = events(call)
    assert isinstance(changed, MediaChanged) and changed.negotiated.direction == "sendrecv"
    call.receive(peer_request("ACK", 104), 20.1)
    assert run(call, 100.0) == []


def test_reinvite_without_sdp_gets_our_offer_and_the_ack_the_answer() -> None:
    call = answered_incoming()
    call.receive(peer_request("INVITE", 103), 10.0)
    ok = one(call)
    assert isinstance(ok, Response) and b"m=audio 20000" in ok.body
    assert events(call) == []
    hold = (SDP / "asterisk_hold.sdp").read_bytes()
    call.receive(peer_request("ACK", 103, body=hold, ctype="application/sdp"), 10.1)
    (changed,) = events(call)
    assert isinstance(changed, MediaChanged) and changed.negotiated.direction == "recvonly"


def test_reinvite_with_no_common_codec_gets_488_and_the_call_goes_on() -> None:
    call = answered_incoming()
    bad = (SDP / "no_common_codec.sdp").read_bytes()
    call.receive(peer_request("INVITE", 103, body=bad, ctype="application/sdp"), 10.0)
    resp = one(call)
    assert isinstance(resp, Response) and resp.status == 488
    assert call.state is CallState.CONFIRMED and events(call) == []


def test_our_hold_and_resume() -> None:
    call = answered_incoming()
    call.hold(10.0)
    reinvite = one(call)
    assert isinstance(reinvite, Request) and reinvite.method == "INVITE"
    offer = SessionDescription.parse(reinvite.body)
    assert offer.media[0].direction == "sendonly" and offer.origin.version == 1
    theirs, _ = answer(offer, "192.168.1.10", 12648, session_id=1)
    call.receive(make_response(reinvite, 100, "Trying"), 10.05)
    call.receive(make_response(reinvite, 200, "OK", tag="pbx1", body=theirs.to_bytes()), 10.1)
    ack = one(call)
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.headers.get("CSeq") == "1 ACK"
    (changed,) = events(call)
    assert isinstance(changed, MediaChanged) and changed.negotiated.direction == "sendonly"
    call.receive(make_response(reinvite, 200, "OK", tag="pbx1", body=theirs.to_bytes()), 10.6)
    assert one(call).to_bytes() == ack.to_bytes()  # the repeated 2xx is ACKed again
    call.resume(20.0)
    again = one(call)
    assert isinstance(again, Request) and SessionDescription.parse(again.body).origin.version == 2


def test_our_reinvite_refused_and_glare() -> None:
    call = answered_incoming()
    call.hold(10.0)
    reinvite = one(call)
    with pytest.raises(StateError):
        call.resume(10.1)  # one re-INVITE at a time
    # their re-INVITE crosses ours: 491 to theirs
    call.receive(peer_request("INVITE", 103, body=PBX_SDP, ctype="application/sdp"), 10.2)
    resp = one(call)
    assert isinstance(resp, Response) and resp.status == 491
    call.receive(make_response(reinvite, 491, "Request Pending", tag="pbx1"), 10.3)
    one(call)  # the transaction's ACK for the 491
    (t, retry), *_ = run(call, 20.0)
    assert 10.3 <= t <= 12.3 and isinstance(retry, Request) and retry.method == "INVITE"
    call.receive(make_response(retry, 488, "Not Acceptable Here", tag="pbx1"), t + 0.1)
    assert events(call) == [ReinviteFailed(488, "Not Acceptable Here")]


def test_require_100rel_gets_420() -> None:
    call = IncomingCall(invite(extra="Require: 100rel\r\n"), local_addr=ME, tag="me", now=0.0)
    trying, bad = parsed(call.data_to_send())
    assert isinstance(trying, Response) and trying.status == 100
    assert isinstance(bad, Response) and bad.status == 420
    assert bad.headers.get("Unsupported") == "100rel"
    assert events(call) == [Failed(420, "Bad Extension")] and call.state is CallState.ENDED


def test_require_timer_is_accepted_and_session_expires_echoed() -> None:
    call = incoming("Require: timer\r\nSupported: timer, 100rel\r\nSession-Expires: 1800\r\n")
    call.answer(our_answer(), 1.0)
    ok = one(call)
    assert isinstance(ok, Response)
    assert ok.headers.get("Session-Expires") == "1800;refresher=uac"
    assert ok.headers.get("Require") == "timer"


def test_no_common_codec_reject_488() -> None:
    call = incoming(body=(SDP / "no_common_codec.sdp").read_bytes())
    with pytest.raises(Exception, match="codec"):
        answer(SessionDescription.parse(call.offer or b""), *ME)
    call.reject(488, 0.1)
    resp = one(call)
    assert isinstance(resp, Response) and resp.status == 488
    assert resp.headers.get("To") == "<sip:100@pbx.example.com>;tag=me"
    with pytest.raises(ValueError):
        incoming().reject(200, 0.0)


@pytest.mark.parametrize("status", [486, 480, 603, 503])
def test_reject_statuses_retransmitted_until_ack(status: int) -> None:
    call = incoming()
    call.reject(status, 0.0)
    assert one(call).status == status  # type: ignore[union-attr]
    assert [t for t, _ in run(call, 1.6)] == [0.5, 1.5]
    call.receive(peer_request("ACK", 102, branch="z9hG4bKinv"), 2.0)
    assert run(call, 10.0) == [] and call.done


def test_info_in_and_out() -> None:
    call = answered_incoming()
    relay = b"Signal=5\r\nDuration=160\r\n"
    call.receive(peer_request("INFO", 103, body=relay, ctype="application/dtmf-relay"), 3.0)
    assert one(call).status == 200  # type: ignore[union-attr]
    assert events(call) == [Info("5")]
    call.send_info("#", 4.0)
    info = one(call)
    assert isinstance(info, Request) and info.body == b"Signal=#\r\nDuration=160\r\n"


def test_requests_outside_the_dialog_or_out_of_order() -> None:
    call = answered_incoming()
    call.receive(peer_request("OPTIONS", 110), 3.0)
    assert one(call).status == 200  # type: ignore[union-attr]
    call.receive(peer_request("INFO", 105), 3.1)
    assert one(call).status == 500  # type: ignore[union-attr]
    stray = peer_request("BYE", 120)
    stray.headers.set("To", "<sip:100@pbx.example.com>;tag=someone-else")
    call.receive(stray, 3.2)
    assert one(call).status == 481  # type: ignore[union-attr]
    call.receive(peer_request("REFER", 121), 3.3)
    assert one(call).status == 405  # type: ignore[union-attr]
    assert call.state is CallState.CONFIRMED


# -- outgoing

ACCOUNT = CallParams("100", "pbx.example.com", "secret", proxy="sip:pbx.example.com")
OFFER = make_offer("192.0.2.5", 20000, session_id=3).to_bytes()


def outgoing() -> tuple[OutgoingCall, Request]:
    call = OutgoingCall(
        ACCOUNT, "sip:+4930222@pbx.example.com", OFFER, local_addr=ME, now=0.0, rng=random.Random(3)
    )
    inv = one(call)
    assert isinstance(inv, Request)
    return call, inv


def pbx_answer(
    inv: Request, status: int, reason: str = "", body: bytes = b"", **extra: str
) -> Response:
    resp = make_response(
        inv, status, reason or "Whatever", tag=None if status == 100 else "far", body=body
    )
    if 200 <= status < 300 or status in (180, 183):
        resp.headers.add("Contact", "<sip:gw@203.0.113.9:5070>")
        resp.headers.add("Record-Route", "<sip:pbx.example.com;lr>")
    for name, value in extra.items():
        resp.headers.add(name.replace("_", "-"), value)
    if body:
        resp.headers.add("Content-Type", "application/sdp")
    return resp


def _their_answer() -> bytes:
    sd, _ = answer(
        SessionDescription.parse(OFFER), "203.0.113.9", 30000, ("PCMU", "telephone-event")
    )
    return sd.to_bytes()


def test_invite_shape() -> None:
    _, inv = outgoing()
    h = inv.headers
    assert inv.uri == "sip:+4930222@pbx.example.com"
    assert (
        h.get("Route") == "<sip:pbx.example.com;lr>"
        and h.get("Contact") == "<sip:100@192.0.2.5:5060>"
    )
    assert h.get("From", "").startswith("<sip:100@pbx.example.com>;tag=")
    assert h.get("CSeq") == "1 INVITE" and h.get("Content-Type") == "application/sdp"
    assert "INFO" in (h.get("Allow") or "") and h.get("Supported") == "timer"
    assert inv.body == OFFER


@pytest.mark.parametrize(
    ("status", "header"), [(401, "Authorization"), (407, "Proxy-Authorization")]
)
def test_challenge_then_200(status: int, header: str) -> None:
    call, inv = outgoing()
    challenge = 'Digest realm="pbx", nonce="n1", qop="auth"'
    name = "WWW_Authenticate" if status == 401 else "Proxy_Authenticate"
    call.receive(pbx_answer(inv, status, **{name: challenge}), 0.1)
    ack, inv2 = parsed(call.data_to_send())
    assert isinstance(ack, Request) and ack.method == "ACK" and ack.headers.get("CSeq") == "1 ACK"
    assert isinstance(inv2, Request) and inv2.headers.get("CSeq") == "2 INVITE"
    assert (inv2.headers.get(header) or "").startswith('Digest username="100", realm="pbx"')
    assert inv2.headers.get("Call-ID") == inv.headers.get("Call-ID")
    assert inv2.headers.get("From") == inv.headers.get("From")
    assert events(call) == []
    call.receive(pbx_answer(inv2, 180, "Ringing"), 0.3)
    call.receive(pbx_answer(inv2, 200, "OK", _their_answer()), 5.0)
    ack2 = one(call)
    assert isinstance(ack2, Request) and ack2.headers.get("CSeq") == "2 ACK"
    assert (
        ack2.uri == "sip:gw@203.0.113.9:5070"
        and ack2.headers.get("Route") == "<sip:pbx.example.com;lr>"
    )
    assert events(call) == [Progress(180, "Ringing", None), Answered(_their_answer())]
    assert call.negotiated is not None and call.negotiated.codec == "PCMU"
    assert call.state is CallState.CONFIRMED
    call.receive(pbx_answer(inv2, 200, "OK", _their_answer()), 5.5)  # 2xx again: ACK again
    assert one(call).to_bytes() == ack2.to_bytes()


def test_second_challenge_fails() -> None:
    call, inv = outgoing()
    ch = 'Digest realm="pbx", nonce="n1"'
    call.receive(pbx_answer(inv, 401, WWW_Authenticate=ch), 0.1)
    _, inv2 = parsed(call.data_to_send())
    assert isinstance(inv2, Request)
    call.receive(pbx_answer(inv2, 401, "Unauthorized", WWW_Authenticate=ch), 0.2)
    assert events(call) == [Failed(401, "Unauthorized")] and call.state is CallState.ENDED


def test_early_media_183_with_sdp() -> None:
    call, inv = outgoing()
    call.receive(pbx_answer(inv, 100, "Trying"), 0.05)
    call.receive(pbx_answer(inv, 183, "Session Progress", _their_answer()), 0.5)
    assert events(call) == [Progress(183, "Session Progress", _their_answer())]
    assert call.state is CallState.EARLY


@pytest.mark.parametrize(
    ("status", "reason"), [(486, "Busy Here"), (603, "Decline"), (404, "Not Found")]
)
def test_failures(status: int, reason: str) -> None:
    call, inv = outgoing()
    call.receive(pbx_answer(inv, status, reason), 1.0)
    ack = one(call)
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert events(call) == [Failed(status, reason)] and call.state is CallState.ENDED
    run(call, 100.0)
    assert call.done


def test_cancel_before_any_provisional_waits_for_one() -> None:
    call, inv = outgoing()
    call.cancel(0.1)
    assert call.data_to_send() == []  # §9.1: no CANCEL before a provisional
    call.receive(pbx_answer(inv, 100, "Trying"), 0.2)
    cancel = one(call)
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    assert cancel.headers.get("CSeq") == "1 CANCEL"
    assert cancel.headers.get_all("Via") == inv.headers.get_all("Via")
    assert cancel.headers.get("To") == inv.headers.get("To") and cancel.uri == inv.uri
    call.receive(make_response(cancel, 200, "OK", tag="far"), 0.3)
    call.receive(pbx_answer(inv, 487, "Request Terminated"), 0.4)
    assert [m.method for m in parsed(call.data_to_send())] == ["ACK"]  # type: ignore[union-attr]
    assert events(call) == [Cancelled()]


def test_cancel_after_ringing_and_hangup_is_cancel() -> None:
    call, inv = outgoing()
    call.receive(pbx_answer(inv, 180, "Ringing"), 0.2)
    events(call)
    call.hangup(1.0)
    cancel = one(call)
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    call.receive(pbx_answer(inv, 487, "Request Terminated"), 1.1)
    one(call)
    assert events(call) == [Cancelled()]


def test_200_crossing_cancel_is_acked_then_byed() -> None:
    call, inv = outgoing()
    call.receive(pbx_answer(inv, 180, "Ringing"), 0.2)
    call.cancel(1.0)
    cancel = one(call)
    events(call)
    call.receive(pbx_answer(inv, 200, "OK", _their_answer()), 1.01)
    ack, bye = parsed(call.data_to_send())
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert isinstance(bye, Request) and bye.method == "BYE" and bye.uri == "sip:gw@203.0.113.9:5070"
    call.receive(make_response(cancel, 481, "Call/Transaction Does Not Exist", tag="far"), 1.02)
    call.receive(make_response(bye, 200, "OK"), 1.1)
    assert events(call) == [Cancelled()] and call.state is CallState.ENDED


def test_cancel_without_final_gives_up_after_64_t1() -> None:
    call, inv = outgoing()
    call.receive(pbx_answer(inv, 180, "Ringing"), 0.2)
    call.cancel(1.0)
    call.data_to_send()
    run(call, 40.0)
    assert Cancelled() in events(call) and call.state is CallState.ENDED


def test_no_answer_at_all_is_408() -> None:
    call, _ = outgoing()
    sent = run(call, 40.0)
    assert [t for t, _ in sent] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # timer A
    assert events(call) == [Failed(408, "Request Timeout")]


def _confirmed() -> tuple[OutgoingCall, Request]:
    call, inv = outgoing()
    call.receive(pbx_answer(inv, 200, "OK", _their_answer()), 1.0)
    call.data_to_send()
    events(call)
    return call, inv


def _in_dialog(call: OutgoingCall, method: str, cseq: int, body: bytes = b"") -> Request:
    """A request from the far end inside the dialog of our outgoing call."""
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 203.0.113.9:5070;branch=z9hG4bKfar{cseq}")
    h.add("From", "<sip:+4930222@pbx.example.com>;tag=far")
    h.add("To", f"<sip:100@pbx.example.com>;tag={call.from_tag}")
    h.add("Call-ID", call.call_id)
    h.add("CSeq", f"{cseq} {method}")
    h.add("Contact", "<sip:gw@203.0.113.9:5070>")
    if body:
        h.add("Content-Type", "application/sdp")
    return Request(method, "sip:100@192.0.2.5:5060", h, body)


def test_bye_from_the_far_end() -> None:
    call, _ = _confirmed()
    call.receive(_in_dialog(call, "BYE", 1), 9.0)
    assert one(call).status == 200  # type: ignore[union-attr]
    assert events(call) == [Ended("remote-bye")]


def test_far_end_reinvite_is_answered() -> None:
    call, _ = _confirmed()
    hold = (SDP / "yealink_hold.sdp").read_bytes()
    call.receive(_in_dialog(call, "INVITE", 2, hold), 9.0)
    ok = one(call)
    assert isinstance(ok, Response) and ok.status == 200
    assert SessionDescription.parse(ok.body).media[0].direction == "recvonly"
    (changed,) = events(call)
    assert isinstance(changed, MediaChanged) and changed.negotiated.remote_addr == "10.0.5.33"


def test_hangup_bye_goes_through_the_route_set() -> None:
    call, _ = _confirmed()
    call.hangup(9.0)
    bye = one(call)
    assert isinstance(bye, Request) and bye.headers.get("CSeq") == "2 BYE"
    assert bye.headers.get("Route") == "<sip:pbx.example.com;lr>"
    call.receive(make_response(bye, 200, "OK"), 9.1)
    assert events(call) == [Ended("local-bye")]


def test_session_refresh_when_we_are_refresher() -> None:
    call, inv = outgoing()
    ok = pbx_answer(inv, 200, "OK", _their_answer(), Session_Expires="600;refresher=uac")
    call.receive(ok, 1.0)
    call.data_to_send()
    events(call)
    ((t, refresh),) = run(call, 301.0)
    assert t == 301.0 and isinstance(refresh, Request) and refresh.method == "INVITE"
    assert refresh.body == OFFER  # same description, same version
    call.receive(pbx_answer(refresh, 200, "OK", _their_answer()), 301.1)
    assert [m.method for m in parsed(call.data_to_send())] == ["ACK"]  # type: ignore[union-attr]
    assert events(call) == []  # nothing changed


def test_dialog_making_responses_carry_the_record_route() -> None:
    """RFC 3261 §12.1.1: the proxy's Record-Route comes back in the 18x and the 2xx, so the
    caller's in-dialog requests (ACK, BYE) go through the proxy; 100 and errors do not."""
    call = incoming()
    call.ringing(0.1)
    (ringing,) = parsed(call.data_to_send())
    call.answer(our_answer(), 0.2)
    (ok,) = parsed(call.data_to_send())
    for resp in (ringing, ok):
        assert isinstance(resp, Response)
        assert resp.headers.get_all("Record-Route") == ["<sip:192.168.1.10;lr>"]
    refused = incoming()
    refused.reject(486, 0.1)
    (busy,) = parsed(refused.data_to_send())
    assert isinstance(busy, Response) and busy.headers.get_all("Record-Route") == []
