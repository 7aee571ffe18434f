"""The bot's side of the message catalog: a Telegram user's language, and domain errors worded
in it. The catalogs themselves (``t``, ``has``, the keys) live in ``telesip.i18n``, which the
API reads too; they are re-exported here for the bot's modules.

``error_text(lang, exc)`` translates a domain error by its ``code`` (``escape=False`` for plain
text); an unknown code falls back to the English message.
"""

from __future__ import annotations

import html

from telesip.domain.errors import TelesipError, WorkerRefused
from telesip.i18n import KEYS, LANGUAGES, PLURAL, has, read_catalog, t

__all__ = ["KEYS", "LANGUAGES", "PLURAL", "error_text", "has", "lang_of", "read_catalog", "t"]


def lang_of(language_code: str | None) -> str:
    """The catalog language for a Telegram ``language_code`` (``ru``, ``ru-RU``, ``uk``...)."""
    code = (language_code or "").lower()
    return "ru" if code.startswith(("ru", "uk", "be", "kk")) else "en"


def error_text(lang: str, exc: TelesipError, *, escape: bool = True) -> str:
    """A rule error in the person's language; unknown codes fall back to the English message.
    ``escape=False`` leaves the parameters as they are (plain text, for the API)."""
    quote = html.escape if escape else str
    key = f"error.{exc.code}"
    if key not in KEYS:
        return quote(exc.message)
    params = {k: quote(str(v)) if not isinstance(v, int) else v for k, v in exc.params.items()}
    params.setdefault("message", quote(exc.message))
    reason = str(exc.params.get("reason"))
    refusal = WorkerRefused.REASONS.get(reason) if isinstance(exc, WorkerRefused) else None
    if refusal is not None:
        params["reason"] = t(lang, refusal)
    try:
        return t(lang, key, **params)
    except (KeyError, IndexError, ValueError):
        return quote(exc.message)
