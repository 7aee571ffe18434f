"""The calls part of the message catalog (merged into ``telesip.bot.locales``)."""

from __future__ import annotations

EN: dict[str, str] = {
    "cmd.calls": "Your latest calls",
    "calls.title": "<b>Latest calls</b>",
    "calls.empty": "No calls yet. Send me a phone number to call it.",
    "calls.row": "{icon} {when} · {number} · line #{line_id} · {outcome}",
    "calls.talk": "{duration}",
    "calls.from": (
        "\n\nCalls come from {callers}: allow calls from it in Settings → Privacy and Security "
        "→ Calls."
    ),
    "calls.from_many": (
        "\n\nCalls come from {callers}: allow calls from them in Settings → Privacy and "
        "Security → Calls."
    ),
    "calls.not_set_up": (
        "\n\nCalls are not set up yet: this service has no Telegram account to call you from."
    ),
    "calls.disabled": (
        "Calls are not enabled on this server: it runs without call support (the operator "
        "installs telesip[calls] to turn them on)."
    ),
    "reason.completed": "ended",
    "reason.missed": "missed",
    "reason.declined": "declined",
    "reason.busy": "busy",
    "reason.cancelled": "cancelled",
    "reason.privacy": "refused by privacy settings",
    "reason.unavailable": "unavailable",
    "reason.failed": "failed",
    "reason.limit": "no free call slot",
    "reason.active": "in progress",
    "call.pick_line": "Call <b>{number}</b> from which line?",
    "call.requested": (
        "Calling <b>{number}</b> from line #{line_id}. You will get a Telegram call first: "
        "answer it and the number is dialled."
    ),
    "call.calling_you": (
        "📞 {caller} is calling you now for your call to {number} on line #{line_id}. "
        "Answer it in Telegram."
    ),
    "call.incoming": (
        "📞 Incoming call from <b>{number}</b> on line #{line_id}. {caller} is calling you in "
        "Telegram: answer it to talk."
    ),
    "call.missed": "Missed call from <b>{number}</b> on line #{line_id}.",
    "call.missed_busy": (
        "Missed call from <b>{number}</b> on line #{line_id}: you were in another call."
    ),
    "call.privacy": (
        "A call from <b>{number}</b> on line #{line_id} could not reach you: your privacy "
        "settings refuse calls from {caller}. Allow it in Settings → Privacy and Security → "
        "Calls (add {caller} to the exceptions)."
    ),
    "call.unavailable": (
        "The call could not be placed: no SIP worker or Telegram caller account is free right "
        "now. Please try again later."
    ),
    "call.limit": "All call slots are busy right now; please try again in a minute.",
    "call.ended": "Call with <b>{number}</b> ended ({duration} s).",
    "call.failed": "The call to <b>{number}</b> did not go through (SIP {status}).",
    "call.far_busy": "<b>{number}</b> is busy.",
    "call.not_answered": "<b>{number}</b> did not answer.",
    "call.keypad": "☎️ In a call with <b>{number}</b> on line #{line_id}. Keypad for menus:",
    "call.keypad_done": "Call with <b>{number}</b> on line #{line_id} is over.",
    "call.key_sent": "Sent {digit}",
    "call.recording": "🎙 Recording of the call with {number} on line #{line_id} ({duration} s).",
    "btn.hangup": "⛔ Hang up",
    "btn.line": "#{line_id} {login}@{domain}",
    "error.not_a_phone_number": (
        "{text} is not a phone number: use digits, with an optional leading +, and * or #."
    ),
    "error.call_not_found": "This call does not exist or has ended.",
    "error.no_lines": "You have no enabled SIP line to call from. See /softphone.",
    "error.not_your_line": "SIP account #{account_id} is not a line you use for calls.",
    "error.line_disabled": "SIP account #{account_id} is disabled; enable it to call.",
    "error.line_busy": "You already have a call in progress.",
    "card.record_on": "🎙 Recording: on",
    "card.record_off": "Recording: off",
    "btn.record_on": "🎙 Record calls",
    "btn.record_off": "🎙 Stop recording",
    "rec.turned_on": "Recording is on: you get each call's recording here.",
    "rec.turned_off": "Recording is off.",
    "n.recording_on": "🎙 The owner turned on recording: calls on SIP account #{id} are recorded.",
    "n.recording_off": "The owner turned off recording of calls on SIP account #{id}.",
}

