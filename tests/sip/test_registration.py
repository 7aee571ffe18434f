"""The registration state machine against a hand-driven registrar on a fake clock."""

from __future__ import annotations

import random

import pytest

from telesip.sip import Registration, RegistrationParams, RegistrationPolicy, StateError
from telesip.sip.fields import parse_name_addr, parse_via
from telesip.sip.message import Request
from telesip.sip.registration import RegistrationPhase

from .helpers import answer, req, wire

CHALLENGE = 'Digest realm="example.com", nonce="n1", qop="auth"'


class HalfRandom(random.Random):
    """Jitter factor is always 0.5: backoff delays become exact."""

    def random(self) -> float:
        return 0.5


def make(reliable: bool = False, **kw: object) -> Registration:
    params = RegistrationParams(
        user="alice",
        domain="example.com",
        password="s3cret",
        registrar_uri="sip:example.com",
        expires=60,
        **kw,  # type: ignore[arg-type]
    )
    policy = RegistrationPolicy(retry_base=10.0, retry_max=80.0, auth_retry=1000.0)
    return Registration(
        params, local=("127.0.0.1", 5070), rng=HalfRandom(7), reliable=reliable, policy=policy
    )


def sent(reg: Registration) -> Request:
    (data,) = reg.data_to_send()
    return req(data)


def statuses(reg: Registration) -> list[str]:
    out = []
    while (ev := reg.next_event()) is not None:
        out.append(ev.status.state)
    return out


def register(reg: Registration, now: float = 0.0) -> Request:
    reg.start(now)
    r1 = sent(reg)
    assert "Authorization" not in r1.headers
    reg.receive_response(wire(answer(r1, 401, WWW_Authenticate=CHALLENGE)), now)
    r2 = sent(reg)
    assert reg.receive_response(wire(answer(r2, 200, Expires="60")), now)
    return r2


def test_challenge_then_registered_then_refresh_at_80_percent_the_first_spread() -> None:
    reg = make()
    r2 = register(reg, now=10.0)
    auth = r2.headers.get("Authorization") or ""
    assert 'username="alice"' in auth and "nc=00000001" in auth and "s3cret" not in auth
    assert r2.headers.get("CSeq") == "2 REGISTER" and r2.headers.get("Expires") == "60"
    contact = parse_name_addr(r2.headers.get("Contact") or "")
    assert contact.uri == "sip:alice@127.0.0.1:5070"
    assert statuses(reg) == ["registered"]
    # a new binding's first refresh: 80 % of 60 s, less a random part (0.5 here) of 25 %
    assert reg.status.registered_until == 70.0 and reg.get_timer() == pytest.approx(10 + 42.0)
    reg.handle_timer(51.9)
    assert reg.data_to_send() == []
    reg.handle_timer(52.1)
    r3 = sent(reg)
    assert r3.headers.get("Call-ID") == r2.headers.get("Call-ID")
    assert r3.headers.get("CSeq") == "3 REGISTER"
    assert "nc=00000002" in (r3.headers.get("Authorization") or "")  # nonce reused
    reg.receive_response(wire(answer(r3, 200, Contact=f"<{contact.uri}>;expires=30")), 52.5)
    # a refresh's next refresh: 80 %, no spread
    assert reg.status.registered_until == 82.5 and reg.get_timer() == pytest.approx(52.5 + 24)


def test_wrong_password_is_auth_failed_without_hammering() -> None:
    reg = make()
    reg.start(0.0)
    reg.receive_response(wire(answer(sent(reg), 401, WWW_Authenticate=CHALLENGE)), 0.0)
    r2 = sent(reg)
    nonce2 = CHALLENGE.replace("n1", "n2")
    reg.receive_response(wire(answer(r2, 401, WWW_Authenticate=nonce2)), 0.1)
    assert reg.state is RegistrationPhase.AUTH_FAILED
    assert reg.status.state == "auth_failed" and reg.status.code == 401
    assert reg.data_to_send() == []
    assert reg.get_timer() == pytest.approx(1000.1)  # auth_retry, jitter factor 1.0 at 0.5
    reg.handle_timer(999.0)
    assert reg.data_to_send() == []
    reg.handle_timer(1000.1)
    assert "Authorization" not in sent(reg).headers  # starts over with a fresh challenge


def test_stale_nonce_is_answered_not_failed() -> None:
    reg = make()
    register(reg)
    reg.handle_timer(48.0)
    r3 = sent(reg)
    stale = 'Digest realm="example.com", nonce="n9", qop="auth", stale=true'
    reg.receive_response(wire(answer(r3, 401, WWW_Authenticate=stale)), 48.0)
    r4 = sent(reg)
    assert 'nonce="n9"' in (r4.headers.get("Authorization") or "")
    reg.receive_response(wire(answer(r4, 200)), 48.1)
    assert reg.status.state == "registered"


def test_403_is_auth_failed() -> None:
    reg = make()
    reg.start(0.0)
    reg.receive_response(wire(answer(sent(reg), 403, "Forbidden")), 0.0)
    assert (reg.status.state, reg.status.code, reg.status.last_error) == (
        "auth_failed",
        403,
        "403 Forbidden",
    )


def test_proxy_challenge_407() -> None:
    reg = make()
    reg.start(0.0)
    proxy = CHALLENGE.replace("example.com", "proxy.example.com")
    reg.receive_response(wire(answer(sent(reg), 407, Proxy_Authenticate=proxy)), 0.0)
    r2 = sent(reg)
    assert "Authorization" not in r2.headers
    assert 'realm="proxy.example.com"' in (r2.headers.get("Proxy-Authorization") or "")


