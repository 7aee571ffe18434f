"""Telegram Mini App ``initData``: who is asking, proved with the bot token.

Telegram opens the page with ``initData``, a query string (``auth_date``, ``user``, ...,
``hash``). It is genuine when ``hash`` is the hex HMAC-SHA256 of the *data-check-string* (every
other field as ``key=value``, sorted by key, joined by ``\\n``) keyed with
``HMAC_SHA256(key="WebAppData", msg=bot_token)``. The page sends it with every request
(``Authorization: tma <initData>``) and :func:`verify` checks it every time; nothing is kept
between requests (no session, no cookie).

Invariants: the comparison is constant-time (``hmac.compare_digest``); data older than
``max_age`` seconds (or dated in the future beyond a small clock skew) is refused; the acting
user is taken only from the verified ``user`` field; nothing of the input is logged. Pure: the
caller passes ``now`` (the services' clock) and the token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import parse_qsl

from telesip.domain.errors import InitDataRejected
from telesip.domain.model import TelegramUser

__all__ = ["MAX_LENGTH", "InitDataRejected", "sign", "verify"]

#: Telegram's initData is well under a kilobyte; anything this long is not one
MAX_LENGTH = 8192
#: a device clock a little ahead of ours is not an attack
ALLOWED_SKEW_SECONDS = 60


def _secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _check_string(fields: dict[str, str]) -> bytes:
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The ``hash`` Telegram would put next to ``fields`` (for tests and the benchmark)."""
    return hmac.new(_secret_key(bot_token), _check_string(fields), hashlib.sha256).hexdigest()


def verify(init_data: str, bot_token: str, *, now: datetime, max_age: int) -> TelegramUser:
    """The Telegram user ``init_data`` was issued for, or :class:`InitDataRejected`."""
    if not init_data:
        raise InitDataRejected(reason="missing")
    if len(init_data) > MAX_LENGTH:
        raise InitDataRejected(reason="too long")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataRejected(reason="malformed") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataRejected(reason="malformed (a field is repeated)")
    received = fields.pop("hash", "")
    expected = sign(fields, bot_token)
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise InitDataRejected(reason="not signed by this bot")
    try:
        auth_date = int(fields["auth_date"])
    except (KeyError, ValueError):
        raise InitDataRejected(reason="undated") from None
    age = now.timestamp() - auth_date
    if age > max_age:
        raise InitDataRejected(reason="too old")
    if age < -ALLOWED_SKEW_SECONDS:
        raise InitDataRejected(reason="dated in the future")
    return _user(fields.get("user"))


def _user(raw: str | None) -> TelegramUser:
    try:
        user = json.loads(raw or "")
        user_id = user["id"]
    except (ValueError, TypeError, KeyError):
        raise InitDataRejected(reason="without a user") from None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise InitDataRejected(reason="without a user")

    def text(key: str) -> str | None:
        value = user.get(key)
        return value if isinstance(value, str) else None

    return TelegramUser(user_id, text("first_name") or "", text("username"), text("language_code"))
