"""Random people do random things (with the clock jumping past offer lifetimes); after every
step the database must agree with a small reference model and the R12 invariants must hold.

Runs on SQLite and PostgreSQL. The reference model is deliberately naive: a dict per account
and a list of offers, updated by the rules as PRODUCT.md states them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, text

from telesip.domain import errors
from telesip.domain.clock import FakeClock
from telesip.domain.model import Method, TelegramUser
from telesip.services import accounts, billing, offers
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from telesip.store import uow as uow_module
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

from .helpers import PASSWORD, sip

PEOPLE = [TelegramUser(2001 + i, f"P{i}") for i in range(4)]
LIMITED = PEOPLE[3]  # on the free plan: one seat, cannot assign
TTL = timedelta(seconds=300)


@dataclass
class MOffer:
    id: int
    account_id: int
    sender: int
    method: Method
    send_back: bool
    expires_at: datetime
    only_for: int | None
    state: str = "pending"
    recipient: int | None = None


@dataclass
class Model:
    accounts: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (owner, user)
    offers: dict[int, MOffer] = field(default_factory=dict)

    def owned_by(self, person: int) -> int:
        return sum(1 for owner, _ in self.accounts.values() if owner == person)

    def seat_ok(self, person: int) -> bool:
        return person != LIMITED.id or self.owned_by(person) < 1

    def pending(self, account_id: int) -> MOffer | None:
        return next(
            (
                o
                for o in self.offers.values()
                if o.account_id == account_id and o.state == "pending"
            ),
            None,
        )

    def close_pending(self, account_id: int, now: datetime, state: str) -> None:
        offer = self.pending(account_id)
        if offer is not None:
            offer.state = "expired" if now >= offer.expires_at else state


class Machine(RuleBasedStateMachine):
    backend = "sqlite"
    pg_url = ""
    tmp: Path = Path()

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.model = Model()
        self.deps = self.run(self._services())
        for person in PEOPLE:
            plan = "free" if person is LIMITED else "office"
            self.run(billing.set_subscription(self.deps, person, plan))

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    async def _services(self) -> Dependencies:
        if self.backend == "pg":
            engine = create_engine(self.pg_url)
            names = ", ".join(tb.name for tb in t.metadata.sorted_tables)
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            path = self.tmp / "stateful.db"
            path.unlink(missing_ok=True)
            engine = create_engine(f"sqlite+aiosqlite:///{path}")
            async with engine.begin() as conn:
                await conn.run_sync(t.metadata.create_all)
        return Dependencies(engine, Cipher("k"), self.clock)

    def teardown(self) -> None:
        self.run(self.deps.engine.dispose())
        self.loop.close()

    def attempt(self, coro: Coroutine[Any, Any, Any], expected: type[Exception] | None) -> Any:
        """Run a use case; it must fail with exactly ``expected``, or succeed when None."""
        try:
            result = self.run(coro)
        except errors.TelesipError as exc:
            assert expected is not None and type(exc) is expected, (
                f"got {type(exc).__name__}, model expected {expected and expected.__name__}"
            )
            return None
        assert expected is None, f"succeeded, model expected {expected.__name__}"
        return result

    # --- people's actions -------------------------------------------------------------

    @rule(who=st.sampled_from(PEOPLE))
    def create(self, who: TelegramUser) -> None:
        ok = self.model.seat_ok(who.id)
        acc = self.attempt(
            accounts.create_account(self.deps, who, sip(f"l{len(self.model.accounts)}")),
            None if ok else errors.SeatsExhausted,
        )
        if acc is not None:
            self.model.accounts[acc] = (who.id, who.id)

    def _some_account(self, data: st.DataObject) -> int:
        ids = [*sorted(self.model.accounts), 999999]
        return data.draw(st.sampled_from(ids))

    def _admin_error(self, who: int, acc: int) -> type[Exception] | None:
        if acc not in self.model.accounts:
            return errors.AccountNotFound
        owner, user = self.model.accounts[acc]
        if who == owner:
            return None
        return errors.AssignedUserLimit if who == user else errors.AccountNotFound

    @rule(who=st.sampled_from(PEOPLE), method=st.sampled_from(Method), data=st.data())
    def offer(self, who: TelegramUser, method: Method, data: st.DataObject) -> None:
        acc = self._some_account(data)
        expected = self._admin_error(who.id, acc)
        if expected is None and method is Method.ASSIGN and who is LIMITED:
            expected = errors.MethodNotAllowed
        made = self.attempt(offers.create_offer(self.deps, who, acc, method), expected)
        if made is not None:
            now = self.clock.now()
            self.model.close_pending(acc, now, "replaced")
            self.model.offers[made.id] = MOffer(
                made.id, acc, who.id, method, False, now + TTL, None
            )

    @precondition(lambda self: self.model.offers)
    @rule(who=st.sampled_from(PEOPLE), data=st.data())
    def receive(self, who: TelegramUser, data: st.DataObject) -> None:
        offer = self.model.offers[data.draw(st.sampled_from(sorted(self.model.offers)))]
        now = self.clock.now()
        expected: type[Exception] | None = None
        if offer.account_id not in self.model.accounts:
            expected = errors.OfferNotFound
        elif offer.state == "pending" and now >= offer.expires_at:
            offer.state = "expired"
            expected = errors.OfferExpired
        else:
            expected = {
                "accepted": errors.OfferAlreadyReceived,
                "replaced": errors.OfferReplaced,
                "cancelled": errors.OfferCancelled,
                "expired": errors.OfferExpired,
            }.get(offer.state)
        owner, _user = self.model.accounts.get(offer.account_id, (0, 0))
        if expected is None and who.id == offer.sender:
            expected = errors.OwnOffer
        if expected is None and offer.only_for is not None and who.id != offer.only_for:
            expected = errors.NotRecipient
        if expected is None and offer.method is Method.UNLINK and not self.model.seat_ok(who.id):
            expected = errors.SeatsExhausted
        self.attempt(offers.receive(self.deps, who, offer.id), expected)
        if expected is None:
            offer.state, offer.recipient = "accepted", who.id
            if offer.method is Method.ASSIGN:
                self.model.accounts[offer.account_id] = (owner, who.id)
            else:
                self.model.accounts[offer.account_id] = (who.id, who.id)

    @rule(who=st.sampled_from(PEOPLE), data=st.data())
    def send_back(self, who: TelegramUser, data: st.DataObject) -> None:
        acc = self._some_account(data)
        if acc not in self.model.accounts:
            self.attempt(offers.send_back(self.deps, who, acc), errors.AccountNotFound)
            return
        owner, user = self.model.accounts[acc]
        if user == who.id and owner != who.id:
            self.attempt(offers.send_back(self.deps, who, acc), None)
            self.model.accounts[acc] = (owner, owner)
            return
        if owner != who.id:
            self.attempt(offers.send_back(self.deps, who, acc), errors.AccountNotFound)
            return
        got = [
            o
            for o in self.model.offers.values()
            if o.account_id == acc
            and o.state == "accepted"
            and o.method is Method.UNLINK
            and not o.send_back
            and o.recipient == who.id
        ]
        if not got:
            self.attempt(offers.send_back(self.deps, who, acc), errors.InvalidInput)
            return
        result = self.attempt(offers.send_back(self.deps, who, acc), None)
        now = self.clock.now()
        self.model.close_pending(acc, now, "replaced")
        original = max(got, key=lambda o: o.id).sender
        self.model.offers[result.offer.id] = MOffer(
            result.offer.id, acc, who.id, Method.UNLINK, True, now + TTL, original
        )

    @rule(who=st.sampled_from(PEOPLE), right=st.booleans(), data=st.data())
    def transfer_back(self, who: TelegramUser, right: bool, data: st.DataObject) -> None:
        acc = self._some_account(data)
        password = PASSWORD if right else "wrong"
        expected: type[Exception] | None = None
        if acc not in self.model.accounts:
            expected = errors.AccountNotFound
        elif self.model.accounts[acc][0] == who.id:
            expected = errors.AlreadyYours
        elif not any(
            o.account_id == acc
            and o.state == "accepted"
            and o.method is Method.UNLINK
            and o.sender == who.id
            for o in self.model.offers.values()
        ):
            expected = errors.AccountNotFound
        elif not right:
            expected = errors.WrongPassword
        elif not self.model.seat_ok(who.id):
            expected = errors.SeatsExhausted
        self.attempt(offers.transfer_back(self.deps, who, acc, password), expected)
        if expected is None:
            self.model.close_pending(acc, self.clock.now(), "cancelled")
            self.model.accounts[acc] = (who.id, who.id)

    @rule(who=st.sampled_from(PEOPLE), data=st.data())
    def take_back(self, who: TelegramUser, data: st.DataObject) -> None:
        acc = self._some_account(data)
        expected = self._admin_error(who.id, acc)
        if expected is None and self.model.accounts[acc][1] == who.id:
            expected = errors.NotAssigned
        self.attempt(accounts.take_back(self.deps, who, acc), expected)
        if expected is None:
            self.model.accounts[acc] = (who.id, who.id)

    @rule(who=st.sampled_from(PEOPLE), data=st.data())
    def delete(self, who: TelegramUser, data: st.DataObject) -> None:
        acc = self._some_account(data)
        expected = self._admin_error(who.id, acc)
        if expected is errors.AssignedUserLimit:  # R10: the user's delete hands it back
            self.attempt(accounts.delete_account(self.deps, who, acc), None)
            owner, _ = self.model.accounts[acc]
            self.model.accounts[acc] = (owner, owner)
            return
        self.attempt(accounts.delete_account(self.deps, who, acc), expected)
        if expected is None:
            del self.model.accounts[acc]
            for o in list(self.model.offers.values()):
                if o.account_id == acc:
                    del self.model.offers[o.id]

    @rule(seconds=st.sampled_from([1, 60, 299, 300, 301, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    # --- what must hold after every step ----------------------------------------------

    @invariant()
    def database_agrees_with_model(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        now = self.clock.now()
        async with self.deps.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t.accounts.c.id, t.accounts.c.owner_id, t.accounts.c.user_id)
                )
            ).all()
            assert {r.id: (r.owner_id, r.user_id) for r in rows} == self.model.accounts
            offer_rows = (await conn.execute(select(t.offers))).all()
        live = {o.id for o in offer_rows if o.state == "pending" and o.expires_at > now}
        model_live = {
            o.id for o in self.model.offers.values() if o.state == "pending" and o.expires_at > now
        }
        assert live == model_live
        per_account = [o.account_id for o in offer_rows if o.state == "pending"]
        assert len(per_account) == len(set(per_account)), "two pending offers on one account"
        accepted = {o.id: o for o in offer_rows if o.state == "accepted"}
        assert set(accepted) == {o.id for o in self.model.offers.values() if o.state == "accepted"}
        for o in accepted.values():  # accepted once, by someone else, before expiry
            assert o.recipient_id is not None and o.recipient_id != o.sender_id
            assert o.decided_at < o.expires_at


def _run(backend: str, tmp: Path, pg_url: str = "", examples: int = 25) -> None:
    machine = type("M", (Machine,), {"backend": backend, "pg_url": pg_url, "tmp": tmp})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_random_people_keep_the_rules_sqlite(tmp_path: Path) -> None:
    _run("sqlite", tmp_path)  # writes on the loop's thread (store/loop.py)


def test_random_people_keep_the_rules_sqlite_through_aiosqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path the loop-thread writes replaced, still taken when the file is busy."""
    monkeypatch.setattr(uow_module, "sqlite_writer", lambda engine: None)
    _run("sqlite", tmp_path, examples=10)


def test_random_people_keep_the_rules_postgresql(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    _run("pg", tmp_path, request.getfixturevalue("pg_database"))
