"""Client transaction timers (RFC 3261 §17.1) on a fake clock: exact times, no sleeps."""

from __future__ import annotations

import pytest

from telesip.sip import ClientTransaction, InviteClientTransaction, StateError
from telesip.sip.message import Headers, Request
from telesip.sip.transaction import (
    Final,
    Provisional,
    Terminated,
    Timeout,
    TransportFailed,
    TxState,
)

from .helpers import answer, req, wire


def _request(method: str = "REGISTER") -> Request:
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1")
    h.add("From", "<sip:a@b>;tag=1")
    h.add("To", "<sip:a@b>")
    h.add("Call-ID", "c1")
    h.add("CSeq", f"1 {method}")
    return Request(method, "sip:b", h)


def _run_until(tx: ClientTransaction, end: float) -> list[float]:
    """Fire every timer up to `end`; return when a retransmission went out."""
    sent: list[float] = []
    while (t := tx.get_timer()) is not None and t <= end:
        tx.handle_timer(t)
        sent += [t] * len(tx.data_to_send())
    return sent


def test_non_invite_over_udp_retransmits_with_e_and_times_out_with_f() -> None:
    tx = ClientTransaction(_request(), "z9hG4bK1", reliable=False)
    tx.start(100.0)
    assert len(tx.data_to_send()) == 1 and tx.get_timer() == 100.5
    sent = _run_until(tx, 200.0)
    # E doubles from T1 to T2 (0.5, 1, 2, 4, 4, ...) until F at 64*T1 = 32 s
    assert sent == [100.5, 101.5, 103.5, 107.5, 111.5, 115.5, 119.5, 123.5, 127.5, 131.5]
    assert tx.next_event() == Timeout() and tx.next_event() == Terminated()
    assert tx.terminated and tx.get_timer() is None


def test_provisional_moves_e_to_t2() -> None:
    tx = ClientTransaction(_request(), "z9hG4bK1", reliable=False)
    tx.start(0.0)
    r = req(tx.data_to_send()[0])
    _run_until(tx, 0.5)  # one retransmission at 0.5, next E at 1.5
    tx.receive_response(wire(answer(r, 100)), 1.0)
    assert tx.state is TxState.PROCEEDING and isinstance(tx.next_event(), Provisional)
    assert _run_until(tx, 10.0) == [1.5, 5.5, 9.5]


def test_final_response_then_timer_k_over_udp() -> None:
    tx = ClientTransaction(_request(), "z9hG4bK1", reliable=False)
    tx.start(0.0)
    r = req(tx.data_to_send()[0])
    tx.receive_response(wire(answer(r, 200)), 0.2)
    assert isinstance(tx.next_event(), Final) and tx.state is TxState.COMPLETED
    assert tx.get_timer() == pytest.approx(5.2)  # K = T4
    tx.receive_response(wire(answer(r, 200)), 1.0)  # retransmission absorbed
    assert tx.next_event() is None
    tx.handle_timer(5.2)
    assert tx.terminated and tx.next_event() == Terminated()


def test_reliable_transport_no_retransmits_and_no_linger() -> None:
    tx = ClientTransaction(_request(), "z9hG4bK1", reliable=True)
    tx.start(0.0)
    tx.data_to_send()
    assert tx.get_timer() == 32.0  # only F
    r = req(tx.wire)
    tx.receive_response(wire(answer(r, 401)), 0.1)
    assert isinstance(tx.next_event(), Final) and tx.terminated


def test_transport_error_terminates() -> None:
    tx = ClientTransaction(_request(), "z9hG4bK1", reliable=True)
    tx.start(0.0)
    tx.transport_error(1.0)
    assert tx.next_event() == TransportFailed() and tx.terminated


def test_illegal_event_raises() -> None:
    tx = ClientTransaction(_request(), "z9hG4bK1", reliable=False)
    tx.start(0.0)
    with pytest.raises(StateError):
        tx.start(1.0)


def test_invite_timer_a_doubles_and_b_times_out() -> None:
    tx = InviteClientTransaction(_request("INVITE"), "z9hG4bK1", reliable=False)
    tx.start(0.0)
    tx.data_to_send()
    sent = _run_until(tx, 100.0)
    assert sent == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # A: 0.5, 1, 2, 4, 8, 16
    assert tx.next_event() == Timeout() and tx.terminated


def test_invite_non_2xx_is_acked_and_absorbed_for_timer_d() -> None:
    tx = InviteClientTransaction(_request("INVITE"), "z9hG4bK1", reliable=False)
    tx.start(0.0)
    r = req(tx.data_to_send()[0])
    tx.receive_response(wire(answer(r, 180)), 0.1)
    assert tx.get_timer() is None  # A and B stop in Proceeding
    tx.receive_response(wire(answer(r, 486)), 1.0)
    (ack,) = tx.data_to_send()
    a = req(ack)
    assert a.method == "ACK" and a.headers.get("CSeq") == "1 ACK"
    assert a.headers.get("To", "").endswith("tag=srv")
    tx.receive_response(wire(answer(r, 486)), 2.0)
    assert len(tx.data_to_send()) == 1  # the retransmitted final is ACKed again
    assert tx.get_timer() == 33.0
    tx.handle_timer(33.0)
    assert tx.terminated


def test_invite_2xx_terminates_for_the_tu() -> None:
    tx = InviteClientTransaction(_request("INVITE"), "z9hG4bK1", reliable=False)
    tx.start(0.0)
    r = req(tx.data_to_send()[0])
    tx.receive_response(wire(answer(r, 200)), 0.3)
    assert isinstance(tx.next_event(), Final) and tx.terminated and tx.data_to_send() == []
