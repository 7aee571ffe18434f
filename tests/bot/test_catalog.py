"""The message catalog: gettext .po files for English and Russian with the same keys, plural
entries and placeholders; every error code translated; real plural forms."""

from __future__ import annotations

import ast
import re
import string
import tomllib
from pathlib import Path

import pytest

from telesip.bot.locales import KEYS, LANGUAGES, PLURAL, error_text, lang_of, read_catalog, t
from telesip.domain import errors
from telesip.domain.calls import CALL_NOTICES
from telesip.domain.errors import TelesipError, WorkerRefused

ROOT = Path(__file__).resolve().parents[2]

#: codes only the HTTP API gives (an operator's key and its scope, webhooks, idempotency keys, a
#: worker's credential): worded by api/texts.py or their English message, never by the bot
API_ONLY = {
    "invalid_api_key",
    "out_of_scope",
    "api_key_not_found",
    "webhook_not_found",
    "idempotency_key_reused",
    "idempotency_in_progress",
    "missing_credential",
}


def _error_classes() -> list[type[TelesipError]]:
    """Every person-facing error: the whole tree of domain/errors.py."""
    classes = [v for v in vars(errors).values() if isinstance(v, type)]
    return [c for c in classes if issubclass(c, TelesipError)]


def _codes() -> set[str]:
    """The codes the bot may have to word: the tree's, but the API's own."""
    return {c.code for c in _error_classes()} - API_ONLY


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _entries(lang: str) -> dict[str, tuple[str, ...]]:
    """key -> the texts (one, or every plural form) of a catalog, straight from the .po."""
    found: dict[str, tuple[str, ...]] = {}
    for message in read_catalog(lang):
        if not message.id:
            continue
        key = str(message.id[0] if message.pluralizable else message.id)
        texts = message.string if message.pluralizable else (message.string,)
        found[key] = tuple(str(s) for s in texts)
    return found


def test_every_error_code_is_translated() -> None:
    assert {c.code for c in _error_classes()} >= API_ONLY
    codes = _codes() - {"error"}
    assert {"template_not_found", "storage_unavailable", "wrong_password"} <= codes
    for lang in LANGUAGES:
        assert {c for c in codes if f"error.{c}" not in _entries(lang)} == set(), lang


def test_both_languages_have_every_key_with_the_same_placeholders() -> None:
    en, ru = _entries("en"), _entries("ru")
    assert set(en) == set(ru) == KEYS
    for key, texts in en.items():
        assert all(texts) and all(ru[key]), f"{key} has an empty text"
        placeholders = {frozenset(_fields(text)) for text in (*texts, *ru[key])}
        assert len(placeholders) == 1, f"{key}: {placeholders}"
    # plural entries are plural in both, with the language's number of forms
    assert {k for k, v in en.items() if len(v) > 1} == set(PLURAL)
    assert all(len(en[k]) == 2 and len(ru[k]) == 3 for k in PLURAL)
    for key, count in PLURAL.items():
        assert count in _fields(en[key][0]), f"{key} counts {count}, which it does not show"


def test_every_call_notice_is_worded() -> None:
    """The contract between workers, the API and the bot: each notice a worker may send has a
    text in both languages."""
    for lang in LANGUAGES:
        assert sorted(CALL_NOTICES - set(_entries(lang))) == [], lang


def test_the_worker_side_sends_only_call_notices() -> None:
    """Every ``call.*`` key named outside the bot (bridges, call manager, call service) is in
    ``CALL_NOTICES``: a remote worker's notice would otherwise be refused by the API."""
    named: set[str] = set()
    for path in (ROOT / "src" / "telesip").rglob("*.py"):
        if "bot" in path.relative_to(ROOT / "src" / "telesip").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and re.fullmatch(r"call\.[a-z_]+", value):
                named.add(value)
    assert {"call.incoming", "call.ended", "call.recording"} <= named
    assert sorted(named - CALL_NOTICES) == []


@pytest.mark.parametrize(
    ("n", "en", "ru"),
    [
        (1, "1 seat", "1 место"),
        (2, "2 seats", "2 места"),
        (5, "5 seats", "5 мест"),
        (11, "11 seats", "11 мест"),
        (21, "21 seats", "21 место"),
    ],
)
def test_plural_forms(n: int, en: str, ru: str) -> None:
    assert t("en", "subs.line", plan="office", seats=n) == f"office: {en}"
    assert t("ru", "subs.line", plan="office", seats=n) == f"office: {ru}"


@pytest.mark.parametrize(
    ("n", "ru"), [(1, "минуту"), (2, "минуты"), (5, "минут"), (11, "минут"), (21, "минуту")]
)
def test_plural_forms_in_errors(n: int, ru: str) -> None:
    exc = errors.TooManyAttempts(minutes=n)
    assert error_text("ru", exc).endswith(f"через {n} {ru}.")
    assert error_text("en", exc).endswith(f"in {n} minute{'' if n == 1 else 's'}.")


