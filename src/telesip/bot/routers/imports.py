"""Importing accounts from a file sent to the bot as a document (docs/import.md): the bot
downloads it (``getFile`` and the file download), deletes the document message at once (the
file holds passwords, as a password message does), and shows the preview with **Import** and
**Cancel**. The caption, when given, is the PBX's address (``pbx.example.com[:port]``).

The file waits in the database, encrypted, keyed by the chat (``services.imports``): the press
works after a restart and in any bot process, and one press is one unit of work. Nothing of
the file is logged or repeated in a message but logins and line numbers.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message

from telesip.bot import views
from telesip.bot.callbacks import ImportCb
from telesip.bot.locales import t
from telesip.bot.replies import delete_quietly, read_document, show
from telesip.domain.model import TelegramUser
from telesip.importing import Limits
from telesip.services import imports
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


@router.message(F.document, F.chat.type == "private")
async def document(
    message: Message, bot: Bot, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    doc = message.document
    assert doc is not None
    try:
        content = await read_document(message, bot, lang, Limits().max_bytes)
    finally:
        await delete_quietly(message)  # it carries passwords
    if content is None:
        return
    server = (message.caption or "").strip() or None
    outcome = await imports.stage_import(
        deps, actor, message.chat.id, content, filename=doc.file_name, server=server
    )
    text, kb = views.import_preview(lang, outcome, doc.file_name)
    await message.answer(text, reply_markup=kb)


@router.callback_query(ImportCb.filter(F.act == "go"))
async def confirm(query: CallbackQuery, deps: Dependencies, actor: TelegramUser, lang: str) -> None:
    if query.message is None:
        return
    outcome = await imports.confirm_import(deps, actor, query.message.chat.id)
    await show(query, views.import_done(lang, outcome))
    await query.answer()


@router.callback_query(ImportCb.filter(F.act == "no"))
async def cancel(query: CallbackQuery, deps: Dependencies, lang: str) -> None:
    if query.message is None:
        return
    await imports.cancel_import(deps, query.message.chat.id)
    await show(query, t(lang, "imp.cancelled"))
    await query.answer()
