"""/bulk: an owner's accounts by the group (links for all not handed out, disable all enabled or
unused, enable or delete all disabled), each after a "Disable 37 accounts?" question; and a
CSV file sent with the caption ``/assign`` (or ``assign``) assigns many accounts (docs/bulk.md).

The question carries the count and a digest of the accounts it named; the Yes press reads
the group again and acts only if it is still those accounts (else it asks again). Each
operation is one ``services.bulk`` call: all or nothing, the owner's rules (R2, R4, R9, R11).
Links come back as two documents: the CSV and the sheet to print (PDF, one card each).
"""

from __future__ import annotations

import asyncio
import io

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from telesip.bot.callbacks import BulkCb
from telesip.bot.locales import t
from telesip.bot.replies import read_document, show
from telesip.bot.views import bulk as views
from telesip.domain.model import TelegramUser
from telesip.printing import Card, links_csv, pdf
from telesip.services import bulk
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)
MAX_FILE = 1024 * 1024  # an assignment file: two short columns


async def _counts(deps: Dependencies, actor: TelegramUser) -> dict[str, int]:
    return {
        group: len(await bulk.group(deps, actor, actor.id, group))
        for group in ("unassigned", "enabled", "disabled", "unused")
    }


@router.message(Command("bulk"))
async def menu(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    await state.clear()
    text, kb = views.menu(lang, await _counts(deps, actor))
    await message.answer(text, reply_markup=kb)


async def _ids(deps: Dependencies, actor: TelegramUser, op: str) -> list[int]:
    group, _ = views.OPERATIONS[op]
    return [a.id for a in await bulk.group(deps, actor, actor.id, group)]  # type: ignore[arg-type]


@router.callback_query(BulkCb.filter(F.act == "ask"))
async def ask(
    query: CallbackQuery, callback_data: BulkCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    if callback_data.op in views.OPERATIONS:
        ids = await _ids(deps, actor, callback_data.op)
        if not ids:
            await show(query, t(lang, "bulk.none"))
        else:
            await show(query, *views.confirm(lang, callback_data.op, len(ids), bulk.digest(ids)))
    await query.answer()


@router.callback_query(BulkCb.filter(F.act == "no"))
async def cancel(query: CallbackQuery, lang: str) -> None:
    await show(query, t(lang, "bulk.cancelled"))
    await query.answer()


@router.callback_query(BulkCb.filter(F.act == "go"))
async def go(
    query: CallbackQuery,
    callback_data: BulkCb,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    op = callback_data.op
    if op not in views.OPERATIONS:
        await query.answer()
        return
    ids = await _ids(deps, actor, op)
    if not ids:
        await show(query, t(lang, "bulk.none"))
        await query.answer()
        return
    digest = bulk.digest(ids)
    if (len(ids), digest) != (callback_data.n, callback_data.h):  # changed since the question
        text, kb = views.confirm(lang, op, len(ids), digest)
        await show(query, t(lang, "bulk.changed") + "\n\n" + text, kb)
        await query.answer()
        return
    if op == "links":
        await _links(query, bot, deps, actor, lang, ids)
        return
    if op == "delete":
        done = await bulk.delete(deps, actor, actor.id, ids)
    else:
        done = await bulk.set_enabled(deps, actor, actor.id, ids, op == "enable")
    await show(query, views.done(lang, op, done.changed))
    await query.answer()


async def _links(
    query: CallbackQuery,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    ids: list[int],
) -> None:
    made = await bulk.create_links(deps, actor, actor.id, ids)
    me = (await bot.me()).username
    cards = [Card.of(m, f"https://t.me/{me}?start={m.token}") for m in made]
    until = made[0].expires_at.strftime("%Y-%m-%d")
    await show(query, t(lang, "bulk.done.links", count=len(made), until=until))
    chat = query.message.chat.id if query.message is not None else actor.id
    stamp = made[0].expires_at.strftime("%Y%m%d")
    await bot.send_document(chat, BufferedInputFile(links_csv(cards), f"links-{stamp}.csv"))
    sheet = await asyncio.to_thread(pdf, cards, lang)  # CPU: not on the loop
    await bot.send_document(chat, BufferedInputFile(sheet, f"links-{stamp}.pdf"))
    await query.answer()


@router.message(F.document, F.chat.type == "private", F.caption.regexp(r"(?i)^\s*/?assign\b"))
async def assign(
    message: Message, bot: Bot, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    """A CSV of (account, Telegram user) rows: assigned at once, or nothing with the line."""
    content = await read_document(message, bot, lang, MAX_FILE)
    if content is None:
        return
    done = await bulk.assign_file(deps, actor, actor.id, io.BytesIO(content))
    await message.answer(
        t(lang, "bulk.assigned", changed=len(done.changed), unchanged=len(done.unchanged))
    )
