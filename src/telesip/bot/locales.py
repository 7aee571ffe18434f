"""The bot's side of the message catalog, re-exported from ``telesip.i18n`` (which the API and
the Mini App read too): ``t``, ``has``, the keys, a Telegram user's language (``lang_of``) and
domain errors worded in it (``error_text``: by the error's ``code``; ``escape=False`` for plain
text; an unknown code falls back to the English message).
"""

from __future__ import annotations

from telesip.i18n import KEYS, LANGUAGES, PLURAL, error_text, has, lang_of, read_catalog, t

__all__ = ["KEYS", "LANGUAGES", "PLURAL", "error_text", "has", "lang_of", "read_catalog", "t"]
