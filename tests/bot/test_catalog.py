"""The message catalog: every error code in both languages, the same placeholders."""

from __future__ import annotations

import string

from telesip.bot.locales import EN, RU, error_text, lang_of, t
from telesip.domain import errors
from telesip.domain.errors import TelesipError
from telesip.services.templates import TemplateNotFound
from telesip.store.uow import StorageUnavailable


def _codes() -> set[str]:
    found: set[str] = set()
    todo: list[type[TelesipError]] = [TelesipError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_error_code_is_translated() -> None:
    assert TemplateNotFound.code in _codes() and StorageUnavailable.code in _codes()
    bot_codes = {
        c for c in _codes() if c not in {"invalid_api_key", "out_of_scope", "api_key_not_found"}
    }
    missing_en = {c for c in bot_codes if f"error.{c}" not in EN and c != "error"}
    missing_ru = {c for c in bot_codes if f"error.{c}" not in RU and c != "error"}
    api_only = {"webhook_not_found", "worker_refused"}
    assert missing_en <= api_only and missing_ru <= api_only


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
