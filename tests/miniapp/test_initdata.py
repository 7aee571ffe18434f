"""initData verification against Telegram's documented algorithm, written out here by hand
(not through ``initdata.sign``): a wrong key derivation would fail these."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from telesip.domain.errors import InitDataRejected
from telesip.miniapp.initdata import verify

TOKEN = "7000000001:AAF-documented-example-token"
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
USER = {"id": 279058397, "first_name": "Vladislav", "username": "vdkfrost", "language_code": "ru"}


def _telegram_signed(fields: dict[str, str], *, key_first: bool = True) -> str:
    """What Telegram sends: the fields URL-encoded and a hash of the data-check-string."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items())).encode()
    if key_first:  # secret = HMAC_SHA256(key="WebAppData", msg=bot_token)
        secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    else:  # the usual mistake: key and message swapped
        secret = hmac.new(TOKEN.encode(), b"WebAppData", hashlib.sha256).digest()
    digest = hmac.new(secret, check, hashlib.sha256).hexdigest()
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items()) + f"&hash={digest}"


def _fields(**extra: str) -> dict[str, str]:
    return {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(USER, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(NOW.timestamp()) - 30),
        "signature": "6fbdaab833d39f54518bd5c3eb3f511d035e68cb",  # Bot API 8.0 adds it
        **extra,
    }


def test_telegrams_signature_is_accepted() -> None:
    user = verify(_telegram_signed(_fields()), TOKEN, now=NOW, max_age=3600)
    assert (user.id, user.first_name, user.username, user.language_code) == (
        279058397,
        "Vladislav",
        "vdkfrost",
        "ru",
    )


def test_a_swapped_key_derivation_is_refused() -> None:
    with pytest.raises(InitDataRejected, match="not signed"):
        verify(_telegram_signed(_fields(), key_first=False), TOKEN, now=NOW, max_age=3600)


def test_every_field_is_signed() -> None:
    data = _telegram_signed(_fields(start_param="x"))
    with pytest.raises(InitDataRejected, match="not signed"):
        verify(data.replace("start_param=x", "start_param=y"), TOKEN, now=NOW, max_age=3600)
    with pytest.raises(InitDataRejected, match="not signed"):
        verify(data.replace("&hash=", "&hash=0"), TOKEN, now=NOW, max_age=3600)


def test_the_age_limit_is_the_settings() -> None:
    data = _telegram_signed(_fields())
    verify(data, TOKEN, now=NOW, max_age=30)
    with pytest.raises(InitDataRejected, match="too old"):
        verify(data, TOKEN, now=NOW, max_age=29)


def test_doctor_says_where_the_mini_app_opens() -> None:
    from telesip.config import Settings
    from telesip.doctor.network import check_miniapp

    assert check_miniapp(Settings()) == []  # no bot: no buttons to speak of
    off = check_miniapp(Settings(bot_token=TOKEN))  # type: ignore[arg-type]
    assert "TELESIP_PUBLIC_URL" in off[0].fix and off[0].status.value == "ok"
    on = check_miniapp(Settings(bot_token=TOKEN, public_url="https://sip.example.com/"))  # type: ignore[arg-type]
    assert on[0].message.startswith("opens at https://sip.example.com/miniapp/")


@pytest.mark.parametrize("url", ["http://sip.example.com", "sip.example.com", "https://x/?a=1"])
def test_the_public_url_must_be_https(url: str) -> None:
    from pydantic import ValidationError

    from telesip.config import Settings

    with pytest.raises(ValidationError, match="https://"):
        Settings(public_url=url)
