"""The Mini App's words, from the message catalogs the bot uses (``telesip.i18n``): a person's
language, a rule error, an account's state and payer. Plain text: the views escape it."""

from __future__ import annotations

from typing import Any

from telesip.domain.errors import TelesipError
from telesip.domain.readmodels import AccountSummary
from telesip.i18n import has, t

__all__ = ["error_text", "lang_of", "payer_text", "state_text", "t"]


def lang_of(language_code: str | None) -> str:
    """The catalog language for Telegram's ``language_code``, as the bot chooses it."""
    code = (language_code or "").lower()
    return "ru" if code.startswith(("ru", "uk", "be", "kk")) else "en"


def error_text(lang: str, exc: TelesipError) -> str:
    """A rule error in the person's language (``error.<code>``), else its English message."""
    return text_or(lang, f"error.{exc.code}", exc.message, **exc.params)


def text_or(lang: str, key: str, fallback: str, **params: Any) -> str:
    if not has(key):
        return fallback
    try:
        return t(lang, key, **{"message": fallback, **params})
    except (KeyError, IndexError, ValueError):
        return fallback


def state_text(lang: str, a: AccountSummary) -> str:
    enabled = t(lang, "state.enabled" if a.enabled else "state.disabled")
    key = f"reg.{a.reg_state}"
    return f"{enabled}, {t(lang, key) if has(key) else a.reg_state}"


def payer_text(lang: str, a: AccountSummary) -> str:
    key = f"payer.{a.payer.value}"
    return t(lang, key) if has(key) else a.payer.value
