"""/bulk: many accounts at once: the menu of groups with their counts, the "Disable 37
accounts?" question, and what was done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from telesip.bot.callbacks import BulkCb
from telesip.bot.locales import t
from telesip.bot.views.common import Keyboard, button, keyboard

#: each operation of the menu: the group it acts on, and the question's catalog key
OPERATIONS: Mapping[str, tuple[str, str]] = {
    "links": ("unassigned", "bulk.confirm.links"),
    "disable": ("enabled", "bulk.confirm.disable"),
    "unused": ("unused", "bulk.confirm.disable"),
    "enable": ("disabled", "bulk.confirm.enable"),
    "delete": ("disabled", "bulk.confirm.delete"),
}


def menu(lang: str, counts: Mapping[str, int]) -> tuple[str, Keyboard]:
    """The owner's counts and a button per operation that has accounts to act on."""
    text = t(
        lang,
        "bulk.menu",
        total=counts["enabled"] + counts["disabled"],
        enabled=counts["enabled"],
        disabled=counts["disabled"],
        unassigned=counts["unassigned"],
        unused=counts["unused"],
    )
    rows = [
        [button(t(lang, f"bulk.btn.{op}", count=counts[group]), BulkCb(act="ask", op=op))]
        for op, (group, _) in OPERATIONS.items()
        if counts[group]
    ]
    return text, keyboard(*rows)


def confirm(lang: str, op: str, n: int, digest: str) -> tuple[str, Keyboard]:
    """ "Disable 37 accounts?" with Yes (37) and Cancel."""
    _, key = OPERATIONS[op]
    return t(lang, key, count=n), keyboard(
        [
            button(t(lang, "bulk.btn.yes", count=n), BulkCb(act="go", op=op, n=n, h=digest)),
            button(t(lang, "bulk.btn.no"), BulkCb(act="no")),
        ]
    )


def done(lang: str, op: str, changed: Sequence[int]) -> str:
    key = {"unused": "disable"}.get(op, op)
    return t(lang, f"bulk.done.{key}", count=len(changed))
