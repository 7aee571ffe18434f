"""The one place where rule errors become messages in the person's language.

A press gets an alert, a message gets a reply, an inline query gets an empty answer; nothing
was changed by the service that raised. Unexpected errors are logged and counted, and the
person gets a generic apology; secrets are never part of any text here (errors carry none).
"""

from __future__ import annotations

import contextlib
import logging

from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from telesip.bot.locales import error_text, lang_of, t
from telesip.domain.errors import TelesipError
from telesip.metrics import DOMAIN_ERRORS, INTERNAL_ERRORS

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent) -> bool:
    update, exc = event.update, event.exception
    user = None
    for part in (
        update.message,
        update.callback_query,
        update.inline_query,
        update.chosen_inline_result,
    ):
        if part is not None and part.from_user is not None:
            user = part.from_user
            break
    lang = lang_of(user.language_code if user else None)
    if isinstance(exc, TelesipError):
        DOMAIN_ERRORS.labels(exc.code, "bot").inc()
        text = error_text(lang, exc)
    else:
        INTERNAL_ERRORS.labels("bot").inc()
        log.error("bot update %s failed: %s", update.update_id, type(exc).__name__, exc_info=exc)
        text = t(lang, "error")
    with contextlib.suppress(TelegramAPIError):
        if update.callback_query is not None:
            await update.callback_query.answer(_plain(text)[:200], show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
        elif update.inline_query is not None:
            await update.inline_query.answer([], cache_time=0, is_personal=True)
    return True


def _plain(text: str) -> str:
    """Alerts are plain text: drop the few HTML tags the catalog uses."""
    for tag in ("<b>", "</b>", "<code>", "</code>", "<i>", "</i>"):
        text = text.replace(tag, "")
    return text
