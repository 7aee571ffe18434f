"""INVITE server transaction (RFC 3261 §17.2.1, RFC 6026) on a fake clock: every timer."""

from __future__ import annotations

import pytest

from telesip.sip import StateError
from telesip.sip.message import Headers, Request
from telesip.sip.transaction import (
    InviteServerTransaction,
    Terminated,
    Timeout,
    TransportFailed,
    TxState,
    make_response,
)

from .helpers import req


def _invite(method: str = "INVITE") -> Request:
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKabc;rport")
    h.add("From", "<sip:alice@example.com>;tag=a1")
    h.add("To", "<sip:bob@example.com>")
    h.add("Call-ID", "call-1")
    h.add("CSeq", f"7 {method}")
    h.add("Timestamp", "54")
    return Request(method, "sip:bob@192.0.2.5", h)


def _ack() -> Request:
    a = _invite("ACK")
    a.headers.set("To", "<sip:bob@example.com>;tag=b2")
    return a


def _started(reliable: bool = False) -> InviteServerTransaction:
    tx = InviteServerTransaction(_invite(), reliable=reliable)
    tx.start(0.0)
    return tx


def _fire_until(tx: InviteServerTransaction, end: float) -> list[float]:
    sent: list[float] = []
    while (t := tx.get_timer()) is not None and t <= end:
        tx.handle_timer(t)
        sent += [t] * len(tx.data_to_send())
    return sent


def test_start_sends_100_trying_without_tag_with_timestamp() -> None:
    tx = _started()
    assert tx.branch == "z9hG4bKabc" and tx.state is TxState.PROCEEDING
    (data,) = tx.data_to_send()
    assert data.startswith(b"SIP/2.0 100 Trying\r\n")
    assert b"To: <sip:bob@example.com>\r\n" in data and b"Timestamp: 54\r\n" in data
    assert tx.get_timer() is None  # no timer in Proceeding


def test_retransmitted_invite_gets_the_last_provisional() -> None:
    tx = _started()
    tx.data_to_send()
    tx.respond(make_response(tx.request, 180, "Ringing", tag="b2"), 0.1)
    (ringing,) = tx.data_to_send()
    tx.receive_request(_invite(), 0.5)
    assert tx.data_to_send() == [ringing]
    assert b"To: <sip:bob@example.com>;tag=b2\r\n" in ringing


def test_non_2xx_final_timer_g_doubles_to_t2_then_h_gives_up() -> None:
    tx = _started()
    tx.data_to_send()
    tx.respond(make_response(tx.request, 486, "Busy Here", tag="b2"), 1.0)
    assert tx.state is TxState.COMPLETED and len(tx.data_to_send()) == 1
    sent = _fire_until(tx, 100.0)
    # G: 0.5, 1, 2, 4, 4, 4 ... from 1.0 until H at 1 + 64*T1 = 33
    assert sent == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert tx.next_event() == Timeout() and tx.next_event() == Terminated()
    assert tx.terminated and tx.get_timer() is None


def test_ack_stops_g_and_h_and_timer_i_absorbs_ack_retransmissions() -> None:
    tx = _started()
    tx.data_to_send()
    tx.respond(make_response(tx.request, 603, "Decline", tag="b2"), 0.0)
    tx.data_to_send()
    tx.receive_request(_invite(), 0.2)  # the INVITE again: the final again
    assert len(tx.data_to_send()) == 1
    tx.receive_request(_ack(), 0.3)
    assert tx.state is TxState.CONFIRMED and tx.get_timer() == pytest.approx(5.3)  # I = T4
    tx.receive_request(_ack(), 1.0)
    tx.receive_request(_invite(), 1.1)
    assert tx.data_to_send() == []  # absorbed in Confirmed
    tx.handle_timer(5.3)
    assert tx.terminated and tx.next_event() == Terminated()


def test_reliable_transport_no_g_and_timer_i_is_zero() -> None:
    tx = _started(reliable=True)
    tx.data_to_send()
    tx.respond(make_response(tx.request, 480, "Temporarily Unavailable", tag="b2"), 2.0)
    assert tx.get_timer() == 34.0  # only H
    tx.receive_request(_ack(), 3.0)
    assert tx.terminated


def test_2xx_goes_to_accepted_and_timer_l_ends_it() -> None:
    tx = _started()
    tx.data_to_send()
    ok = make_response(tx.request, 200, "OK", tag="b2")
    tx.respond(ok, 4.0)
    assert tx.state is TxState.ACCEPTED and len(tx.data_to_send()) == 1
    assert tx.get_timer() == 36.0  # L = 64*T1
    tx.receive_request(_invite(), 5.0)
    assert tx.data_to_send() == []  # the INVITE retransmission is absorbed: the TU resends
    tx.respond(ok, 5.0)  # the TU's own retransmission of its 2xx passes
    assert len(tx.data_to_send()) == 1 and tx.get_timer() == 36.0
    tx.receive_request(_ack(), 5.5)  # the 2xx ACK is the TU's business
    assert tx.state is TxState.ACCEPTED
    tx.transport_error(6.0)  # RFC 6026: stays Accepted
    assert tx.state is TxState.ACCEPTED and tx.next_event() is None
    tx.handle_timer(36.0)
    assert tx.terminated and tx.next_event() == Terminated()


def test_transport_error_in_proceeding_and_completed() -> None:
    tx = _started()
    tx.transport_error(1.0)
    assert tx.next_event() == TransportFailed() and tx.terminated
    tx = _started()
    tx.respond(make_response(tx.request, 500, "Oops", tag="b2"), 0.0)
    tx.transport_error(0.1)
    assert tx.next_event() == TransportFailed() and tx.terminated


def test_start_without_trying_and_illegal_events() -> None:
    tx = InviteServerTransaction(_invite(), reliable=False)
    tx.start(0.0, trying=False)
    assert tx.data_to_send() == []
    tx.respond(make_response(tx.request, 486, "Busy Here", tag="b2"), 0.0)
    with pytest.raises(StateError):
        tx.respond(make_response(tx.request, 200, "OK", tag="b2"), 0.1)
    with pytest.raises(StateError):
        tx.start(0.2)


def test_make_response_keeps_an_existing_to_tag_and_every_via() -> None:
    r = req(
        b"BYE sip:bob@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\n"
        b"Via: SIP/2.0/UDP a;branch=z9hG4bK2\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
        b"Call-ID: c\r\nCSeq: 3 BYE\r\n\r\n"
    )
    resp = make_response(r, 200, "OK", tag="zzz")
    assert resp.headers.get("To") == "<sip:b@x>;tag=2"
    assert resp.headers.get_all("Via") == [
        "SIP/2.0/UDP p1;branch=z9hG4bK1",
        "SIP/2.0/UDP a;branch=z9hG4bK2",
    ]
