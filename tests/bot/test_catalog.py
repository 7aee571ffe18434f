"""The message catalog: every error code in both languages, the same placeholders."""

from __future__ import annotations

import string

from telesip.bot.locales import EN, RU, error_text, lang_of, t
from telesip.domain import calls, errors
from telesip.domain.errors import TelesipError
from telesip.services.fleet import WorkerRefused
from telesip.services.templates import TemplateNotFound
from telesip.store.uow import StorageUnavailable


def _codes() -> set[str]:
    """Every error the bot's services raise: the domain's, storage, templates."""
    classes = [v for m in (errors, calls) for v in vars(m).values() if isinstance(v, type)]
    classes += [StorageUnavailable, TemplateNotFound, WorkerRefused]
    return {c.code for c in classes if issubclass(c, TelesipError)}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_error_code_is_translated() -> None:
    codes = _codes() - {"error"}
    assert {"template_not_found", "storage_unavailable", "wrong_password"} <= codes
    assert {c for c in codes if f"error.{c}" not in EN} == set()
    assert {c for c in codes if f"error.{c}" not in RU} == set()


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    assert set(EN) == set(RU)
    for key, text in EN.items():
        assert _fields(text) == _fields(RU[key]), key


def test_error_text_in_both_languages_and_escaped() -> None:
    exc = errors.AccountNotFound(account_id=7)
    assert error_text("en", exc) == "SIP account #7 does not exist (it may have been deleted)."
    assert error_text("ru", exc) == "SIP-аккаунта #7 нет (возможно, он удалён)."
    bad = errors.InvalidSettings(reason="server '<x>' is not valid")
    assert "&lt;x&gt;" in error_text("en", bad)
    assert error_text("en", errors.TooManyAttempts(minutes=3)).endswith("in 3 minute(s).")


def test_language_choice() -> None:
    assert lang_of("ru") == "ru" and lang_of("ru-RU") == "ru" and lang_of("uk") == "ru"
    assert lang_of("en") == "en" and lang_of(None) == "en" and lang_of("de") == "en"
    assert t("de", "btn.new") == "➕ New"
