"""The New-account wizard's keyboards."""

from __future__ import annotations

from telesip.bot.callbacks import (
    NewCb,
)
from telesip.bot.locales import t
from telesip.bot.views.common import Keyboard, button, keyboard


def cancel_kb(lang: str) -> Keyboard:
    return keyboard([button(t(lang, "btn.cancel"), NewCb(act="cancel"))])


def skip_kb(lang: str) -> Keyboard:
    return keyboard(
        [
            button(t(lang, "btn.skip"), NewCb(act="skip")),
            button(t(lang, "btn.cancel"), NewCb(act="cancel")),
        ]
    )


def templates_kb(lang: str, found: list[tuple[str, str]]) -> Keyboard:
    """Server templates (R: prefill the server fields) under the server prompt."""
    rows = [[button(name[:40], NewCb(act="tpl", value=tid[:40]))] for tid, name in found]
    return keyboard(*rows, [button(t(lang, "btn.cancel"), NewCb(act="cancel"))])


def transport_kb(lang: str) -> Keyboard:
    return keyboard(
        [button(tr.upper(), NewCb(act="transport", value=tr)) for tr in ("udp", "tcp", "tls")],
        [button(t(lang, "btn.cancel"), NewCb(act="cancel"))],
    )
