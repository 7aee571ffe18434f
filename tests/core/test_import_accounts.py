"""The import use case on SQLite and PostgreSQL: each sample format imported, dry run, re-import
idempotence, a changed password updated and audited without it, seats all or nothing, accounts
another owner holds (R11), Telegram users assigned or reported, and no password in a log."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from telesip.domain import errors
from telesip.domain.clock import FakeClock
from telesip.domain.model import Payer, TelegramUser
from telesip.importing import Action, Limits
from telesip.services import accounts, audit, billing, imports, people
from telesip.services.dependencies import Dependencies
from tests.core.helpers import ALICE, CAROL, sip
from tests.importing.helpers import SERVER, sample

BORIS = TelegramUser(1010, "Boris", "boris_k", "en")
CSV = (
    b"login;password;server;display_name;telegram\n"
    b"101;one-pass;pbx.example.com;Desk 1;\n"
    b"102;two-pass;pbx.example.com;;@Boris_K\n"
    b"103;three-pass;pbx.example.com;Desk 3;999\n"
)


async def run(
    deps: Dependencies,
    data: bytes,
    *,
    server: str | None = None,
    dry_run: bool = False,
    **kw: object,
) -> imports.ImportOutcome:
    return await imports.import_accounts(
        deps,
        ALICE,
        io.BytesIO(data),
        server=server,
        dry_run=dry_run,
        **kw,  # type: ignore[arg-type]
    )


async def owned(deps: Dependencies) -> dict[str, int]:
    return {a.login: a.id for a in (await accounts.softphone(deps, ALICE)).owned}


@pytest.mark.parametrize(
    ("name", "server"),
    [
        ("accounts_utf8_bom.csv", None),
        ("accounts_cp1251.csv", None),
        ("accounts_utf16.txt", None),
        ("freepbx_extensions.csv", SERVER),
        ("pjsip.conf", SERVER),
        ("sip.conf", SERVER),
    ],
)
async def test_each_sample_format_imports_and_reimports_as_identical(
    deps: Dependencies, name: str, server: str | None
) -> None:
    first = await run(deps, sample(name), server=server, filename=name)
    assert first.applied and not first.plan.refused
    n = first.plan.counts.new
    assert n >= 3 and len(first.created) == n
    assert len(await owned(deps)) == n
    again = await run(deps, sample(name), server=server, filename=name)
    assert again.plan.counts.new == again.plan.counts.changed == 0
    assert again.plan.counts.identical == n
    assert not again.applied and again.created == again.updated == ()
    assert len(await owned(deps)) == n


async def test_dry_run_writes_nothing(deps: Dependencies) -> None:
    outcome = await run(deps, CSV, dry_run=True)
    assert not outcome.applied and outcome.plan.counts.new == 3
    assert outcome.summary().startswith("3 new, 0 changed, 0 identical skipped")
    assert await owned(deps) == {}
    assert await audit.account_audit(deps, None, 1) == []


async def test_changed_password_updates_and_is_audited_without_it(
    deps: Dependencies, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await run(deps, CSV)
    ids = await owned(deps)
    changed = CSV.replace(b"two-pass", b"new;secret,pw").replace(b"102;new", b'102;"new')
    changed = changed.replace(b"secret,pw;", b'secret,pw";')
    outcome = await run(deps, changed)
    assert (outcome.plan.counts.changed, outcome.plan.counts.identical) == (1, 2)
    assert outcome.updated == (ids["102"],)
    card = await accounts.get_card(deps, None, ids["102"])
    assert card.settings is not None and card.settings["login"] == "102"
    account = await _account(deps, ids["102"])
    assert account.settings.password.reveal() == "new;secret,pw"
    records = await audit.account_audit(deps, None, ids["102"])
    change = [r for r in records if r.action == "settings_changed"]
    assert change and change[0].details["fields"] == ["password"]
    everything = repr([r.details for r in records]) + caplog.text
    for secret in ("two-pass", "new;secret,pw", "one-pass"):
        assert secret not in everything


async def _account(deps: Dependencies, account_id: int) -> object:
    async with deps.uow(readonly=True) as uow:
        found = await uow.accounts.get(account_id)
    assert found is not None
    return found


async def test_seats_are_checked_for_the_whole_import(deps: Dependencies) -> None:
    await people.remember(deps, ALICE)
    await billing.set_subscription(deps, ALICE, "office", 2)
    await accounts.create_account(deps, ALICE, sip("900"))
    preview = await run(deps, CSV, dry_run=True)
    assert (preview.free_seats, preview.missing_seats) == (1, 2)
    assert "2 seats missing" in preview.summary()
    with pytest.raises(errors.SeatsMissing) as caught:
        await run(deps, CSV)
    assert caught.value.params == {"needed": 3, "free": 1, "missing": 2}
    assert "missing: 2" in caught.value.message
    assert set(await owned(deps)) == {"900"}  # nothing of the import was written
    await billing.set_subscription(deps, ALICE, "office", 4)
    outcome = await run(deps, CSV)
    assert len(outcome.created) == 3
    payers = {a.login: a.payer for a in (await accounts.softphone(deps, ALICE)).owned}
    assert set(payers.values()) == {Payer.OWNER_PLAN}


async def test_another_owners_account_is_taken_never_duplicated(deps: Dependencies) -> None:
    await accounts.create_account(deps, CAROL, sip("101", password="carols"))
    outcome = await run(deps, CSV)
    taken = [p for p in outcome.plan.rows if p.action is Action.TAKEN]
    assert [p.row.settings.login for p in taken if p.row] == ["101"]
    assert set(await owned(deps)) == {"102", "103"}
    assert "1 already connected by another owner" in outcome.summary()


async def test_telegram_users_are_assigned_when_known(deps: Dependencies) -> None:
    await people.remember(deps, BORIS)
    outcome = await run(deps, CSV)
    assert outcome.assigned == 1
    assert [(u.line, u.telegram) for u in outcome.unassigned] == [(4, 999)]
    assigned = await accounts.assigned_to(deps, BORIS)
    assert [a.login for a in assigned] == ["102"]


async def test_the_operator_imports_for_a_known_owner_only(deps: Dependencies) -> None:
    with pytest.raises(errors.UserNotFound):
        await imports.import_accounts(deps, None, io.BytesIO(CSV), owner_id=ALICE.id)
    await people.remember(deps, ALICE)
    outcome = await imports.import_accounts(deps, None, io.BytesIO(CSV), owner_id=ALICE.id)
    assert len(outcome.created) == 3 and len(await owned(deps)) == 3


async def test_a_refused_file_is_an_answer_and_changes_nothing(deps: Dependencies) -> None:
    outcome = await run(deps, b"\x00\x01binary\xff" * 10)
    assert outcome.plan.refused and not outcome.applied
    assert outcome.plan.issues[0].code == "import.bad_encoding"
    big = b"login;password;server\n" + b"".join(b"%d;pw;h.example\n" % i for i in range(200))
    outcome = await run(deps, big, limits=Limits(max_rows=100))
    assert outcome.plan.issues[0].code == "import.too_many_rows"
    assert await owned(deps) == {}


async def test_a_pending_import_is_applied_once_under_concurrent_presses(
    deps: Dependencies,
) -> None:
    """Two Import presses at once (two bot processes): one writes, the other finds it gone."""
    chat = ALICE.id
    preview = await imports.stage_import(deps, ALICE, chat, CSV, filename="a.csv")
    assert preview.plan.counts.new == 3 and not preview.applied
    results = await asyncio.gather(
        imports.confirm_import(deps, ALICE, chat),
        imports.confirm_import(deps, ALICE, chat),
        return_exceptions=True,
    )
    applied = [r for r in results if isinstance(r, imports.ImportOutcome) and r.applied]
    refused = [r for r in results if isinstance(r, errors.TelesipError)]
    assert len(applied) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], errors.ImportGone | errors.ConflictError)
    assert len(await owned(deps)) == 3
    with pytest.raises(errors.ImportGone):
        await imports.confirm_import(deps, ALICE, chat)


async def test_a_pending_import_expires_and_belongs_to_its_sender(
    deps: Dependencies, clock: FakeClock
) -> None:
    await imports.stage_import(deps, ALICE, 555, CSV)
    with pytest.raises(errors.ImportGone):
        await imports.confirm_import(deps, CAROL, 555)  # not the sender
    clock.advance(imports.PENDING_TTL.total_seconds() + 1)
    with pytest.raises(errors.ImportGone):
        await imports.confirm_import(deps, ALICE, 555)
    assert await owned(deps) == {}
    await imports.stage_import(deps, ALICE, 555, CSV)
    assert await imports.cancel_import(deps, 555) is True
    with pytest.raises(errors.ImportGone):
        await imports.confirm_import(deps, ALICE, 555)
