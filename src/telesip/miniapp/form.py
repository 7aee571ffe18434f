"""The settings form: what a person typed, turned into ``accounts.update_settings`` changes,
and each rule error put next to the field that broke it.

The rules are the domain's (``AccountSettings.validated``) and the service checks them again
when it writes; this module only finds *which* field a refusal is about, by validating the
current settings with one changed field at a time. The password is never shown: an empty
password field means "keep it".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from telesip.domain.errors import InvalidSettings
from telesip.domain.settings import DTMF_MODES, TRANSPORTS, AccountSettings, Secret

__all__ = ["FIELDS", "OPTIONAL", "Parsed", "current_values", "field_errors", "parse"]

#: the form's fields, in the order shown
FIELDS = (
    "login",
    "password",
    "domain",
    "auth_username",
    "registrar",
    "outbound_proxy",
    "transport",
    "port",
    "expires",
    "display_name",
    "codecs",
    "dtmf_mode",
    "worker",
    "record",
)
OPTIONAL = frozenset({"auth_username", "registrar", "outbound_proxy", "display_name", "worker"})
CHOICES: dict[str, tuple[str, ...]] = {"transport": TRANSPORTS, "dtmf_mode": DTMF_MODES}
MAX_VALUE = 512  # longer than any valid field: refused before anything else looks at it


class NotANumber(ValueError):
    pass


def _number(value: str) -> int:
    if not re.fullmatch(r"\d{1,6}", value):
        raise NotANumber(value)
    return int(value)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "port": lambda v: _number(v) if v else None,
    "expires": _number,
    "codecs": lambda v: tuple(c.strip() for c in v.split(",") if c.strip()),
    "password": Secret,
}


@dataclass
class Parsed:
    changes: dict[str, Any] = field(default_factory=dict)
    #: field -> (catalog key, params): the texts are the caller's (the person's language)
    errors: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


def current_values(public: Mapping[str, Any]) -> dict[str, Any]:
    """The card's settings (``public_dict``) as ``AccountSettings`` field values."""
    values = dict(public)
    values["codecs"] = tuple(values.get("codecs") or ())
    values["rewrite_rules"] = tuple(tuple(r) for r in values.get("rewrite_rules") or ())
    return values


def parse(form: Mapping[str, Any], current: Mapping[str, Any]) -> Parsed:
    """The fields that differ from ``current`` (from :func:`current_values`), typed."""
    out = Parsed()
    for name in FIELDS:
        raw = form.get(name)
        if name == "record":
            value: Any = raw in (True, "on", "true", "1")
        else:
            if raw is None:
                continue  # not sent: unchanged
            text = str(raw).strip() if name != "password" else str(raw)
            if len(text) > MAX_VALUE:
                out.errors[name] = ("error.invalid_settings", {"reason": "the value is too long"})
                continue
            if name == "password" and not text:
                continue
            try:
                value = _PARSERS[name](text) if name in _PARSERS else text
            except NotANumber:
                out.errors[name] = ("miniapp.not_a_number", {"value": text})
                continue
            if name in OPTIONAL and value == "":
                value = None
        if name == "password" or value != current.get(name):
            out.changes[name] = value
    return out


def field_errors(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, str]:
    """field -> the domain's reason, for each change the rules refuse on its own."""
    known = {f.name for f in dataclasses.fields(AccountSettings)}
    base = AccountSettings(
        **{k: v for k, v in current.items() if k in known and k != "password"},
        password=Secret("unchanged"),  # the real one is not read: a placeholder passes
    )
    found: dict[str, str] = {}
    for name, value in changes.items():
        try:
            dataclasses.replace(base, **{name: value}).validated()
        except InvalidSettings as exc:
            found[name] = str(exc.params.get("reason", exc.message))
    return found
