"""The number-rewrite part of the message catalog (merged into ``telesip.bot.locales``)."""

from __future__ import annotations

EN: dict[str, str] = {
    "btn.rewrite": "🔢 Number rewrite",
    "btn.rw_add": "➕ Add rule",
    "rw.title": "<b>Number-rewrite rules of SIP account #{id}</b>",
    "rw.empty": "No rules: numbers are dialled as they are typed.",
    "rw.line": "{n}. <code>{pattern}</code> → <code>{replacement}</code>",
    "rw.explain": (
        "Before a call the first rule whose pattern matches the whole number replaces it "
        "(regular expression; <code>\\1</code> is the first group). ✖ removes a rule."
    ),
    "rw.prompt": (
        "Send one rule as <code>PATTERN REPLACEMENT</code>, separated by a space, e.g.\n"
        "<code>8(\\d{10}) +7\\1</code> (8 and ten digits → +7 and the same ten digits)."
    ),
    "rw.added": "Rule added.",
    "rw.removed": "Rule removed.",
    "rw.need_two": "Send the pattern and the replacement separated by a space.",
    "rw.bad_regex": "<code>{pattern}</code> is not a valid pattern: {detail}.",
    "rw.too_many": "An account has at most {max} rules; remove one first.",
    "rw.too_long": "A pattern or a replacement has at most {max} characters.",
}

RU: dict[str, str] = {
    "btn.rewrite": "🔢 Замена номеров",
    "btn.rw_add": "➕ Добавить правило",
    "rw.title": "<b>Правила замены номеров SIP-аккаунта #{id}</b>",
    "rw.empty": "Правил нет: номера набираются так, как введены.",
    "rw.line": "{n}. <code>{pattern}</code> → <code>{replacement}</code>",
    "rw.explain": (
        "Перед звонком первое правило, шаблон которого совпадает со всем номером, заменяет "
        "его (регулярное выражение; <code>\\1</code> — первая группа). ✖ удаляет правило."
    ),
    "rw.prompt": (
        "Пришлите правило в виде <code>ШАБЛОН ЗАМЕНА</code> через пробел, например\n"
        "<code>8(\\d{10}) +7\\1</code> (8 и десять цифр → +7 и те же десять цифр)."
    ),
    "rw.added": "Правило добавлено.",
    "rw.removed": "Правило удалено.",
    "rw.need_two": "Пришлите шаблон и замену через пробел.",
    "rw.bad_regex": "<code>{pattern}</code> — неверный шаблон: {detail}.",
    "rw.too_many": "У аккаунта не больше {max} правил; сначала удалите одно.",
    "rw.too_long": "В шаблоне и в замене не больше {max} символов.",
}
