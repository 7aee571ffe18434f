"""What a person types to change an account's settings: the one-line ``sip:`` shortcut, or
``name = value`` lines (``proxy = sbc.example.com``, ``codecs = PCMA, opus``, ``port = -``).

Pure parsing into keyword arguments for ``accounts.update_settings``; the values are validated
there, with the rest of the settings. ``-`` (or nothing) clears an optional field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from telesip.domain.errors import InvalidSettings
from telesip.domain.settings import Secret, parse_shortcut


def _text(value: str) -> str:
    if not value:
        raise InvalidSettings(reason="a value is missing")
    return value


def _optional(value: str) -> str | None:
    return None if value in ("", "-") else value


def _int(value: str) -> int:
    if not re.fullmatch(r"\d{1,6}", value):
        raise InvalidSettings(reason=f"{value!r} is not a number")
    return int(value)


def _optional_int(value: str) -> int | None:
    return None if value in ("", "-") else _int(value)


def _codecs(value: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip())


FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "login": ("login", _text),
    "password": ("password", lambda v: Secret(_text(v))),
    "auth_username": ("auth_username", _optional),
    "auth": ("auth_username", _optional),
    "server": ("domain", _text),
    "domain": ("domain", _text),
    "registrar": ("registrar", _optional),
    "proxy": ("outbound_proxy", _optional),
    "outbound_proxy": ("outbound_proxy", _optional),
    "transport": ("transport", lambda v: _text(v).lower()),
    "port": ("port", _optional_int),
    "expires": ("expires", _int),
    "display_name": ("display_name", _optional),
    "name": ("display_name", _optional),
    "codecs": ("codecs", _codecs),
    "dtmf": ("dtmf_mode", _text),
    "dtmf_mode": ("dtmf_mode", _text),
    "worker": ("worker", _optional),
    "srtp": ("media_encryption", lambda v: _optional(v.lower())),  # "-": the transport's default
    "media_encryption": ("media_encryption", lambda v: _optional(v.lower())),
}


def parse_changes(text: str) -> dict[str, Any]:
    """Keyword arguments for ``update_settings`` or InvalidSettings with the reason."""
    text = text.strip()
    if text.lower().startswith(("sip:", "sips:")):
        new = parse_shortcut(text)
        return {
            "login": new.login,
            "password": new.password,
            "domain": new.domain,
            "port": new.port,
            "transport": new.transport,
        }
    changes: dict[str, Any] = {}
    for part in re.split(r"[\n;]+", text):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        key = name.strip().lower().replace(" ", "_")
        if not sep or key not in FIELDS:
            known = ", ".join(sorted(FIELDS))
            raise InvalidSettings(reason=f"expected name = value with a name among: {known}")
        field, convert = FIELDS[key]
        changes[field] = convert(value.strip())
    if not changes:
        raise InvalidSettings(reason="nothing to change")
    return changes
