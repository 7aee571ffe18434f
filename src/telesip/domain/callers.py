"""Caller accounts as people see them: the Telegram user accounts that ring them.

The bot tells people which account will call them so they can allow its calls in their
privacy settings; what it shows is public (name, @username) plus a masked phone for operators.
The sessions themselves never leave the process that holds them (``telesip.calls.telegram``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_VISIBLE_HEAD = 1  # the first digit (the country code's first) stays readable
_VISIBLE_TAIL = 4


def mask_phone(phone: str | None) -> str | None:
    """``79161234567`` (or ``+7 916 123-45-67``) -> ``+7******4567``; None stays None.

    Numbers too short to keep anything back are masked whole."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return None
    hidden = len(digits) - _VISIBLE_HEAD - _VISIBLE_TAIL
    if hidden < 2:
        return "+" + "*" * len(digits)
    return f"+{digits[:_VISIBLE_HEAD]}{'*' * hidden}{digits[-_VISIBLE_TAIL:]}"


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """One caller account as stored for every process (table ``telegram_callers``)."""

    id: int  # the Telegram user id
    name: str
    username: str | None = None
    phone: str | None = None  # masked, see ``mask_phone``
    updated_at: datetime | None = None

    @property
    def label(self) -> str:
        """``@telesip_calls (Telesip Calls)``; the name alone without a username."""
        if not self.username:
            return self.name
        handle = f"@{self.username}"
        return handle if self.name in ("", handle) else f"{handle} ({self.name})"
