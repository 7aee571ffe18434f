"""Pure domain rules: settings validation, the sip: shortcut, plans, the guessing limiter."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telesip.domain import errors
from telesip.domain.guessing import MAX_FAILURES, WINDOW, GuessState
from telesip.domain.model import Payer
from telesip.domain.plans import Entitlements, Subscription
from telesip.domain.settings import AccountSettings, Secret, parse_shortcut

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_shortcut_parses_every_part_and_keeps_odd_passwords() -> None:
    s = parse_shortcut("sip:101:p@ss:w0rd@PBX.Example.com:5080;transport=tcp")
    assert (s.login, s.password.reveal(), s.domain, s.port, s.transport) == (
        "101",
        "p@ss:w0rd",
        "pbx.example.com",
        5080,
        "tcp",
    )
    assert parse_shortcut("sip:7:x@10.0.0.1").transport == "udp"
    assert parse_shortcut("sips:7:x@[2001:db8::1]").transport == "tls"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sip:",
        "sip:101@pbx",
        "sip:101:pw@",
        "sip:101:pw@pbx;transport=sctp",
        "sip:101:pw@pbx:99999",
        "sip:101:pw@bad_host!",
        "sip:101:pw@pbx;foo=bar",
        "http://x",
    ],
)
def test_shortcut_rejects_bad_input_with_a_clear_error(bad: str) -> None:
    with pytest.raises(errors.InvalidSettings) as exc:
        parse_shortcut(bad)
    assert exc.value.code == "invalid_settings" and exc.value.message


@given(st.text(max_size=80))
def test_shortcut_never_fails_other_than_invalid_settings(text: str) -> None:
    with contextlib.suppress(errors.InvalidSettings):
        parse_shortcut(text)


def test_password_never_shows_in_repr_or_errors() -> None:
    s = AccountSettings(login="1", password=Secret("hunter2"), domain="pbx")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.password)
    assert "hunter2" not in repr(s.public_dict())
    with pytest.raises(errors.InvalidSettings) as exc:
        AccountSettings(login="1", password=Secret("hunter2"), domain="pbx", port=0).validated()
    assert "hunter2" not in str(exc.value)


@pytest.mark.parametrize(
    "field,value",
    [
        ("login", "has space"),
        ("domain", "-bad-.com"),
        ("transport", "sctp"),
        ("expires", 5),
        ("codecs", ("G729",)),
        ("dtmf_mode", "tones"),
        ("rewrite_rules", (("(", "x"),)),
        ("worker", "no spaces"),
        ("registrar", "a..b"),
    ],
)
def test_settings_validation(field: str, value: object) -> None:
    base = {"login": "1", "password": Secret("p"), "domain": "pbx.example.com"}
    with pytest.raises(errors.InvalidSettings):
        AccountSettings(**(base | {field: value})).validated()  # type: ignore[arg-type]


def test_identity_detects_same_login_at_same_server() -> None:
    a = AccountSettings(login="A1", password=Secret("x"), domain="PBX.example.com").validated()
    b = AccountSettings(
        login="a1", password=Secret("y"), domain="pbx.example.com", port=5060
    ).validated()
    c = AccountSettings(
        login="a1", password=Secret("y"), domain="pbx.example.com", transport="tls"
    ).validated()
    assert a.identity == b.identity != c.identity


def test_entitlements_pick_the_payer() -> None:
    free = [Subscription(1, 1, "free", 1)]
    assert Entitlements.of(free, 0, 0).payer_for_new_account() is Payer.OWNER_PLAN
    with pytest.raises(errors.SeatsExhausted):
        Entitlements.of(free, 1, 0).payer_for_new_account()
    start = [*free, Subscription(2, 1, "softphone-start", None)]
    assert Entitlements.of(start, 1, 7).payer_for_new_account() is Payer.START
    assert Entitlements.of(start, 0, 0).payer_for_received_account() is Payer.START
    office = [Subscription(3, 1, "office", None)]
    ent = Entitlements.of(office, 500, 0)
    assert ent.can_assign and ent.payer_for_received_account() is Payer.OWNER_PLAN
    with pytest.raises(errors.MethodNotAllowed):
        Entitlements.of(free, 0, 0).require_assign()


def _h(s: str) -> bytes:
    return s.encode()


def _wrong(state: GuessState, now: datetime, guess: str) -> GuessState:
    return state.after_wrong(now, _h(guess), _h(guess[:-1]))


def test_typing_a_password_is_not_guessing() -> None:
    state = GuessState(window_start=T0)
    for i in range(1, 30):
        state = _wrong(state, T0, "x" * i)
    state = _wrong(state, T0, "x" * 28)  # backspace
    assert state.failures == 1 and not state.locked(T0)


def test_distinct_guesses_lock_until_the_window_ends() -> None:
    state = GuessState(window_start=T0)
    for i in range(MAX_FAILURES):
        assert not state.locked(T0)
        state = _wrong(state, T0 + timedelta(seconds=i), f"guess{i}")
    assert state.locked(T0 + timedelta(minutes=1))
    assert state.minutes_left(T0 + timedelta(minutes=1)) >= 1
    assert not state.locked(T0 + WINDOW)
    assert state.current(T0 + WINDOW).failures == 0
