"""What the bot shows: texts (from the catalog) and inline keyboards, built from service results.

Pure functions of their arguments: no I/O, no services. Everything a person typed (names,
logins, server names) is HTML-escaped here, because messages are sent with parse_mode HTML.

One module per feature (common, cards, calls, wizard, transfer, lists, imports); the routers use
them as ``views.<name>`` through this package.
"""

from __future__ import annotations

from telesip.bot.views.calls import history, history_row
from telesip.bot.views.cards import (
    PAGE_SIZE,
    SETTING_NAMES,
    card,
    confirm_card_send_back,
    confirm_delete,
    owner_keyboard,
    pager,
    reg_why,
    rewrite_rules,
    rule_digest,
    settings,
    softphone,
    state_line,
    unused,
)
from telesip.bot.views.common import BADGES, Keyboard, badge, user_label
from telesip.bot.views.imports import PREVIEW_ISSUES, import_done, import_issue, import_preview
from telesip.bot.views.lists import links, pick_account, subscriptions, workers
from telesip.bot.views.transfer import (
    confirm_send_back_kb,
    offer_results,
    receive_kb,
    received_kb,
    take_back_result,
)
from telesip.bot.views.wizard import cancel_kb, skip_kb, templates_kb, transport_kb

__all__ = [
    "BADGES",
    "PAGE_SIZE",
    "PREVIEW_ISSUES",
    "SETTING_NAMES",
    "Keyboard",
    "badge",
    "cancel_kb",
    "card",
    "confirm_card_send_back",
    "confirm_delete",
    "confirm_send_back_kb",
    "history",
    "history_row",
    "import_done",
    "import_issue",
    "import_preview",
    "links",
    "offer_results",
    "owner_keyboard",
    "pager",
    "pick_account",
    "receive_kb",
    "received_kb",
    "reg_why",
    "rewrite_rules",
    "rule_digest",
    "settings",
    "skip_kb",
    "softphone",
    "state_line",
    "subscriptions",
    "take_back_result",
    "templates_kb",
    "transport_kb",
    "unused",
    "user_label",
    "workers",
]
