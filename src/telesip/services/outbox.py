"""What a call's worker wants said in Telegram, and the bot's outbox that carries it: the worker
(or any process) writes a message for a person; the bot, wherever it runs, sends it and marks
it sent. Messages are catalog keys with parameters, so each is said in the person's language.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telesip.domain.calls import (
    CallRecord,
)
from telesip.domain.readmodels import OutboxMessage
from telesip.services.dependencies import Dependencies
from telesip.store.repositories.calls import Calls


def call_params(call: CallRecord) -> dict[str, Any]:
    """Parameters every call message may use."""
    return {
        "call_id": call.id,
        "number": call.number,
        "line_id": call.account_id,
        "line": call.line,
        "duration": round(call.duration) if call.duration is not None else 0,
        "status": call.sip_status or 0,
    }


async def tell(deps: Dependencies, call: CallRecord, key: str, /, **extra: Any) -> None:
    """Ask the bot to send the call's person a catalog message (in their language)."""
    async with deps.uow() as uow:
        await uow.calls.enqueue(
            call.user_id, "text", {"key": key, "params": {**call_params(call), **extra}}, uow.now
        )
        await uow.commit()


async def show_keypad(deps: Dependencies, call: CallRecord) -> None:
    async with deps.uow() as uow:
        await uow.calls.enqueue(
            call.user_id, "keypad", {"call_id": call.id, "params": call_params(call)}, uow.now
        )
        await uow.commit()


async def send_recording(deps: Dependencies, call: CallRecord, file_name: str) -> None:
    """The recording goes to the line's owner, with caller, callee and duration."""
    async with deps.uow() as uow:
        await recording_message(uow.calls, call, file_name, uow.now)
        await uow.commit()


async def recording_message(repo: Calls, call: CallRecord, file_name: str, now: datetime) -> None:
    payload = {"file": file_name, "key": "call.recording", "params": call_params(call)}
    await repo.enqueue(call.owner_id, "document", payload, now)


async def due(deps: Dependencies, *, limit: int = 50) -> list[OutboxMessage]:
    async with deps.uow(readonly=True) as uow:
        return await uow.calls.due(uow.now, limit)


async def put(
    deps: Dependencies, chat_id: int, kind: str, payload: dict[str, Any], delay: float = 0.0
) -> None:
    """Queue a message for the bot's outbox, to be sent ``delay`` seconds from now at the
    earliest (the bot defers a call here when Telegram's pace would hold a handler too long)."""
    async with deps.uow() as uow:
        due = uow.now + timedelta(seconds=max(delay, 0.0))
        await uow.calls.enqueue(chat_id, kind, payload, uow.now, due)
        await uow.commit()


async def sent(deps: Dependencies, message_id: int, telegram_id: int | None) -> bool:
    async with deps.uow() as uow:
        ok = await uow.calls.mark_sent(message_id, uow.now, telegram_id)
        await uow.commit()
    return ok


async def retry(deps: Dependencies, message_id: int, delay: float) -> None:
    async with deps.uow() as uow:
        await uow.calls.retry_later(message_id, uow.now + timedelta(seconds=delay))
        await uow.commit()


async def keypad_of(deps: Dependencies, chat_id: int, call_id: int) -> int | None:
    async with deps.uow(readonly=True) as uow:
        return await uow.calls.keypad_message(chat_id, call_id)
