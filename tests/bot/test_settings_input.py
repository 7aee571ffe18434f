"""Parsing what people type to change settings."""

from __future__ import annotations

import pytest

from telesip.bot.settings_input import parse_changes
from telesip.domain.errors import InvalidSettings
from telesip.domain.settings import Secret


def test_shortcut_and_lines() -> None:
    assert parse_changes("sip:7:pw@pbx.example.com:5080;transport=tcp") == {
        "login": "7",
        "password": Secret("pw"),
        "domain": "pbx.example.com",
        "port": 5080,
        "transport": "tcp",
    }
    assert parse_changes("proxy = -; port=5062\nCodecs = PCMA,opus") == {
        "outbound_proxy": None,
        "port": 5062,
        "codecs": ("PCMA", "opus"),
    }


def test_media_encryption_by_name_and_back_to_the_default() -> None:
    assert parse_changes("srtp = Required") == {"media_encryption": "required"}
    assert parse_changes("media encryption = off") == {"media_encryption": "off"}
    assert parse_changes("srtp = -") == {"media_encryption": None}


@pytest.mark.parametrize("text", ["", "colour = red", "port = many", "login =", "just words"])
def test_bad_input(text: str) -> None:
    with pytest.raises(InvalidSettings):
        parse_changes(text)
