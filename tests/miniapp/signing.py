"""initData as Telegram makes it, signed with a test bot token (tests and the benchmark)."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from telesip.domain.model import TelegramUser
from telesip.miniapp.initdata import sign

TOKEN = "123456:TEST-miniapp-token"


def init_data(user: TelegramUser, now: datetime, *, token: str = TOKEN, age: int = 5) -> str:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(
            {
                "id": user.id,
                "first_name": user.first_name,
                "username": user.username,
                "language_code": user.language_code or "en",
            },
            separators=(",", ":"),
        ),
        "auth_date": str(int(now.timestamp()) - age),
    }
    return urlencode({**fields, "hash": sign(fields, token)})


def auth(user: TelegramUser, now: datetime, **kw: object) -> dict[str, str]:
    return {"Authorization": "tma " + init_data(user, now, **kw)}  # type: ignore[arg-type]
