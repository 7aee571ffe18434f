"""Every text the bot shows, in English and Russian, in one catalog.

``t(lang, key, **params)`` formats a text (HTML; the caller escapes what people typed);
``error_text`` translates a domain error by its stable ``code``. A language other than ``ru``
falls back to English; a key missing in Russian falls back to the English text.
"""

from __future__ import annotations

import html
from typing import Any

from telesip.bot import locales_calls, locales_rewrite
from telesip.domain.errors import TelesipError

LANGUAGES = ("en", "ru")


def lang_of(language_code: str | None) -> str:
    """The catalog language for a Telegram ``language_code`` (``ru``, ``ru-RU``, ``uk``...)."""
    code = (language_code or "").lower()
    return "ru" if code.startswith(("ru", "uk", "be", "kk")) else "en"


EN: dict[str, str] = {
    # commands
    "cmd.softphone": "Your SIP accounts",
    "cmd.links": "Settings links",
    "cmd.subscriptions": "Plans and seats",
    "cmd.help": "How to use the bot",
    "cmd.start": "Start",
    # start / help
    "start.hello": (
        "Hello, {name}! telesip lets you make and receive phone calls in Telegram with SIP "
        "accounts.\n\n{help}"
    ),
    "help": (
        "/softphone: your SIP accounts; <b>New</b> connects one.\n"
        "/links: settings links that hand an account to an employee.\n"
        "/subscriptions: your plans and seats.\n\n"
        "To give an account to someone open its card and press <b>Transfer</b>, pick the chat "
        "and the method; they press <b>Receive</b> within {minutes} min."
    ),
    "link.opened": (
        "SIP account #{account_id} from {owner} is now assigned to you for calls. See /softphone."
    ),
    # /softphone
    "sp.title": "<b>Your SIP accounts</b>",
    "sp.empty": "You have no SIP accounts yet. Press <b>New</b> to connect one.",
    "sp.assigned_title": "<b>Assigned to you</b>",
    "sp.line": "{badge} #{id} {login}@{domain}",
    "sp.line_user": " → {user}",
    "sp.line_assigned": "{badge} #{id} from {owner}",
    "btn.new": "➕ New",
    "btn.back": "« Back",
    # card
    "card.title": "<b>SIP account #{id}</b>",
    "card.server": "Server: {domain}{port} ({transport})",
    "card.login": "Login: {login}",
    "card.state": "State: {state}",
    "card.reg_error": "Last error: {error}",
    "card.user": "User: {user}",
    "card.user_self": "User: you",
    "card.owner": "Owner: {owner}",
    "card.payer": "Paid by: {payer}",
    "card.duplicate": "⚠️ The same login at the same server is connected elsewhere.",
    "card.pending": "Transfer offer waiting for Receive.",
    "card.firewall": "🛡 Allow at the PBX: {addresses}",
    "error.worker_refused": "Worker {name} is {reason}; it may not hold registrations.",
    "cmd.workers": "SIP workers and firewall",
    "workers.title": "<b>Workers</b> (they keep your SIP accounts registered)",
    "workers.none": "No worker is running yet.",
    "workers.line": "{badge} <b>{name}</b>{mine}: {state}, {accounts} account(s)\n    {addresses}",
    "workers.yours": " (yours)",
    "workers.alive": "alive",
    "workers.down": "down",
    "workers.revoked": "revoked",
    "workers.no_addresses": "no address yet",
    "workers.hint": (
        "A worker of your own, e.g. inside your office LAN, reaches a private PBX: press "
        "<b>New</b>, run it there, and set an account's <code>worker = NAME</code> "
        "(Settings) to pin the account to it. Your workers serve only your accounts."
    ),
    "workers.ask_name": "Name for the new worker (letters, digits, '.', '_' or '-'):",
    "workers.created": (
        "✅ Worker <b>{name}</b> created. Its credential is shown only now; run on the "
        "worker's machine:\n\n<code>TELESIP_WORKER_CREDENTIAL={credential} telesip worker "
        "--name {name} --control-url https://YOUR-TELESIP-ADDRESS</code>"
    ),
    "workers.revoked_done": "Worker {name} revoked: it is refused from now on.",
    "btn.new_worker": "➕ New worker",
    "btn.revoke_worker": "🚫 Revoke {name}",
    "card.assigned_note": "Assigned to you for calls; its owner manages the settings.",
    "state.enabled": "enabled",
    "state.disabled": "disabled",
    "reg.unknown": "not registered yet",
    "reg.registering": "registering",
    "reg.registered": "registered",
    "reg.auth_failed": "authentication failed",
    "reg.unreachable": "server unreachable",
    "reg.failed": "registration failed",
    "reg.disabled": "not registered",
    "payer.owner_plan": "your subscription",
    "payer.owner_plan_user": "the owner's subscription",
    "payer.start": "Softphone-Start tariff",
    "payer.operator": "the operator",
    "btn.settings": "⚙️ Settings",
    "btn.disable": "⏸ Disable",
    "btn.enable": "▶️ Enable",
    "btn.transfer": "📤 Transfer",
    "btn.take_back": "↩️ Take back",
    "btn.delete": "🗑 Delete",
    "btn.send_back": "↩️ Send back",
    "btn.yes_delete": "Yes, delete",
    "btn.yes_return": "Yes, return it",
    "btn.cancel": "Cancel",
    "card.confirm_delete": (
        "Delete SIP account #{id} everywhere? It is unregistered and its password is wiped."
    ),
    "card.confirm_return": "Return SIP account #{id} to its owner?",
    "card.deleted": "SIP account #{id} was deleted.",
    "card.returned": "SIP account #{id} was returned to its owner.",
    "card.disabled": "Disabled.",
    "card.enabled": "Enabled.",
    "card.taken_back": "Taken back from {user}.",
    # settings
    "set.title": "<b>Settings of SIP account #{id}</b>",
    "set.hint": (
        "To change login, password or server send one line:\n"
        "<code>sip:LOGIN:PASSWORD@SERVER[:PORT][;transport=udp|tcp|tls]</code>\n"
        "or <code>name = value</code> lines, e.g. <code>proxy = sbc.example.com</code>, "
        "<code>codecs = PCMA, opus</code>, <code>dtmf = info</code>, <code>port = -</code> "
        "(names: login, password, auth, server, registrar, proxy, transport, port, expires, "
        "name, codecs, dtmf, worker)."
    ),
    "set.saved": "Settings saved.",
    "btn.edit_line": "✏️ Change",
    # new account wizard
    "new.login": (
        "New SIP account. Send the <b>login</b> (SIP user name).\n\n"
        "Or send the whole account in one line:\n"
        "<code>sip:LOGIN:PASSWORD@SERVER[:PORT][;transport=udp|tcp|tls]</code>"
    ),
    "new.password": "Now the <b>password</b>. I delete your message right after reading it.",
    "new.server": "The SIP <b>server</b> (domain or IP, optionally :port).",
    "new.proxy": "Outbound <b>proxy</b>, if your provider needs one; else press Skip.",
    "new.transport": "<b>Transport</b>?",
    "new.created": "SIP account #{id} is connected.",
    "new.cancelled": "Cancelled.",
    "new.edit_line": "Send the new settings of SIP account #{id}.",
    "new.bad": "{error}\nPlease try again.",
    "btn.skip": "Skip",
    # transfer (inline mode)
    "method.assign": "Assign a user to a SIP account",
    "method.unlink": "Transfer SIP account (unlink from tariff)",
    "method.assign.desc": "They use #{id} for calls; you keep managing and paying for it.",
    "method.unlink.desc": "#{id} becomes theirs: they own it and pay for it.",
    "offer.text": (
        "📞 {sender} sends you SIP account #{id} ({login}@{domain}).\n"
        "Method: <b>{method}</b>\n"
        "Press <b>Receive</b> within {minutes} min."
    ),
    "btn.receive": "📥 Receive",
    "offer.until": " (until {until})",
    "offer.received.assign": (
        "✅ {recipient} received SIP account #{id} from {sender}: assigned for calls; "
        "{sender} manages and pays for it."
    ),
    "offer.received.unlink": (
        "✅ {recipient} received SIP account #{id} from {sender}: it is now theirs "
        "(unlinked from {sender}'s tariff)."
    ),
    "offer.received.back": "✅ SIP account #{id} is back with {recipient}.",
    "offer.done": "Received.",
    "offer.failed": "❌ {error}",
    "btn.transfer_back": "↩️ Transfer back",
    "tb.title": "Take SIP account #{id} back",
    "tb.desc": "The password is right. Choose this to take the account back.",
    "tb.text": "↩️ {sender} takes SIP account #{id} back.",
    "tb.done": "↩️ SIP account #{id} is back with {sender}.",
    "tb.type_password": "Type the SIP password of #{id} after the ID",
    "btn.open_bot": "Open telesip",
    "sb.confirm": "{user}, send SIP account #{id} back to {to}?",
    "btn.yes_send_back": "Yes, send back",
    "sb.offer": (
        "↩️ {user} sends SIP account #{id} back to {to}.\n"
        "{to}, press <b>Receive</b> within {minutes} min."
    ),
    "sb.ended": "↩️ {user} returned SIP account #{id} to {to}.",
    # links
    "links.title": "<b>Settings links</b>",
    "links.empty": "No settings links yet.",
    "links.line": "#{account_id} {login}@{domain}: {state}{user}",
    "links.state.active": "waiting to be opened",
    "links.state.used": "opened",
    "links.state.revoked": "revoked",
    "links.state.expired": "expired",
    "links.pick": "Which account should the link hand out?",
    "links.none_to_pick": "You have no account to hand out; connect one in /softphone.",
    "links.created": (
        "Link for SIP account #{id} (single use, valid until {until}):\n{url}\n\n"
        "Whoever opens it first gets the account assigned."
    ),
    "links.qr": "QR code for SIP account #{id}",
    "links.revoked": "Link revoked.",
    "btn.new_link": "🔗 New link",
    "btn.new_link_account": "➕ New account for a link",
    "btn.revoke": "Revoke #{id}",
    # subscriptions
    "subs.title": "<b>Your plans</b>",
    "subs.line": "{plan}: {seats} seat(s)",
    "subs.unlimited": "unlimited",
    "subs.usage": "Seats used: {used}/{limit}. Softphone-Start accounts: {start}/{start_limit}.",
    "subs.assign_yes": "You can assign accounts to employees.",
    "subs.assign_no": "Assigning accounts to employees needs the office plan.",
    # notifications (R2 and the flows)
    "n.settings_changed": "The owner changed the settings of SIP account #{id}.",
    "n.disabled": "The owner disabled SIP account #{id}.",
    "n.deleted": "The owner deleted SIP account #{id}; it is no longer available to you.",
    "n.taken_back": "The owner took SIP account #{id} back; it is no longer assigned to you.",
    "n.returned": "{user} returned SIP account #{id} to you.",
    "n.assigned": "SIP account #{id} is now assigned to you for calls. See /softphone.",
    "n.unassigned": "SIP account #{id} is no longer assigned to you.",
    "n.transferred_back": "{user} took SIP account #{id} back.",
    "n.link_opened": "{user} opened your settings link: SIP account #{id} is assigned to them.",
    # generic
    "stale": "This button is out of date.",
    "unknown_text": "I did not understand that. /help",
    # errors by code
    "error": "Something went wrong. Please try again.",
    "error.account_not_found": (
        "SIP account #{account_id} does not exist (it may have been deleted)."
    ),
    "error.offer_not_found": "This offer does not exist.",
    "error.link_not_found": "This settings link does not exist.",
    "error.user_not_found": "Telegram user {user_id} is not known to this service yet.",
    "error.not_found": "Not found.",
    "error.permission_denied": "You may not do that.",
    "error.not_owner": "Only the owner of SIP account #{account_id} may do that.",
    "error.assigned_user": (
        "SIP account #{account_id} is assigned to you for calls; its owner manages it."
    ),
    "error.not_recipient": "This offer is meant for someone else.",
    "error.own_offer": "You cannot receive your own offer; send it to someone else.",
    "error.offer_expired": "This offer has expired. Ask the sender to transfer the account again.",
    "error.offer_already_received": "This offer has already been received.",
    "error.offer_replaced": "This offer was replaced by a newer one.",
    "error.offer_cancelled": "This offer was cancelled.",
    "error.link_used": "This settings link has already been used.",
    "error.link_expired": "This settings link has expired.",
    "error.link_revoked": "This settings link was revoked.",
    "error.seats_exhausted": (
        "No free seats: your plans allow {limit} paid SIP account(s). "
        "Free a seat or ask your operator for a larger plan."
    ),
    "error.method_not_allowed": (
        "Your plan does not allow this (assigning users needs the office plan)."
    ),
    "error.unknown_plan": "Unknown plan {plan}.",
    "error.wrong_password": "Wrong password.",
    "error.too_many_attempts": "Too many wrong passwords. Try again in {minutes} minute(s).",
    "error.invalid_input": "{message}",
    "error.invalid_settings": "Invalid SIP settings: {reason}",
    "error.conflict": "Someone changed this at the same moment; please try again.",
    "error.storage_unavailable": "The service is temporarily unavailable; please try again.",
    "error.config_error": "The service is misconfigured; please tell the operator.",
    "error.template_not_found": "Server template {template_id} does not exist.",
    "error.domain_error": "That is not possible.",
    "error.offer_error": "This offer cannot be received.",
    "error.link_error": "This settings link cannot be opened.",
    "error.billing_error": "Your plan does not allow this.",
    "error.password_error": "The password was not accepted.",
}

