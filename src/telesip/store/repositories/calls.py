"""Calls' storage: the history rows, the commands for the worker running a call, and the bot's
outbox. Core statements on the unit of work's connection; conditional updates make every state
change happen at most once, whichever process tries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.calls import (
    ACTIVE_STATES,
    CallRecord,
    CallState,
    CommandKind,
    Direction,
    EndReason,
)
from telesip.domain.readmodels import Command, OutboxMessage
from telesip.store import tables

_ACTIVE = [s.value for s in ACTIVE_STATES]


def _record(m: RowMapping) -> CallRecord:
    return CallRecord(
        id=m["id"],
        account_id=m["account_id"],
        owner_id=m["owner_id"],
        user_id=m["user_id"],
        direction=Direction(m["direction"]),
        number=m["number"],
        line=m["line"],
        state=CallState(m["state"]),
        created_at=m["created_at"],
        answered_at=m["answered_at"],
        ended_at=m["ended_at"],
        end_reason=EndReason(m["end_reason"]) if m["end_reason"] else None,
        sip_status=m["sip_status"],
        worker_id=m["worker_id"],
        caller=m["caller"],
        recording=m["recording"],
    )


class Calls:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        *,
        account_id: int,
        owner_id: int,
        user_id: int,
        direction: Direction,
        number: str,
        line: str,
        state: CallState,
        now: datetime,
        worker_id: int | None = None,
    ) -> CallRecord:
        result = await self.conn.execute(
            insert(tables.calls)
            .values(
                account_id=account_id,
                owner_id=owner_id,
                user_id=user_id,
                direction=direction.value,
                number=number,
                line=line,
                state=state.value,
                created_at=now,
                worker_id=worker_id,
            )
            .returning(*tables.calls.c)
        )
        return _record(result.mappings().one())

    async def lines_of(self, user_id: int) -> list[tuple[int, str, str, bool]]:
        """(id, login, domain, enabled) of the accounts a person calls from."""
        a = tables.accounts.c
        stmt = select(a.id, a.login, a.domain, a.enabled).where(a.user_id == user_id).order_by(a.id)
        return [(r.id, r.login, r.domain, bool(r.enabled)) for r in await self.conn.execute(stmt)]

    async def get(self, call_id: int) -> CallRecord | None:
        row = (
            (await self.conn.execute(select(tables.calls).where(tables.calls.c.id == call_id)))
            .mappings()
            .first()
        )
        return _record(row) if row else None

    async def running_of_worker(self, worker_id: int, call_ids: list[int]) -> list[int]:
        rows = await self.conn.execute(
            select(tables.calls.c.id).where(
                tables.calls.c.id.in_(call_ids),
                tables.calls.c.worker_id == worker_id,
                tables.calls.c.state.in_(_ACTIVE),
            )
        )
        return [int(r[0]) for r in rows]

    async def active_of_user(self, user_id: int) -> CallRecord | None:
        row = (
            (
                await self.conn.execute(
                    select(tables.calls)
                    .where(tables.calls.c.user_id == user_id, tables.calls.c.state.in_(_ACTIVE))
                    .order_by(tables.calls.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return _record(row) if row else None

    async def of_person(self, user_id: int, *, limit: int, offset: int = 0) -> list[CallRecord]:
        """The latest calls a person made or took, and those on the lines they own (newest
        first, ``offset`` of them skipped)."""
        c = tables.calls.c
        stmt = (
            select(tables.calls)
            .where(or_(c.user_id == user_id, c.owner_id == user_id))
            .order_by(c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_record(m) for m in (await self.conn.execute(stmt)).mappings()]

    async def count_of_person(self, user_id: int) -> int:
        """How many calls ``of_person`` has for this person in all."""
        c = tables.calls.c
        stmt = select(func.count()).where(or_(c.user_id == user_id, c.owner_id == user_id))
        return int((await self.conn.execute(stmt)).scalar_one())

    async def listing(
        self,
        *,
        scope: tuple[Sequence[int], Sequence[int]] | None,
        account_id: int | None,
        limit: int,
        before_id: int | None,
    ) -> list[CallRecord]:
        """Newest first; ``scope`` (owner ids, account ids) keeps the calls of those owners'
        lines and of those lines; None: every call."""
        c = tables.calls.c
        stmt = select(tables.calls).order_by(c.id.desc()).limit(limit)
        if scope is not None:
            owners, lines = scope
            stmt = stmt.where(or_(c.owner_id.in_(list(owners)), c.account_id.in_(list(lines))))
        if account_id is not None:
            stmt = stmt.where(c.account_id == account_id)
        if before_id is not None:
            stmt = stmt.where(c.id < before_id)
        return [_record(m) for m in (await self.conn.execute(stmt)).mappings()]

    async def claim_requested(
        self, worker_id: int, account_ids: Sequence[int], now: datetime
    ) -> list[CallRecord]:
        """Outgoing calls waiting on these lines become this worker's (each exactly once)."""
        if not account_ids:
            return []
        c = tables.calls.c
        result = await self.conn.execute(
            update(tables.calls)
            .where(c.state == CallState.REQUESTED.value, c.account_id.in_(list(account_ids)))
            .values(state=CallState.RINGING.value, worker_id=worker_id)
            .returning(*tables.calls.c)
        )
        return sorted((_record(m) for m in result.mappings()), key=lambda r: r.id)

    async def set_answered(self, call_id: int, now: datetime, caller: str | None) -> bool:
        c = tables.calls.c
        result = await self.conn.execute(
            update(tables.calls)
            .where(c.id == call_id, c.state.in_(_ACTIVE))
            .values(state=CallState.ANSWERED.value, answered_at=now, caller=caller)
        )
        return bool(result.rowcount)

    async def set_caller(self, call_id: int, caller: str) -> None:
        await self.conn.execute(
            update(tables.calls).where(tables.calls.c.id == call_id).values(caller=caller)
        )

    async def set_ended(
        self,
        call_id: int,
        now: datetime,
        reason: EndReason,
        sip_status: int | None,
        recording: str | None,
    ) -> CallRecord | None:
        """End an active call once; None when it had already ended."""
        c = tables.calls.c
        values: dict[str, Any] = {
            "state": CallState.ENDED.value,
            "ended_at": now,
            "end_reason": reason.value,
            "sip_status": sip_status,
        }
        if recording is not None:
            values["recording"] = recording
        result = await self.conn.execute(
            update(tables.calls)
            .where(c.id == call_id, c.state.in_(_ACTIVE))
            .values(**values)
            .returning(*tables.calls.c)
        )
        row = result.mappings().first()
        return _record(row) if row else None

    async def end_stale(
        self, *, worker_id: int | None, requested_before: datetime | None, now: datetime
    ) -> list[CallRecord]:
        """End what nobody runs any more: a restarted worker's calls, or requests that no
        worker picked up in time."""
        c = tables.calls.c
        conds = []
        if worker_id is not None:
            conds.append(and_(c.worker_id == worker_id, c.state.in_(_ACTIVE)))
        if requested_before is not None:
            conds.append(
                and_(c.state == CallState.REQUESTED.value, c.created_at < requested_before)
            )
        if not conds:
            return []
        result = await self.conn.execute(
            update(tables.calls)
            .where(or_(*conds))
            .values(
                state=CallState.ENDED.value,
                ended_at=now,
                end_reason=EndReason.UNAVAILABLE.value,
            )
            .returning(*tables.calls.c)
        )
        return [_record(m) for m in result.mappings()]

    async def with_recordings_before(self, before: datetime) -> list[CallRecord]:
        c = tables.calls.c
        stmt = select(tables.calls).where(c.recording.is_not(None), c.ended_at < before)
        return [_record(m) for m in (await self.conn.execute(stmt)).mappings()]

    async def clear_recording(self, call_id: int) -> None:
        await self.conn.execute(
            update(tables.calls).where(tables.calls.c.id == call_id).values(recording=None)
        )

    # -- commands ---------------------------------------------------------------------------
    async def add_command(self, call_id: int, kind: CommandKind, arg: str, now: datetime) -> None:
        await self.conn.execute(
            insert(tables.call_commands).values(
                call_id=call_id, kind=kind.value, arg=arg, created_at=now
            )
        )

    async def take_commands(self, call_ids: Sequence[int], now: datetime) -> list[Command]:
        """Pending commands of these calls, in order, each handed out once."""
        if not call_ids:
            return []
        cc = tables.call_commands.c
        result = await self.conn.execute(
            update(tables.call_commands)
            .where(cc.call_id.in_(list(call_ids)), cc.done_at.is_(None))
            .values(done_at=now)
            .returning(cc.id, cc.call_id, cc.kind, cc.arg)
        )
        return sorted(
            (Command(r.id, r.call_id, CommandKind(r.kind), r.arg) for r in result),
            key=lambda cmd: cmd.id,
        )

    # -- the bot's outbox --------------------------------------------------------------------
    async def enqueue(
        self,
        chat_id: int,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        due: datetime | None = None,
    ) -> None:
        await self.conn.execute(
            insert(tables.bot_outbox).values(
                chat_id=chat_id,
                kind=kind,
                payload=payload,
                created_at=now,
                next_attempt_at=due or now,
            )
        )

    async def due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Unsent messages whose time has come, oldest first. A ``bot_call`` (the bot's own call,
        deferred) waits while an older message to its chat is unsent, so they arrive in order;
        the calls' messages are never held up by an older one put back for later."""
        o = tables.bot_outbox.c
        older = tables.bot_outbox.alias("older")
        stmt = (
            select(o.id, o.chat_id, o.kind, o.payload, o.attempts)
            .where(
                o.sent_at.is_(None),
                o.next_attempt_at <= now,
                or_(
                    o.kind != "bot_call",
                    ~exists().where(
                        older.c.chat_id == o.chat_id,
                        older.c.sent_at.is_(None),
                        older.c.id < o.id,
                        older.c.next_attempt_at > now,
                    ),
                ),
            )
            .order_by(o.id)
            .limit(limit)
        )
        return [OutboxMessage(*r) for r in await self.conn.execute(stmt)]

    async def mark_sent(self, message_id: int, now: datetime, telegram_id: int | None) -> bool:
        o = tables.bot_outbox.c
        result = await self.conn.execute(
            update(tables.bot_outbox)
            .where(o.id == message_id, o.sent_at.is_(None))
            .values(sent_at=now, message_id=telegram_id)
        )
        return bool(result.rowcount)

    async def retry_later(self, message_id: int, when: datetime) -> None:
        o = tables.bot_outbox.c
        await self.conn.execute(
            update(tables.bot_outbox)
            .where(o.id == message_id)
            .values(attempts=o.attempts + 1, next_attempt_at=when)
        )

    async def keypad_message(self, chat_id: int, call_id: int) -> int | None:
        """The Telegram message id of the keypad sent for a call (to take it away after)."""
        o = tables.bot_outbox.c
        stmt = (
            select(o.message_id, o.payload)
            .where(o.chat_id == chat_id, o.kind == "keypad", o.sent_at.is_not(None))
            .order_by(o.id.desc())
            .limit(20)
        )
        for message_id, payload in await self.conn.execute(stmt):
            if isinstance(payload, dict) and payload.get("call_id") == call_id:
                return int(message_id) if message_id is not None else None
        return None

    async def prune_outbox(self, before: datetime) -> int:
        o = tables.bot_outbox.c
        result = await self.conn.execute(
            delete(tables.bot_outbox).where(
                or_(o.sent_at < before, and_(o.sent_at.is_(None), o.created_at < before))
            )
        )
        return int(result.rowcount or 0)

    async def count_active(self, worker_id: int) -> int:
        c = tables.calls.c
        stmt = select(func.count()).where(c.worker_id == worker_id, c.state.in_(_ACTIVE))
        return int((await self.conn.execute(stmt)).scalar_one())
