"""Calls' use cases: people dial, press keys, hang up and read their history (bot, API); the
worker running a line records what its calls did and asks the bot to tell people.

Every call has one history row. An outgoing call starts as a ``requested`` row that the worker
holding the line claims; keys and hang-ups pressed in the bot become ``call_commands`` that the
worker takes; what the worker wants said in Telegram goes through the bot's outbox. So the bot,
the API and the workers can be separate processes sharing only the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telesip.domain import errors
from telesip.domain.calls import (
    CallRecord,
    CallState,
    CommandKind,
    Direction,
    EndReason,
    parse_number,
    rewrite_number,
)
from telesip.domain.errors import CallNotFound, LineBusy, LineDisabled, NoLines, NotYourLine
from telesip.domain.model import TelegramUser
from telesip.domain.readmodels import Command
from telesip.services import outbox
from telesip.services.common import ensure_user, load_account
from telesip.services.dependencies import Dependencies
from telesip.store.uow import UnitOfWork

log = logging.getLogger(__name__)
KEYS = frozenset("0123456789*#ABCD")
REQUEST_TIMEOUT = timedelta(seconds=60)  # an outgoing request no worker picked up by then fails


@dataclass(frozen=True, slots=True)
class Line:
    account_id: int
    login: str
    domain: str
    enabled: bool


def _details(call: CallRecord) -> dict[str, Any]:
    """What the audit record (and so a webhook) says about a call: never a secret."""
    out: dict[str, Any] = {
        "call_id": call.id,
        "direction": call.direction.value,
        "number": call.number,
        "user_id": call.user_id,
    }
    if call.state is CallState.ENDED:
        out["reason"] = call.end_reason.value if call.end_reason else None
        out["duration"] = call.duration
        if call.sip_status is not None:
            out["sip_status"] = call.sip_status
    return out


# -- people ----------------------------------------------------------------------------------
async def lines(deps: Dependencies, actor: TelegramUser) -> list[Line]:
    """The lines a person calls from: accounts whose user they are (assigned, or own and not
    assigned to anyone)."""
    async with deps.uow(readonly=True) as uow:
        return [Line(*row) for row in await uow.calls.lines_of(actor.id)]


async def request_call(
    deps: Dependencies, actor: TelegramUser, number_text: str, account_id: int
) -> CallRecord:
    """Dial ``number_text`` through a line: the worker holding it calls the person in Telegram
    first, then the number. The line's rewrite rules apply to the number."""
    number = parse_number(number_text)
    async with deps.uow() as uow:
        await ensure_user(deps, uow, actor)
        account = await load_account(uow, account_id)
        if account.user_id != actor.id:
            raise NotYourLine(account_id=account_id)
        if not account.enabled:
            raise LineDisabled(account_id=account_id)
        repo = uow.calls
        if await repo.active_of_user(actor.id) is not None:
            raise LineBusy()
        dialled = rewrite_number(number, account.settings.rewrite_rules)
        call = await repo.add(
            account_id=account.id,
            owner_id=account.owner_id,
            user_id=actor.id,
            direction=Direction.OUT,
            number=dialled,
            line=account.settings.login,
            state=CallState.REQUESTED,
            now=uow.now,
        )
        await uow.record("call_requested", account.id, actor.id, _details(call))
        await uow.commit()
    return call


async def request_call_for_user_of(
    deps: Dependencies, account_id: int, number_text: str
) -> CallRecord:
    """Click to call (the HTTP API): the line's user is the one who talks."""
    async with deps.uow(readonly=True) as uow:
        account = await load_account(uow, account_id, lock=False)
        user = await uow.users.get(account.user_id)
    actor = user or TelegramUser(account.user_id, "", None, None)
    return await request_call(deps, actor, number_text, account_id)


async def only_line(deps: Dependencies, actor: TelegramUser) -> Line | None:
    """The line to dial from when the person has exactly one enabled line; None when they must
    choose. No line at all is an error they can act on."""
    usable = [line for line in await lines(deps, actor) if line.enabled]
    if not usable:
        raise NoLines()
    return usable[0] if len(usable) == 1 else None


async def recent_calls(
    deps: Dependencies, actor: TelegramUser, *, limit: int = 10
) -> list[CallRecord]:
    async with deps.uow(readonly=True) as uow:
        return await uow.calls.of_person(actor.id, limit=limit)


