"""Every text telesip words for a person (the bot's messages, the API's error details), in
English and Russian: gettext catalogs in ``i18n/locale/<lang>/LC_MESSAGES/telesip.po``, shipped
in the package. The bot and the API both read them from here; neither imports the other.

The msgid of an entry is its stable key (``card.title``, ``error.not_owner``); the text is a
``str.format`` template (HTML for the bot; the caller escapes what people typed). A plural entry
has the language's forms (English one/other, Russian one/few/many) and names the parameter that
counts in a ``#. count: NAME`` comment; ``t`` picks the form from that parameter. The ``.po``
files are compiled with Babel when this module is imported (no ``.mo`` step to forget).

``t(lang, key, **params)`` formats a text. A language other than ``ru`` falls back to English;
a key missing in Russian falls back to the English text. Invariant (tests/bot/test_catalog.py):
both catalogs have the same keys, plural entries and placeholders; every error code of
``domain/errors.py`` the bot shows has an ``error.<code>`` entry, and every call notice a worker
may send (``domain.calls.CALL_NOTICES``) has its entry.
"""

from __future__ import annotations

import gettext
import html
import io
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from telesip.domain.errors import BadAssignments, TelesipError, WorkerRefused

__all__ = [
    "KEYS",
    "LANGUAGES",
    "LOCALE_DIR",
    "PLURAL",
    "error_text",
    "has",
    "lang_of",
    "po_path",
    "read_catalog",
    "t",
]

LANGUAGES = ("en", "ru")
DEFAULT = "en"
DOMAIN = "telesip"
LOCALE_DIR = Path(__file__).with_name("locale")


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The ``.po`` file of ``lang`` as a Babel catalog (the tests read it too)."""
    with po_path(lang).open("rb") as fp:
        return read_po(fp, locale=lang, domain=DOMAIN)


def _compiled() -> dict[str, gettext.GNUTranslations]:
    """Each language's catalog compiled in memory; each falls back to English."""
    found: dict[str, gettext.GNUTranslations] = {}
    for lang in LANGUAGES:
        mo = io.BytesIO()
        write_mo(mo, read_catalog(lang))
        mo.seek(0)
        found[lang] = gettext.GNUTranslations(mo)
    for lang, translations in found.items():
        if lang != DEFAULT:
            translations.add_fallback(found[DEFAULT])
    return found


def _plural_params(catalog: Catalog) -> dict[str, str]:
    """key -> the parameter that counts, for every plural entry."""
    counts: dict[str, str] = {}
    for message in catalog:
        if message.pluralizable:
            names = [c.split(":", 1)[1].strip() for c in message.auto_comments if "count:" in c]
            counts[str(message.id[0])] = names[0] if names else "n"
    return counts


_TRANSLATIONS = _compiled()
_ENGLISH = read_catalog(DEFAULT)
PLURAL = _plural_params(_ENGLISH)
KEYS: frozenset[str] = frozenset(str(m.id[0] if m.pluralizable else m.id) for m in _ENGLISH if m.id)


def has(key: str) -> bool:
    """Whether the catalog has ``key`` (an error code's text, a call notice...)."""
    return key in KEYS


def t(lang: str, key: str, **params: Any) -> str:
    """The text ``key`` in ``lang`` with ``params`` filled in (English when missing)."""
    if key not in KEYS:
        raise KeyError(key)
    translations = _TRANSLATIONS[lang if lang in LANGUAGES else DEFAULT]
    count = PLURAL.get(key)
    if count is None:
        template = translations.gettext(key)
    else:
        template = translations.ngettext(key, key, int(params[count]))
    return template.format(**params) if params else template


def lang_of(language_code: str | None) -> str:
    """The catalog language for a Telegram ``language_code`` (``ru``, ``ru-RU``, ``uk``...)."""
    code = (language_code or "").lower()
    return "ru" if code.startswith(("ru", "uk", "be", "kk")) else "en"


def error_text(lang: str, exc: TelesipError, *, escape: bool = True) -> str:
    """A rule error in the person's language; unknown codes fall back to the English message.
    ``escape=False`` leaves the parameters as they are (plain text: the API, the Mini App)."""
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
    if isinstance(exc, BadAssignments):  # the reason worded in the language, with its line
        text = t(lang, f"assign.{reason}", **params)
        line = exc.params.get("line") or 0
        params["detail"] = t(lang, "assign.line", line=line, text=text) if line else text
    try:
        return t(lang, key, **params)
    except (KeyError, IndexError, ValueError):
        return quote(exc.message)