RU: dict[str, str] = {
    "cmd.calls": "Последние звонки",
    "calls.title": "<b>Последние звонки</b>",
    "calls.empty": "Звонков пока нет. Пришлите мне номер телефона, чтобы позвонить.",
    "calls.row": "{icon} {when} · {number} · линия #{line_id} · {outcome}",
    "calls.talk": "{duration}",
    "calls.from": (
        "\n\nЗвонки приходят от {callers}: разрешите его звонки в Настройки → "
        "Конфиденциальность → Звонки."
    ),
    "calls.from_many": (
        "\n\nЗвонки приходят от {callers}: разрешите их звонки в Настройки → "
        "Конфиденциальность → Звонки."
    ),
    "calls.not_set_up": (
        "\n\nЗвонки ещё не настроены: у сервиса нет аккаунта Telegram, который мог бы вам "
        "позвонить."
    ),
    "calls.disabled": (
        "Звонки на этом сервере не включены: он работает без поддержки звонков (оператор "
        "включает их, установив telesip[calls])."
    ),
    "reason.completed": "завершён",
    "reason.missed": "пропущен",
    "reason.declined": "отклонён",
    "reason.busy": "занято",
    "reason.cancelled": "отменён",
    "reason.privacy": "запрещён настройками конфиденциальности",
    "reason.unavailable": "недоступно",
    "reason.failed": "не удался",
    "reason.limit": "нет свободных линий",
    "reason.active": "идёт",
    "call.pick_line": "С какой линии позвонить на <b>{number}</b>?",
    "call.requested": (
        "Звоним на <b>{number}</b> с линии #{line_id}. Сначала вам позвонят в Telegram: "
        "ответьте, и номер будет набран."
    ),
    "call.calling_you": (
        "📞 {caller} звонит вам для звонка на {number} с линии #{line_id}. Ответьте в Telegram."
    ),
    "call.incoming": (
        "📞 Входящий звонок с <b>{number}</b> на линию #{line_id}. {caller} звонит вам в "
        "Telegram: ответьте, чтобы поговорить."
    ),
    "call.missed": "Пропущенный звонок с <b>{number}</b> на линию #{line_id}.",
    "call.missed_busy": (
        "Пропущенный звонок с <b>{number}</b> на линию #{line_id}: вы были в другом разговоре."
    ),
    "call.privacy": (
        "Звонок с <b>{number}</b> на линию #{line_id} не дошёл: ваши настройки "
        "конфиденциальности запрещают звонки от {caller}. Разрешите их в Настройки → "
        "Конфиденциальность → Звонки (добавьте {caller} в исключения)."
    ),
    "call.unavailable": (
        "Не удалось позвонить: сейчас нет свободного SIP-воркера или аккаунта-звонилки. "
        "Попробуйте позже."
    ),
    "call.limit": "Все линии для звонков сейчас заняты; попробуйте через минуту.",
    "call.ended": "Разговор с <b>{number}</b> завершён ({duration} с).",
    "call.failed": "Звонок на <b>{number}</b> не прошёл (SIP {status}).",
    "call.far_busy": "<b>{number}</b> занят.",
    "call.not_answered": "<b>{number}</b> не ответил.",
    "call.keypad": "☎️ Разговор с <b>{number}</b> по линии #{line_id}. Клавиатура для меню:",
    "call.keypad_done": "Разговор с <b>{number}</b> по линии #{line_id} окончен.",
    "call.key_sent": "Отправлено {digit}",
    "call.recording": "🎙 Запись разговора с {number} по линии #{line_id} ({duration} с).",
    "btn.hangup": "⛔ Положить трубку",
    "btn.line": "#{line_id} {login}@{domain}",
    "error.not_a_phone_number": (
        "{text} — не номер телефона: используйте цифры, + в начале, * или #."
    ),
    "error.call_not_found": "Такого звонка нет или он уже закончился.",
    "error.no_lines": "У вас нет включённой SIP-линии для звонков. См. /softphone.",
    "error.not_your_line": "SIP-аккаунт #{account_id} — не ваша линия для звонков.",
    "error.line_disabled": "SIP-аккаунт #{account_id} выключен; включите его, чтобы звонить.",
    "error.line_busy": "У вас уже идёт звонок.",
    "card.record_on": "🎙 Запись разговоров: вкл.",
    "card.record_off": "Запись разговоров: выкл.",
    "btn.record_on": "🎙 Записывать звонки",
    "btn.record_off": "🎙 Не записывать",
    "rec.turned_on": "Запись включена: запись каждого звонка придёт вам сюда.",
    "rec.turned_off": "Запись выключена.",
    "n.recording_on": "🎙 Владелец включил запись: звонки по SIP-аккаунту #{id} записываются.",
    "n.recording_off": "Владелец выключил запись звонков по SIP-аккаунту #{id}.",
}
