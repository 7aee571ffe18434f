"""The Mini App's words, from the message catalogs the bot uses (``telesip.i18n``): a person's
language, a rule error, an account's state and payer. Plain text: the views escape it."""

from __future__ import annotations

from telesip.domain.errors import TelesipError
from telesip.domain.readmodels import AccountSummary
from telesip.i18n import error_text as _error_text
from telesip.i18n import has, lang_of, t

__all__ = ["error_text", "lang_of", "payer_text", "state_text", "t"]


def error_text(lang: str, exc: TelesipError) -> str:
    """A rule error in the person's language, as plain text (the views escape it)."""
    return _error_text(lang, exc, escape=False)


def state_text(lang: str, a: AccountSummary) -> str:
    enabled = t(lang, "state.enabled" if a.enabled else "state.disabled")
    key = f"reg.{a.reg_state}"
    return f"{enabled}, {t(lang, key) if has(key) else a.reg_state}"


def payer_text(lang: str, a: AccountSummary) -> str:
    key = f"payer.{a.payer.value}"
    return t(lang, key) if has(key) else a.payer.value
