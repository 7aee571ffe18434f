"""The account card is one statement (the bot reads it on every press) and shows each person
what their role allows (R5), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from telesip.domain import errors
from telesip.domain.model import Method, Role
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import fast_reads
from telesip.store.db import sqlite_reader

from .helpers import ALICE, BOB, CAROL, sip


@pytest.fixture
def selects(deps: Dependencies, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    # on a SQLite file, reads run on the loop's thread through the reader engine
    engines = [e for e in (deps.engine.sync_engine, sqlite_reader(deps.engine)) if e is not None]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
    fetch = fast_reads.fetch_processed

    async def through_the_driver(conn: Any, stmt: Any, params: Any) -> Any:
        rows = await fetch(conn, stmt, params)
        if rows is not None:  # read without SQLAlchemy's execution (store/fast_reads.py)
            seen.append(str(stmt))
        return rows

    monkeypatch.setattr(fast_reads, "fetch_processed", through_the_driver)
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", on_execute)


async def test_card_in_one_statement_for_each_role(deps: Dependencies, selects: list[str]) -> None:
    acc = await accounts.create_account(deps, ALICE, sip(display_name="Desk"))
    offer = await offers.create_offer(deps, ALICE, acc, Method.ASSIGN)
    await offers.receive(deps, BOB, offer.id)
    pending = await offers.create_offer(deps, ALICE, acc, Method.UNLINK)

    selects.clear()
    owner = await accounts.get_card(deps, ALICE, acc)
    assert len(selects) == 1
    assert owner.role is Role.OWNER and owner.summary.user_label == "@bob"
    assert owner.settings is not None and owner.settings["display_name"] == "Desk"
    assert "password" not in owner.settings
    assert owner.pending_offer is not None and owner.pending_offer.id == pending.id
    assert owner.firewall == []  # no worker runs here

    selects.clear()
    user = await accounts.get_card(deps, BOB, acc)
    assert len(selects) == 1
    assert user.role is Role.USER and user.settings is None and user.pending_offer is None
    with pytest.raises(errors.AccountNotFound):
        await accounts.get_card(deps, CAROL, acc)
    with pytest.raises(errors.AccountNotFound):
        await accounts.get_card(deps, ALICE, 999_999)