def test_423_raises_expires_to_min_expires() -> None:
    reg = make()
    reg.start(0.0)
    reg.receive_response(wire(answer(sent(reg), 423, Min_Expires="300")), 0.0)
    r2 = sent(reg)
    assert r2.headers.get("Expires") == "300"
    reg.receive_response(wire(answer(r2, 200)), 0.2)
    assert reg.status.registered_until == pytest.approx(300.2)


def test_423_without_a_larger_min_expires_fails() -> None:
    reg = make()
    reg.start(0.0)
    reg.receive_response(wire(answer(sent(reg), 423, Min_Expires="30")), 0.0)
    assert reg.status.state == "failed" and reg.status.code == 423


def test_503_retry_after_is_honoured() -> None:
    reg = make()
    reg.start(0.0)
    reg.receive_response(wire(answer(sent(reg), 503, Retry_After="17")), 1.0)
    assert reg.status.state == "unreachable" and reg.status.code == 503
    assert reg.status.next_retry_at == 18.0 and reg.get_timer() == 18.0


def test_timeouts_back_off_exponentially_with_jitter() -> None:
    reg = make()
    reg.start(0.0)
    retries = []
    now = 0.0
    for _ in range(6):
        while reg.status.state != "unreachable" or reg.state is not RegistrationPhase.BACKOFF:
            now = reg.get_timer() or now
            reg.handle_timer(now)
        retries.append(round((reg.status.next_retry_at or 0) - now, 3))
        assert reg.status.last_error == "no response (timeout)"
        now = reg.get_timer() or now
        reg.handle_timer(now)  # the retry goes out
        assert reg.state is RegistrationPhase.REGISTERING
    # base 10 s doubling, capped at 80 s, times the jitter factor 0.75
    assert retries == [7.5, 15.0, 30.0, 60.0, 60.0, 60.0]


def test_other_failure_is_failed_and_then_success_resets_backoff() -> None:
    reg = make()
    reg.start(0.0)
    reg.receive_response(wire(answer(sent(reg), 404, "Not Found")), 0.0)
    assert (reg.status.state, reg.status.code) == ("failed", 404)
    reg.handle_timer(reg.get_timer() or 0.0)
    reg.receive_response(wire(answer(sent(reg), 200)), 8.0)
    assert reg.status.state == "registered" and reg.status.code == 200


def test_stop_unregisters_own_contact_only() -> None:
    reg = make()
    register(reg)
    statuses(reg)
    reg.stop(5.0)
    r = sent(reg)
    assert r.headers.get("Expires") == "0"
    assert r.headers.get("Contact") == "<sip:alice@127.0.0.1:5070>;expires=0"
    assert "Authorization" in r.headers
    reg.receive_response(wire(answer(r, 200)), 5.1)
    assert reg.done and statuses(reg) == ["disabled"] and reg.get_timer() is None


def test_stop_before_start_and_after_failure_sends_nothing() -> None:
    reg = make()
    reg.stop(0.0)
    assert reg.done and reg.data_to_send() == [] and reg.status.state == "disabled"
    reg2 = make()
    reg2.start(0.0)
    reg2.receive_response(wire(answer(sent(reg2), 404)), 0.0)
    reg2.stop(1.0)
    assert reg2.done and reg2.data_to_send() == []


def test_nat_rewrites_contact_from_received_and_rport() -> None:
    reg = make()
    reg.start(0.0)
    r1 = sent(reg)
    resp = answer(r1, 200)
    via = r1.headers.get("Via") or ""
    resp.headers.set("Via", via.replace(";rport", ";rport=40000;received=203.0.113.9"))
    reg.receive_response(wire(resp), 0.1)
    r2 = sent(reg)
    contacts = [parse_name_addr(c) for c in r2.headers.get_all("Contact")]
    assert [(c.uri, c.params) for c in contacts] == [
        ("sip:alice@203.0.113.9:40000", {}),
        ("sip:alice@127.0.0.1:5070", {"expires": "0"}),
    ]
    assert parse_via(r2.headers.get("Via") or "").host == "127.0.0.1"
    resp2 = answer(r2, 200)
    via2 = r2.headers.get("Via") or ""
    resp2.headers.set("Via", via2.replace(";rport", ";rport=40000;received=203.0.113.9"))
    reg.receive_response(wire(resp2), 0.2)
    assert reg.status.state == "registered" and reg.data_to_send() == []


def test_stray_responses_are_ignored() -> None:
    reg = make()
    reg.start(0.0)
    r1 = sent(reg)
    other = answer(r1, 200)
    other.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKother")
    assert not reg.receive_response(wire(other), 0.0)
    assert reg.state is RegistrationPhase.REGISTERING


def test_udp_retransmissions_reach_the_wire() -> None:
    reg = make()
    reg.start(0.0)
    first = reg.data_to_send()
    reg.handle_timer(0.5)
    assert reg.data_to_send() == first


def test_illegal_transition_raises() -> None:
    reg = make()
    reg.start(0.0)
    with pytest.raises(StateError):
        reg.start(1.0)


def test_repr_has_no_password() -> None:
    reg = make()
    assert "s3cret" not in repr(reg) and "s3cret" not in repr(reg.params)


@pytest.mark.parametrize(
    "contact",
    [
        "<sip:alice@127.0.0.1:5070>;expires=abc",
        '"unterminated <sip:x>',
        "<sip:alice@127.0.0.1:5070",
    ],
)
def test_a_malformed_contact_in_the_200_is_not_fatal(contact: str) -> None:
    reg = make()
    reg.start(0.0)
    resp = answer(sent(reg), 200, Expires="40")
    resp.headers.add("Contact", contact)
    assert reg.receive_response(wire(resp), 1.0)
    assert reg.status.state == "registered" and reg.status.registered_until == 41.0
