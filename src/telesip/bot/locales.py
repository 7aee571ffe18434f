"""Every text the bot shows (and every API error detail), in English and Russian: gettext
catalogs in ``bot/locale/<lang>/LC_MESSAGES/telesip.po``, shipped in the package.

The msgid of an entry is its stable key (``card.title``, ``error.not_owner``); the text is a
``str.format`` template (HTML; the caller escapes what people typed). A plural entry has the
language's forms (English one/other, Russian one/few/many) and names the parameter that
counts in a ``#. count: NAME`` comment; ``t`` picks the form from that parameter. The ``.po``
files are compiled with Babel when this module is imported (no ``.mo`` step to forget) and
served through aiogram's ``I18n``.

``t(lang, key, **params)`` formats a text; ``error_text(lang, exc)`` translates a domain error by
its ``code`` (``escape=False`` for plain text, as the API wants). A language other than ``ru``
falls back to English; a key missing in Russian falls back to the English text. Invariant
(tests/bot/test_catalog.py): both catalogs have the same keys, plural entries and placeholders.
"""

from __future__ import annotations

import gettext
import html
import io
from pathlib import Path
from typing import Any

from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from telesip.domain.errors import TelesipError

LANGUAGES = ("en", "ru")
DOMAIN = "telesip"
LOCALE_DIR = Path(__file__).with_name("locale")


def lang_of(language_code: str | None) -> str:
    """The catalog language for a Telegram ``language_code`` (``ru``, ``ru-RU``, ``uk``...)."""
    code = (language_code or "").lower()
    return "ru" if code.startswith(("ru", "uk", "be", "kk")) else "en"


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The ``.po`` file of ``lang`` as a Babel catalog (the tests read it too)."""
    with po_path(lang).open("rb") as fp:
        return read_po(fp, locale=lang, domain=DOMAIN)


class Catalogs(I18n):
    """aiogram's ``I18n`` over the ``.po`` files, compiled in memory with Babel."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        found: dict[str, gettext.GNUTranslations] = {}
        for lang in LANGUAGES:
            compiled = io.BytesIO()
            write_mo(compiled, read_catalog(lang))
            compiled.seek(0)
            found[lang] = gettext.GNUTranslations(compiled)
        for lang, translations in found.items():
            if lang != self.default_locale:
                translations.add_fallback(found[self.default_locale])
        return found


def _plural_params() -> dict[str, str]:
    """key -> the parameter that counts, for every plural entry (from the English catalog)."""
    counts: dict[str, str] = {}
    for message in read_catalog("en"):
        if message.pluralizable:
            names = [c.split(":", 1)[1].strip() for c in message.auto_comments if "count:" in c]
            counts[str(message.id[0])] = names[0] if names else "n"
    return counts


I18N = Catalogs(path=LOCALE_DIR, default_locale="en", domain=DOMAIN)
PLURAL = _plural_params()
KEYS: frozenset[str] = frozenset(
    str(m.id[0] if m.pluralizable else m.id) for m in read_catalog("en") if m.id
)


def has(key: str) -> bool:
    """Whether the catalog has ``key`` (a call message, a registration state...)."""
    return key in KEYS


def t(lang: str, key: str, **params: Any) -> str:
    """The text ``key`` in ``lang`` with ``params`` filled in (English when missing)."""
    if key not in KEYS:
        raise KeyError(key)
    locale = lang if lang in LANGUAGES else "en"
    count = PLURAL.get(key)
    if count is None:
        template = I18N.gettext(key, locale=locale)
    else:
        template = I18N.gettext(key, key, int(params[count]), locale=locale)
    return template.format(**params) if params else template


#: the reasons ``services.fleet.WorkerRefused`` gives, and their catalog keys
_REFUSALS = {
    "unknown": "refusal.unknown",
    "revoked": "refusal.revoked",
    "a remote worker (start it with --control-url)": "refusal.remote",
    "not authenticated": "refusal.unauthenticated",
    "running elsewhere (another instance joined)": "refusal.elsewhere",
}


def error_text(lang: str, exc: TelesipError, *, escape: bool = True) -> str:
    """A rule error in the person's language; unknown codes fall back to the English message.
    ``escape=False`` leaves the parameters as they are (plain text, for the API)."""
    quote = html.escape if escape else str
    key = f"error.{exc.code}"
    if key not in KEYS:
        return quote(exc.message)
    params = {k: quote(str(v)) if not isinstance(v, int) else v for k, v in exc.params.items()}
    params.setdefault("message", quote(exc.message))
    refusal = _REFUSALS.get(str(exc.params.get("reason"))) if exc.code == "worker_refused" else None
    if refusal is not None:
        params["reason"] = t(lang, refusal)
    try:
        return t(lang, key, **params)
    except (KeyError, IndexError, ValueError):
        return quote(exc.message)
