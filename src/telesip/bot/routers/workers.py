"""/workers: the workers that serve the caller (their own and the shared ones) with the
addresses a PBX must allow; New makes a remote worker (its credential is shown once), Revoke
refuses one of the caller's workers from then on."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from telesip.bot import views
from telesip.bot.callbacks import WorkerCb
from telesip.bot.locales import t
from telesip.domain.model import TelegramUser
from telesip.services import fleet
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


class NewWorker(StatesGroup):
    name = State()


async def _render(deps: Dependencies, actor: TelegramUser, lang: str) -> tuple[str, views.Keyboard]:
    found = await fleet.list_workers(deps, ttl=deps.rules.lease_ttl_seconds, owner_id=actor.id)
    return views.workers(lang, found, actor.id)


@router.message(Command("workers"))
async def workers(message: Message, deps: Dependencies, actor: TelegramUser, lang: str) -> None:
    text, kb = await _render(deps, actor, lang)
    await message.answer(text, reply_markup=kb)


@router.callback_query(WorkerCb.filter(F.act == "new"))
async def ask_name(query: CallbackQuery, state: FSMContext, lang: str) -> None:
    await state.set_state(NewWorker.name)
    await query.answer()
    if query.message is not None:
        await query.message.answer(t(lang, "workers.ask_name"), reply_markup=views.cancel_kb(lang))


@router.message(NewWorker.name, F.text)
async def create(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    name = (message.text or "").strip()
    _, credential = await fleet.create_worker(deps, name, remote=True, owner_id=actor.id)
    await state.clear()
    await message.answer(
        t(lang, "workers.created", name=escape(name), credential=escape(credential or ""))
    )


@router.callback_query(WorkerCb.filter(F.act == "revoke"))
async def revoke(
    query: CallbackQuery,
    callback_data: WorkerCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    name = await fleet.revoke_worker_id(deps, callback_data.id, owner_id=actor.id)
    await query.answer(t(lang, "workers.revoked_done", name=name), show_alert=True)
    if query.message is not None:
        text, kb = await _render(deps, actor, lang)
        await query.message.edit_text(text, reply_markup=kb)  # type: ignore[union-attr]