RU: dict[str, str] = {
    "cmd.softphone": "Ваши SIP-аккаунты",
    "cmd.links": "Ссылки с настройками",
    "cmd.subscriptions": "Тарифы и места",
    "cmd.help": "Как пользоваться ботом",
    "cmd.start": "Начать",
    "start.hello": (
        "Здравствуйте, {name}! telesip позволяет звонить и принимать звонки в Telegram "
        "через SIP-аккаунты.\n\n{help}"
    ),
    "help": (
        "/softphone: ваши SIP-аккаунты; <b>Новый</b> подключает аккаунт.\n"
        "/links: ссылки с настройками, чтобы выдать аккаунт сотруднику.\n"
        "/subscriptions: ваши тарифы и места.\n\n"
        "Чтобы передать аккаунт, откройте его карточку, нажмите <b>Передать</b>, выберите чат "
        "и способ; получатель нажимает <b>Получить</b> в течение {minutes} мин."
    ),
    "link.opened": (
        "SIP-аккаунт #{account_id} от {owner} закреплён за вами для звонков. См. /softphone."
    ),
    "sp.title": "<b>Ваши SIP-аккаунты</b>",
    "sp.empty": "У вас пока нет SIP-аккаунтов. Нажмите <b>Новый</b>, чтобы подключить.",
    "sp.assigned_title": "<b>Закреплены за вами</b>",
    "sp.line": "{badge} #{id} {login}@{domain}",
    "sp.line_user": " → {user}",
    "sp.line_assigned": "{badge} #{id} от {owner}",
    "btn.new": "➕ Новый",
    "btn.back": "« Назад",
    "card.title": "<b>SIP-аккаунт #{id}</b>",
    "card.server": "Сервер: {domain}{port} ({transport})",
    "card.login": "Логин: {login}",
    "card.state": "Состояние: {state}",
    "card.reg_error": "Последняя ошибка: {error}",
    "card.user": "Пользователь: {user}",
    "card.user_self": "Пользователь: вы",
    "card.owner": "Владелец: {owner}",
    "card.payer": "Оплачивает: {payer}",
    "card.duplicate": "⚠️ Тот же логин на том же сервере подключён в другом месте.",
    "card.pending": "Ожидается нажатие «Получить».",
    "card.firewall": "🛡 Разрешите на АТС: {addresses}",
    "cmd.workers": "SIP-воркеры и firewall",
    "workers.title": "<b>Воркеры</b> (держат ваши SIP-аккаунты зарегистрированными)",
    "workers.none": "Ни один воркер ещё не запущен.",
    "workers.line": "{badge} <b>{name}</b>{mine}: {state}, аккаунтов: {accounts}\n    {addresses}",
    "workers.yours": " (ваш)",
    "workers.alive": "работает",
    "workers.down": "не отвечает",
    "workers.revoked": "отозван",
    "workers.no_addresses": "адреса пока нет",
    "workers.hint": (
        "Свой воркер, например в сети офиса, достаёт до внутренней АТС: нажмите "
        "<b>Новый</b>, запустите его там и укажите в настройках аккаунта "
        "<code>worker = ИМЯ</code>. Ваши воркеры обслуживают только ваши аккаунты."
    ),
    "workers.ask_name": "Имя нового воркера (латинские буквы, цифры, '.', '_' или '-'):",
    "workers.created": (
        "✅ Воркер <b>{name}</b> создан. Ключ показан только сейчас; на машине воркера "
        "запустите:\n\n<code>TELESIP_WORKER_CREDENTIAL={credential} telesip worker "
        "--name {name} --control-url https://АДРЕС-TELESIP</code>"
    ),
    "workers.revoked_done": "Воркер {name} отозван: ему больше не ответят.",
    "btn.new_worker": "➕ Новый воркер",
    "btn.revoke_worker": "🚫 Отозвать {name}",
    "error.worker_refused": "Воркер {name} {reason}; ему нельзя держать регистрации.",
    "card.assigned_note": "Закреплён за вами для звонков; настройками управляет владелец.",
    "state.enabled": "включён",
    "state.disabled": "отключён",
    "reg.unknown": "ещё не зарегистрирован",
    "reg.registering": "регистрируется",
    "reg.registered": "зарегистрирован",
    "reg.auth_failed": "ошибка авторизации",
    "reg.unreachable": "сервер недоступен",
    "reg.failed": "ошибка регистрации",
    "reg.disabled": "не зарегистрирован",
    "payer.owner_plan": "ваша подписка",
    "payer.owner_plan_user": "подписка владельца",
    "payer.start": "тариф Softphone-Start",
    "payer.operator": "оператор",
    "btn.settings": "⚙️ Настройки",
    "btn.disable": "⏸ Отключить",
    "btn.enable": "▶️ Включить",
    "btn.transfer": "📤 Передать",
    "btn.take_back": "↩️ Забрать",
    "btn.delete": "🗑 Удалить",
    "btn.send_back": "↩️ Вернуть",
    "btn.yes_delete": "Да, удалить",
    "btn.yes_return": "Да, вернуть",
    "btn.cancel": "Отмена",
    "card.confirm_delete": (
        "Удалить SIP-аккаунт #{id} отовсюду? Регистрация снимается, пароль стирается."
    ),
    "card.confirm_return": "Вернуть SIP-аккаунт #{id} владельцу?",
    "card.deleted": "SIP-аккаунт #{id} удалён.",
    "card.returned": "SIP-аккаунт #{id} возвращён владельцу.",
    "card.disabled": "Отключён.",
    "card.enabled": "Включён.",
    "card.taken_back": "Забран у {user}.",
    "set.title": "<b>Настройки SIP-аккаунта #{id}</b>",
    "set.hint": (
        "Чтобы сменить логин, пароль или сервер, отправьте одну строку:\n"
        "<code>sip:ЛОГИН:ПАРОЛЬ@СЕРВЕР[:ПОРТ][;transport=udp|tcp|tls]</code>\n"
        "или строки <code>имя = значение</code>, например <code>proxy = sbc.example.com</code>, "
        "<code>codecs = PCMA, opus</code>, <code>dtmf = info</code>, <code>port = -</code> "
        "(имена: login, password, auth, server, registrar, proxy, transport, port, expires, "
        "name, codecs, dtmf, worker)."
    ),
    "set.saved": "Настройки сохранены.",
    "btn.edit_line": "✏️ Изменить",
    "new.login": (
        "Новый SIP-аккаунт. Отправьте <b>логин</b> (имя SIP-пользователя).\n\n"
        "Или весь аккаунт одной строкой:\n"
        "<code>sip:ЛОГИН:ПАРОЛЬ@СЕРВЕР[:ПОРТ][;transport=udp|tcp|tls]</code>"
    ),
    "new.password": "Теперь <b>пароль</b>. Я удалю ваше сообщение сразу после прочтения.",
    "new.server": "SIP-<b>сервер</b> (домен или IP, можно с :портом).",
    "new.proxy": "Исходящий <b>прокси</b>, если он нужен провайдеру; иначе нажмите «Пропустить».",
    "new.transport": "<b>Транспорт</b>?",
    "new.created": "SIP-аккаунт #{id} подключён.",
    "new.cancelled": "Отменено.",
    "new.edit_line": "Отправьте новые настройки SIP-аккаунта #{id}.",
    "new.bad": "{error}\nПопробуйте ещё раз.",
    "btn.skip": "Пропустить",
    "method.assign": "Назначить пользователя SIP-аккаунту",
    "method.unlink": "Передать SIP-аккаунт (отвязать от тарифа)",
    "method.assign.desc": "Получатель звонит с #{id}; управляете и платите по-прежнему вы.",
    "method.unlink.desc": "#{id} станет его: он владеет и платит за него.",
    "offer.text": (
        "📞 {sender} передаёт вам SIP-аккаунт #{id} ({login}@{domain}).\n"
        "Способ: <b>{method}</b>\n"
        "Нажмите <b>Получить</b> в течение {minutes} мин."
    ),
    "btn.receive": "📥 Получить",
    "offer.until": " (до {until})",
    "offer.received.assign": (
        "✅ {recipient} получил(а) SIP-аккаунт #{id} от {sender}: назначен для звонков; "
        "управляет и платит {sender}."
    ),
    "offer.received.unlink": (
        "✅ {recipient} получил(а) SIP-аккаунт #{id} от {sender}: теперь он принадлежит "
        "получателю (отвязан от тарифа {sender})."
    ),
    "offer.received.back": "✅ SIP-аккаунт #{id} снова у {recipient}.",
    "offer.done": "Получено.",
    "offer.failed": "❌ {error}",
    "btn.transfer_back": "↩️ Забрать обратно",
    "tb.title": "Забрать SIP-аккаунт #{id} обратно",
    "tb.desc": "Пароль верный. Выберите, чтобы забрать аккаунт.",
    "tb.text": "↩️ {sender} забирает SIP-аккаунт #{id} обратно.",
    "tb.done": "↩️ SIP-аккаунт #{id} снова у {sender}.",
    "tb.type_password": "Введите SIP-пароль #{id} после номера",
    "btn.open_bot": "Открыть telesip",
    "sb.confirm": "{user}, вернуть SIP-аккаунт #{id} пользователю {to}?",
    "btn.yes_send_back": "Да, вернуть",
    "sb.offer": (
        "↩️ {user} возвращает SIP-аккаунт #{id} пользователю {to}.\n"
        "{to}, нажмите <b>Получить</b> в течение {minutes} мин."
    ),
    "sb.ended": "↩️ {user} вернул(а) SIP-аккаунт #{id} пользователю {to}.",
    "links.title": "<b>Ссылки с настройками</b>",
    "links.empty": "Ссылок с настройками пока нет.",
    "links.line": "#{account_id} {login}@{domain}: {state}{user}",
    "links.state.active": "ждёт открытия",
    "links.state.used": "открыта",
    "links.state.revoked": "отозвана",
    "links.state.expired": "истекла",
    "links.pick": "Какой аккаунт выдать по ссылке?",
    "links.none_to_pick": "Нет аккаунта, который можно выдать; подключите его в /softphone.",
    "links.created": (
        "Ссылка на SIP-аккаунт #{id} (одноразовая, действует до {until}):\n{url}\n\n"
        "Кто откроет её первым, получит аккаунт."
    ),
    "links.qr": "QR-код для SIP-аккаунта #{id}",
    "links.revoked": "Ссылка отозвана.",
    "btn.new_link": "🔗 Новая ссылка",
    "btn.new_link_account": "➕ Новый аккаунт для ссылки",
    "btn.revoke": "Отозвать #{id}",
    "subs.title": "<b>Ваши тарифы</b>",
    "subs.line": "{plan}: мест {seats}",
    "subs.unlimited": "без ограничений",
    "subs.usage": "Занято мест: {used}/{limit}. Аккаунтов Softphone-Start: {start}/{start_limit}.",
    "subs.assign_yes": "Вы можете назначать аккаунты сотрудникам.",
    "subs.assign_no": "Назначать аккаунты сотрудникам можно на офисном тарифе.",
    "n.settings_changed": "Владелец изменил настройки SIP-аккаунта #{id}.",
    "n.disabled": "Владелец отключил SIP-аккаунт #{id}.",
    "n.deleted": "Владелец удалил SIP-аккаунт #{id}; он вам больше недоступен.",
    "n.taken_back": "Владелец забрал SIP-аккаунт #{id}; он больше не закреплён за вами.",
    "n.returned": "{user} вернул(а) вам SIP-аккаунт #{id}.",
    "n.assigned": "SIP-аккаунт #{id} закреплён за вами для звонков. См. /softphone.",
    "n.unassigned": "SIP-аккаунт #{id} больше не закреплён за вами.",
    "n.transferred_back": "{user} забрал(а) SIP-аккаунт #{id} обратно.",
    "n.link_opened": "{user} открыл(а) вашу ссылку: SIP-аккаунт #{id} закреплён за ним(ней).",
    "stale": "Эта кнопка устарела.",
    "unknown_text": "Не понял. /help",
    "error": "Что-то пошло не так. Попробуйте ещё раз.",
    "error.account_not_found": "SIP-аккаунта #{account_id} нет (возможно, он удалён).",
    "error.offer_not_found": "Такого предложения нет.",
    "error.link_not_found": "Такой ссылки с настройками нет.",
    "error.user_not_found": "Пользователь Telegram {user_id} ещё не известен сервису.",
    "error.not_found": "Не найдено.",
    "error.permission_denied": "Вам это нельзя.",
    "error.not_owner": "Это может только владелец SIP-аккаунта #{account_id}.",
    "error.assigned_user": (
        "SIP-аккаунт #{account_id} закреплён за вами для звонков; им управляет владелец."
    ),
    "error.not_recipient": "Это предложение адресовано другому человеку.",
    "error.own_offer": "Нельзя получить собственное предложение; отправьте его другому.",
    "error.offer_expired": "Срок предложения истёк. Попросите отправителя передать аккаунт снова.",
    "error.offer_already_received": "Это предложение уже получено.",
    "error.offer_replaced": "Это предложение заменено более новым.",
    "error.offer_cancelled": "Это предложение отменено.",
    "error.link_used": "Эта ссылка с настройками уже использована.",
    "error.link_expired": "Срок действия ссылки истёк.",
    "error.link_revoked": "Эта ссылка отозвана.",
    "error.seats_exhausted": (
        "Нет свободных мест: ваши тарифы позволяют {limit} платных SIP-аккаунтов. "
        "Освободите место или попросите оператора о большем тарифе."
    ),
    "error.method_not_allowed": (
        "Ваш тариф этого не позволяет (назначать пользователей можно на офисном тарифе)."
    ),
    "error.unknown_plan": "Неизвестный тариф {plan}.",
    "error.wrong_password": "Неверный пароль.",
    "error.too_many_attempts": "Слишком много неверных паролей. Повторите через {minutes} мин.",
    "error.invalid_input": "Так нельзя: {message}",
    "error.invalid_settings": "Неверные настройки SIP: {reason}",
    "error.conflict": "Кто-то изменил это в тот же момент; попробуйте ещё раз.",
    "error.storage_unavailable": "Сервис временно недоступен; попробуйте ещё раз.",
    "error.config_error": "Сервис настроен неверно; сообщите оператору.",
    "error.template_not_found": "Шаблона сервера {template_id} нет.",
    "error.domain_error": "Это невозможно.",
    "error.offer_error": "Это предложение нельзя получить.",
    "error.link_error": "Эту ссылку нельзя открыть.",
    "error.billing_error": "Ваш тариф этого не позволяет.",
    "error.password_error": "Пароль не принят.",
}

EN.update(locales_calls.EN)
RU.update(locales_calls.RU)
EN.update(locales_rewrite.EN)
RU.update(locales_rewrite.RU)
CATALOG: dict[str, dict[str, str]] = {"en": EN, "ru": RU}


def t(lang: str, key: str, **params: Any) -> str:
    """The text ``key`` in ``lang`` with ``params`` filled in (English when missing)."""
    template = CATALOG.get(lang, EN).get(key) or EN[key]
    return template.format(**params) if params else template


def error_text(lang: str, exc: TelesipError) -> str:
    """A rule error in the person's language; unknown codes fall back to the English message."""
    key = f"error.{exc.code}"
    if key not in EN:
        return html.escape(exc.message)
    params = {k: html.escape(str(v)) for k, v in exc.params.items()}
    params.setdefault("message", html.escape(exc.message))
    try:
        return t(lang, key, **params)
    except (KeyError, IndexError):
        return html.escape(exc.message)