def test_error_text_in_both_languages_and_escaped() -> None:
    exc = errors.AccountNotFound(account_id=7)
    assert error_text("en", exc) == "SIP account #7 does not exist (it may have been deleted)."
    assert error_text("ru", exc) == "SIP-аккаунта #7 нет (возможно, он удалён)."
    bad = errors.InvalidSettings(reason="server '<x>' is not valid")
    assert "&lt;x&gt;" in error_text("en", bad)
    assert "<x>" in error_text("en", bad, escape=False)


def test_language_choice() -> None:
    assert lang_of("ru") == "ru" and lang_of("ru-RU") == "ru" and lang_of("uk") == "ru"
    assert lang_of("en") == "en" and lang_of(None) == "en" and lang_of("de") == "en"
    assert t("de", "btn.new") == t("en", "btn.new")
    with pytest.raises(KeyError):
        t("en", "no.such.key")


def test_the_catalogs_ship_in_the_package() -> None:
    """The .po files are package data (compiled at import: no .mo step to forget)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["package-data"]["telesip"]
    assert "i18n/locale/*/LC_MESSAGES/*.po" in data
    assert any(dep.startswith("babel") for dep in project["project"]["dependencies"])
    for lang in LANGUAGES:
        assert (ROOT / "src/telesip/i18n/locale" / lang / "LC_MESSAGES/telesip.po").is_file()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_is_written_once(lang: str) -> None:
    """Babel keeps one of two entries with the same msgid silently: two helpers adding the
    same key would leave one text unused."""
    po = ROOT / "src" / "telesip" / "i18n" / "locale" / lang / "LC_MESSAGES" / "telesip.po"
    ids = [line for line in po.read_text().splitlines() if line.startswith("msgid ")]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


#: texts the same in both languages on purpose: they only arrange names, numbers and codes
SAME_IN_BOTH = {
    "sp.line",
    "sp.line_user",
    "offer.failed",
    "links.line",
    "calls.talk",
    "btn.line",
    "rw.line",
    "setting.line",
}

#: words the glossary (docs/bot.md) retired, per language
RETIRED = {
    "en": (
        r"\btariff",
        r"\bsubscription\b",
        r"\bline #",
        r"\bSIP line",
        r"\bTransfer back\b",
        r"\breturn(s|ed)?\b",
        r"\(s\)",
    ),
    "ru": (r"подписк", r"\bлини[яиюей]\b", r"SIP-лини"),
}


def test_no_russian_text_is_left_in_english() -> None:
    en, ru = _entries("en"), _entries("ru")
    same = {key for key in en if en[key] == ru[key] and key not in SAME_IN_BOTH}
    assert same == set(), f"not translated: {sorted(same)}"
    assert all(en[key] == ru[key] for key in SAME_IN_BOTH)  # the allow-list stays short


def test_no_text_uses_a_retired_word() -> None:
    found = []
    for lang, patterns in RETIRED.items():
        for key, texts in _entries(lang).items():
            for text in texts:
                found += [(lang, key, p) for p in patterns if re.search(p, text, re.I)]
    # the API's and CLI's English messages (domain errors' defaults) too
    for cls in _error_classes():
        found += [
            ("en", cls.__name__, p)
            for p in RETIRED["en"]
            if re.search(p, cls.default_message, re.I)
        ]
    assert found == []


def test_every_worker_refusal_is_worded() -> None:
    """Each reason a worker is refused for has its catalog text, and nothing refuses a worker
    for a reason outside ``WorkerRefused.REASONS``."""
    for lang in LANGUAGES:
        assert sorted(set(WorkerRefused.REASONS.values()) - set(_entries(lang))) == [], lang
    given: set[str] = set()
    for path in (ROOT / "src" / "telesip").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("WorkerRefused"):
                given |= {
                    k.value.value
                    for k in node.keywords
                    if k.arg == "reason" and isinstance(k.value, ast.Constant)
                }
    assert len(given) >= 4 and given <= set(WorkerRefused.REASONS)


def test_worker_refusals_and_setting_names_are_translated() -> None:
    refused = WorkerRefused(name="office", reason="revoked")
    assert error_text("ru", refused) == (
        "Воркер office не принят: он отозван (создайте новый в /workers). Его SIP-аккаунты "
        "остаются у других воркеров."
    )
    assert "it was revoked" in error_text("en", refused)
    from telesip.bot.views import settings

    text, _ = settings("ru", 7, {"login": "100", "auth_username": "u1", "domain": "pbx"})
    assert "Имя для авторизации (<code>auth</code>): u1" in text
    assert "auth_username" not in text
