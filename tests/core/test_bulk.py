"""Bulk use cases (services/bulk.py) on SQLite and PostgreSQL: links for many accounts, disable /
enable / delete many, assign many from a file; every one all or nothing, audited per account,
through the one-account rules (owner only, office plan, seats, one enabled copy of a line)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from telesip.domain import errors, events
from telesip.domain.model import Payer, TelegramUser
from telesip.i18n import error_text
from telesip.services import accounts, billing, bulk, links, people
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t

from .helpers import ALICE, BOB, CAROL, DAVE, Recorder, sip


async def _make(deps: Dependencies, n: int, owner: TelegramUser = ALICE) -> list[int]:
    return [await accounts.create_account(deps, owner, sip(f"{500 + i}")) for i in range(n)]


async def _audit(deps: Dependencies, action: str) -> int:
    async with deps.engine.connect() as conn:
        q = select(func.count()).select_from(t.audit).where(t.audit.c.action == action)
        return int(await conn.scalar(q) or 0)


async def test_links_for_many_accounts_in_one_go(deps: Dependencies) -> None:
    ids = await _make(deps, 5)
    await accounts.reassign(deps, ALICE, ids[0], BOB)  # assigned: not "unassigned"
    await accounts.set_enabled(deps, ALICE, ids[1], False)  # disabled: not handed out
    group = [a.id for a in await bulk.group(deps, ALICE, ALICE.id, "unassigned")]
    assert group == ids[2:]
    made = await bulk.create_links(deps, ALICE, ALICE.id, group)
    assert [m.account_id for m in made] == group
    assert len({m.token for m in made}) == 3 and all(m.login.startswith("5") for m in made)
    assert await _audit(deps, "link_created") == 3
    # the accounts moved to the links section; each link opens like a single one
    assert {a.id for a in (await accounts.softphone(deps, ALICE)).owned} == set(ids[:2])
    opened = await links.open_link(deps, CAROL, made[0].token)
    assert opened.account_id == group[0]
    # again: new links replace the unused ones (one live link per account)
    again = await bulk.create_links(deps, ALICE, ALICE.id, group[1:])
    with pytest.raises(errors.LinkRevoked):
        await links.open_link(deps, DAVE, made[1].token)
    await links.open_link(deps, DAVE, again[0].token)


async def test_a_foreign_id_changes_nothing(deps: Dependencies) -> None:
    mine = await _make(deps, 3)
    theirs = await accounts.create_account(deps, BOB, sip("900"))
    assigned_to_me = await accounts.create_account(deps, BOB, sip("901"))
    await accounts.reassign(deps, BOB, assigned_to_me, ALICE)
    for foreign, kind in (
        (theirs, errors.AccountNotFound),
        (assigned_to_me, errors.AssignedUserLimit),
    ):
        for call in (
            bulk.create_links(deps, ALICE, ALICE.id, [*mine, foreign]),
            bulk.set_enabled(deps, ALICE, ALICE.id, [*mine, foreign], False),
            bulk.delete(deps, ALICE, ALICE.id, [*mine, foreign]),
        ):
            with pytest.raises(kind):
                await call
    with pytest.raises(errors.AccountNotFound):
        await bulk.set_enabled(deps, ALICE, ALICE.id, [*mine, 999_999], False)
    with pytest.raises(errors.PermissionDenied):  # acting for someone else
        await bulk.set_enabled(deps, ALICE, BOB.id, [theirs], False)
    soft = await accounts.softphone(deps, ALICE)
    assert {a.id for a in soft.owned} == set(mine) and all(a.enabled for a in soft.owned)
    assert await _audit(deps, "disabled") == 0 and await _audit(deps, "link_created") == 0


async def test_disable_enable_delete_many(deps: Dependencies) -> None:
    rec = Recorder(deps)
    ids = await _make(deps, 4)
    await accounts.reassign(deps, ALICE, ids[0], BOB)
    await accounts.set_enabled(deps, ALICE, ids[3], False)
    done = await bulk.set_enabled(deps, ALICE, ALICE.id, ids, False)
    assert done.changed == tuple(ids[:3]) and done.unchanged == (ids[3],)
    disabled = rec.of(events.AccountDisabled)
    assert [e.account_id for e in disabled][-3:] == ids[:3]
    assert await _audit(deps, "disabled") == 4  # 1 single + 3 bulk
    done = await bulk.set_enabled(deps, None, ALICE.id, ids, True)  # the operator
    assert done.changed == tuple(ids)
    assert all(a.enabled for a in (await accounts.softphone(deps, ALICE)).owned)
    gone = await bulk.delete(deps, ALICE, ALICE.id, ids[:2])
    assert gone.changed == tuple(ids[:2])
    deleted = rec.of(events.AccountDeleted)
    assert [(e.account_id, e.user_id) for e in deleted] == [(ids[0], BOB.id), (ids[1], ALICE.id)]
    assert {a.id for a in (await accounts.softphone(deps, ALICE)).owned} == set(ids[2:])


async def test_enabling_a_copy_of_a_connected_line_refuses_the_whole_batch(
    deps: Dependencies,
) -> None:
    ids = await _make(deps, 3)
    await bulk.set_enabled(deps, ALICE, ALICE.id, ids, False)
    copy = await accounts.create_account(deps, BOB, sip("501"))  # ids[1]'s line, now enabled
    with pytest.raises(errors.LineConnected):
        await bulk.set_enabled(deps, ALICE, ALICE.id, ids, True)
    assert not any(a.enabled for a in (await accounts.softphone(deps, ALICE)).owned)
    await accounts.set_enabled(deps, BOB, copy, False)
    # two copies of one line in the same batch: one would register, so neither is enabled
    twin = await accounts.create_account(deps, ALICE, sip("500"))
    await accounts.set_enabled(deps, ALICE, twin, False)
    with pytest.raises(errors.LineConnected):
        await bulk.set_enabled(deps, ALICE, ALICE.id, [*ids, twin], True)
    assert (await bulk.set_enabled(deps, ALICE, ALICE.id, ids, True)).changed == tuple(ids)


async def test_links_need_the_office_plan(deps: Dependencies) -> None:
    ids = await _make(deps, 2, owner=BOB)
    await billing.set_subscription(deps, BOB, "softphone", 5)  # replaces the office plan
    with pytest.raises(errors.MethodNotAllowed):
        await bulk.create_links(deps, BOB, BOB.id, ids)
    assert await _audit(deps, "link_created") == 0


def _file(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


async def test_assign_many_from_a_file(deps: Dependencies) -> None:
    ids = await _make(deps, 3)
    for who in (BOB, CAROL, DAVE):
        await people.remember(deps, who)  # they started the bot
    text = f"account;user\n#{ids[0]};@Bob\n{ids[2]};@dave\n"
    done = await bulk.assign_file(deps, ALICE, ALICE.id, _file(text, "utf-8-sig"))
    assert done.changed == (ids[0], ids[2])
    by_login = f"login\tuser\n501\t{CAROL.id}\n"  # under "login", digits are a login
    assert (await bulk.assign_file(deps, ALICE, ALICE.id, _file(by_login))).changed == (ids[1],)
    text += by_login.split("\n", 1)[1].replace("\t", ";").replace("501", f"#{ids[1]}")
    assert [(await accounts.get_card(deps, None, i)).summary.user_id for i in ids] == [
        BOB.id,
        CAROL.id,
        DAVE.id,
    ]
    again = await bulk.assign_file(deps, ALICE, ALICE.id, _file(text))  # idempotent
    assert again.changed == () and again.unchanged == (ids[0], ids[2], ids[1])
    assert await _audit(deps, "reassigned") == 3


@pytest.mark.parametrize(
    ("text", "reason", "line"),
    [
        ("account,user\n{a0},@bob\n{a1},@nobody_here\n", "unknown_user", 3),
        ("{a0},@bob\n424242,@bob\n", "unknown_account", 2),
        ("{a0},@bob\n{theirs},@bob\n", "unknown_account", 2),  # someone else's id
        ("{a0},@bob\nno-such-login,@bob\n", "unknown_account", 2),
        ("login,user\n{a0},@bob\n", "unknown_account", 2),  # an id is no login
        ("{a0},@bob\n{a0},1003\n", "repeated", 2),
        ("{a0},@bob,extra\n", "bad_row", 1),
        ("{a0},bob smith\n", "bad_user", 1),
        ("account,user\n", "empty", 0),
    ],
)
async def test_a_bad_assignment_file_assigns_nothing(
    deps: Dependencies, text: str, reason: str, line: int
) -> None:
    ids = await _make(deps, 2)
    theirs = await accounts.create_account(deps, BOB, sip("777"))
    await people.remember(deps, CAROL)
    await people.remember(deps, BOB)
    body = text.format(a0=ids[0], a1=ids[1], theirs=theirs)
    with pytest.raises(errors.BadAssignments) as caught:
        await bulk.assign_file(deps, ALICE, ALICE.id, _file(body))
    assert caught.value.params["reason"] == reason and caught.value.params["line"] == line
    assert "Nothing was assigned" in caught.value.message
    assert "Ничего не назначено" in error_text("ru", caught.value)
    assert await _audit(deps, "reassigned") == 0
    assert not any(a.assigned for a in (await accounts.softphone(deps, ALICE)).owned)


async def test_a_file_that_is_not_text_or_too_long_is_refused(deps: Dependencies) -> None:
    await _make(deps, 1)
    cases = [
        (b"PK\x03\x04" + b"\x00" * 50, "not_text"),
        ("500,@bob\n".encode("utf-16-le"), "bad_encoding"),  # UTF-16 without its mark
        (b"".join(b"%d,@bob\n" % (i + 1) for i in range(5001)), "too_many"),
    ]
    for blob, reason in cases:
        with pytest.raises(errors.BadAssignments) as caught:
            await bulk.assign_file(deps, ALICE, ALICE.id, io.BytesIO(blob))
        assert caught.value.params["reason"] == reason
    # Windows-1251 (a Russian spreadsheet) is read: the header is found, the user unknown
    with pytest.raises(errors.BadAssignments) as caught:
        await bulk.assign_file(
            deps, ALICE, ALICE.id, _file("аккаунт;пользователь\n500;@zz_top\n", "cp1251")
        )
    assert caught.value.params["reason"] == "unknown_user" and caught.value.params["line"] == 2


async def test_assigning_per_account_paid_accounts_needs_seats_for_all(deps: Dependencies) -> None:
    await billing.set_subscription(deps, ALICE, "office", 1)
    await billing.set_subscription(deps, ALICE, "softphone-start", 5, add=True)
    ids = await _make(deps, 3)  # one seat, then two Softphone-Start places
    payers = [(await accounts.get_card(deps, None, i)).summary.payer for i in ids]
    assert payers.count(Payer.START) == 2
    await people.remember(deps, BOB)
    rows = [bulk.Assignment(n + 1, i, BOB.id) for n, i in enumerate(ids)]
    with pytest.raises(errors.SeatsExhausted):
        await bulk.assign(deps, ALICE, ALICE.id, rows)
    assert not any(a.assigned for a in (await accounts.softphone(deps, ALICE)).owned)