@dataclass(frozen=True)
class HistoryPage:
    """One page of a person's calls (newest first): page ``page`` (from 0) of those calls,
    ``total`` calls in all."""

    calls: list[CallRecord]
    total: int
    page: int


async def history_page(
    deps: Dependencies, actor: TelegramUser, *, page: int, size: int
) -> HistoryPage:
    """/calls: a page of ``size`` of the person's calls and how many there are (one snapshot);
    a page past the end is the last one."""
    async with deps.uow(readonly=True) as uow:
        total = await uow.calls.count_of_person(actor.id)
        page = min(max(page, 0), max(0, (total - 1) // size))
        found = await uow.calls.of_person(actor.id, limit=size, offset=page * size)
    return HistoryPage(found, total, page)


async def _own_active_call(uow: UnitOfWork, actor_id: int, call_id: int) -> CallRecord:
    call = await uow.calls.get(call_id)
    if call is None or call.user_id != actor_id or not call.active:
        raise CallNotFound()
    return call


async def press_key(deps: Dependencies, actor: TelegramUser, call_id: int, key: str) -> None:
    """A keypad press during an answered call: the worker sends it as a DTMF event."""
    if key not in KEYS:
        raise errors.InvalidInput(f"{key!r} is not a key of the keypad.")
    async with deps.uow() as uow:
        call = await _own_active_call(uow, actor.id, call_id)
        if call.state is not CallState.ANSWERED:
            raise CallNotFound()
        await uow.calls.add_command(call.id, CommandKind.DTMF, key, uow.now)
        await uow.commit()


async def hold(deps: Dependencies, actor: TelegramUser, call_id: int, *, on: bool) -> None:
    """Hold (``on``) or resume an answered call from the bot: the worker running it sends the
    re-INVITE (sendonly, then sendrecv)."""
    async with deps.uow() as uow:
        call = await _own_active_call(uow, actor.id, call_id)
        if call.state is not CallState.ANSWERED:
            raise CallNotFound()
        kind = CommandKind.HOLD if on else CommandKind.RESUME
        await uow.calls.add_command(call.id, kind, "", uow.now)
        await uow.commit()


async def hang_up(deps: Dependencies, actor: TelegramUser, call_id: int) -> None:
    """End a call from the bot: a request no worker took yet ends at once; otherwise the
    worker running it hangs up both legs."""
    async with deps.uow() as uow:
        call = await _own_active_call(uow, actor.id, call_id)
        repo = uow.calls
        if call.state is CallState.REQUESTED:
            ended = await repo.set_ended(call.id, uow.now, EndReason.CANCELLED, None, None)
            if ended is not None:
                await uow.record("call_ended", call.account_id, actor.id, _details(ended))
        else:
            await repo.add_command(call.id, CommandKind.HANGUP, "", uow.now)
        await uow.commit()


async def call_history(
    deps: Dependencies,
    *,
    scope: tuple[list[int], list[int]] | None,
    account_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[CallRecord]:
    """The HTTP API's listing: ``scope`` is (owner ids, account ids) an API key covers, None
    for an operator's key over everything."""
    async with deps.uow(readonly=True) as uow:
        return await uow.calls.listing(
            scope=scope, account_id=account_id, limit=limit, before_id=before_id
        )


async def get_call(deps: Dependencies, call_id: int) -> CallRecord:
    async with deps.uow(readonly=True) as uow:
        call = await uow.calls.get(call_id)
    if call is None:
        raise CallNotFound()
    return call


# -- the worker running the line ---------------------------------------------------------------
async def claim_outgoing(
    deps: Dependencies, worker_id: int, account_ids: list[int]
) -> list[CallRecord]:
    """Requests waiting on this worker's lines, each handed to exactly one worker; requests
    nobody took within a minute end as unavailable (the person is told)."""
    async with deps.uow() as uow:
        repo = uow.calls
        for stale in await repo.end_stale(
            worker_id=None, requested_before=uow.now - REQUEST_TIMEOUT, now=uow.now
        ):
            await uow.record("call_ended", stale.account_id, None, _details(stale))
            await repo.enqueue(
                stale.user_id, "text", {"key": "call.unavailable", "params": {}}, uow.now
            )
        claimed = await repo.claim_requested(worker_id, account_ids, uow.now)
        await uow.commit()
    return claimed


async def start_incoming(
    deps: Dependencies, account_id: int, number: str, worker_id: int
) -> tuple[CallRecord, Any]:
    """Record a call arriving on a line; returns it and the account (None when the line no
    longer exists). A disabled line, or a user already in a call, gets the call recorded as
    ended at once with the reason (the worker answers 480 / 486)."""
    async with deps.uow() as uow:
        account = await uow.accounts.get(account_id, lock=False)
        repo = uow.calls
        if account is None:
            raise errors.AccountNotFound(account_id=account_id)
        reason: EndReason | None = None
        if not account.enabled:
            reason = EndReason.UNAVAILABLE
        elif await repo.active_of_user(account.user_id) is not None:
            reason = EndReason.BUSY
        call = await repo.add(
            account_id=account.id,
            owner_id=account.owner_id,
            user_id=account.user_id,
            direction=Direction.IN,
            number=number[:64],
            line=account.settings.login,
            state=CallState.RINGING,
            now=uow.now,
            worker_id=worker_id,
        )
        if reason is not None:
            ended = await repo.set_ended(call.id, uow.now, reason, None, None)
            assert ended is not None
            call = ended
            if reason is EndReason.BUSY:
                await repo.enqueue(
                    call.user_id,
                    "text",
                    {"key": "call.missed_busy", "params": outbox.call_params(call)},
                    uow.now,
                )
        await uow.record(
            "call_ended" if reason else "call_started", account.id, None, _details(call)
        )
        await uow.commit()
    return call, account


async def mark_answered(deps: Dependencies, call_id: int, caller: str | None) -> bool:
    async with deps.uow() as uow:
        ok = await uow.calls.set_answered(call_id, uow.now, caller)
        await uow.commit()
    return ok


async def mark_ended(
    deps: Dependencies,
    call_id: int,
    reason: EndReason,
    *,
    sip_status: int | None = None,
    recording: str | None = None,
    tell: str | None = None,
) -> CallRecord | None:
    """Close the history row once (None when it was closed already) and, with ``tell``, send
    the person that message (a catalog key: call.missed, call.ended, ...). A ``recording`` is
    named on the row and sent to the line's owner in the same transaction."""
    async with deps.uow() as uow:
        repo = uow.calls
        call = await repo.set_ended(call_id, uow.now, reason, sip_status, recording)
        if call is not None:
            await uow.record("call_ended", call.account_id, None, _details(call))
            await repo.enqueue(call.user_id, "drop_keypad", {"call_id": call.id}, uow.now)
            if tell is not None:
                await repo.enqueue(
                    call.user_id, "text", {"key": tell, "params": outbox.call_params(call)}, uow.now
                )
            if recording is not None:
                await outbox.recording_message(repo, call, recording, uow.now)
        await uow.commit()
    return call


async def end_orphans(deps: Dependencies, worker_id: int) -> int:
    """A (re)started worker ends the calls its previous run left open: nobody runs them now."""
    async with deps.uow() as uow:
        repo = uow.calls
        stale = await repo.end_stale(worker_id=worker_id, requested_before=None, now=uow.now)
        for call in stale:
            await uow.record("call_ended", call.account_id, None, _details(call))
        await uow.commit()
    return len(stale)


async def take_commands(deps: Dependencies, call_ids: list[int]) -> list[Command]:
    if not call_ids:
        return []
    async with deps.uow() as uow:
        cmds = await uow.calls.take_commands(call_ids, uow.now)
        await uow.commit()
    return cmds


async def call_of_worker(deps: Dependencies, worker_id: int, call_id: int) -> CallRecord:
    """A call this worker runs; CallNotFound for any other (a remote worker's request names
    only its own calls)."""
    call = await get_call(deps, call_id)
    if call.worker_id != worker_id:
        raise CallNotFound()
    return call


async def calls_of_worker(deps: Dependencies, worker_id: int, call_ids: list[int]) -> list[int]:
    """Those of ``call_ids`` that this worker runs and that have not ended."""
    if not call_ids:
        return []
    async with deps.uow(readonly=True) as uow:
        return await uow.calls.running_of_worker(worker_id, call_ids)
