"""Server templates: the built-in catalog (``telesip/data/templates.json``) and templates that
operators (HTTP API) and users (bot) add. A template holds server fields only, never a login
or password; :meth:`Template.settings_fields` gives what to prefill in ``AccountSettings``.

Built-in templates have slug ids (``"asterisk"``); added ones have numeric ids (``"12"``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from telesip.domain import errors
from telesip.domain.errors import TemplateNotFound
from telesip.domain.settings import DTMF_MODES, EXPIRES_RANGE, TRANSPORTS, validate_host
from telesip.domain.templates import FIELDS, Template
from telesip.services.dependencies import Dependencies

#: an operator or a user may keep this many templates of their own
MAX_OWN_TEMPLATES = 200


@cache
def builtin_templates() -> tuple[Template, ...]:
    """The catalog shipped in the package (read once)."""
    text = resources.files("telesip").joinpath("data/templates.json").read_text("utf-8")
    return tuple(
        Template(
            id=item["id"],
            name=item["name"],
            kind=item["kind"],
            domain=item.get("domain"),
            **{k: item[k] for k in FIELDS if k != "domain" and item.get(k) is not None},
        )
        for item in json.loads(text)["templates"]
    )


def validate_template(name: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check a template's name and server fields; return the normalised pair."""
    name = name.strip()
    if not 1 <= len(name) <= 64 or any(ord(c) < 32 for c in name):
        raise errors.InvalidSettings(reason="template name must be 1-64 printable characters")
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise errors.InvalidSettings(
            reason=f"unknown template fields: {', '.join(sorted(unknown))}"
        )
    out: dict[str, Any] = {}
    for key in ("domain", "registrar", "outbound_proxy"):
        if data.get(key):
            out[key] = validate_host(str(data[key]), what=key.replace("_", " "))
    transport = str(data.get("transport") or "udp").lower()
    if transport not in TRANSPORTS:
        raise errors.InvalidSettings(reason="transport must be udp, tcp or tls")
    out["transport"] = transport
    for key in ("port", "tls_port"):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, int) or not 1 <= value <= 65535:
                raise errors.InvalidSettings(reason=f"{key} must be between 1 and 65535")
            out[key] = value
    expires = data.get("expires", 300)
    low, high = EXPIRES_RANGE  # the accounts' own range: a template fills in their settings
    if not isinstance(expires, int) or not low <= expires <= high:
        raise errors.InvalidSettings(reason=f"expires must be between {low} and {high} seconds")
    out["expires"] = expires
    dtmf = data.get("dtmf_mode") or "rfc4733"
    if dtmf not in DTMF_MODES:
        raise errors.InvalidSettings(reason="DTMF mode must be rfc4733, info or inband")
    out["dtmf_mode"] = dtmf
    notes = str(data.get("notes") or "")
    if len(notes) > 500:
        raise errors.InvalidSettings(reason="notes are at most 500 characters")
    out["notes"] = notes
    return name, out


async def list_templates(
    deps: Dependencies, *, operator: str | None = None, user_id: int | None = None
) -> list[Template]:
    """Built-in templates, then the operators' own (only ``operator``'s when given), then
    ``user_id``'s own."""
    async with deps.uow() as uow:
        own = await uow.templates.listing(operator=operator, user_id=user_id)
    return [*builtin_templates(), *own]


async def get_template(deps: Dependencies, template_id: str) -> Template:
    for template in builtin_templates():
        if template.id == template_id:
            return template
    if template_id.isdigit() and len(template_id) < 19:
        async with deps.uow() as uow:
            found = await uow.templates.get(int(template_id))
        if found is not None:
            return found
    raise TemplateNotFound(template_id=template_id)


async def create_template(
    deps: Dependencies,
    name: str,
    data: dict[str, Any],
    *,
    operator: str | None = None,
    user_id: int | None = None,
) -> Template:
    """Add an operator's (or a user's) own template."""
    if (operator is None) == (user_id is None):
        raise ValueError("a template belongs to an operator or to a user")
    name, data = validate_template(name, data)
    async with deps.uow() as uow:
        count = await uow.templates.count_of(operator=operator, user_id=user_id)
        if count >= MAX_OWN_TEMPLATES:
            raise errors.InvalidInput(f"at most {MAX_OWN_TEMPLATES} templates of your own")
        new_id = await uow.templates.add(
            operator=operator, user_id=user_id, name=name, data=data, now=uow.now
        )
        await uow.record("template_created", None, user_id, {"template_id": new_id, "name": name})
        made = await uow.templates.get(new_id)
        await uow.commit()
    assert made is not None  # added in this transaction
    return made


async def delete_template(
    deps: Dependencies, template_id: str, *, operator: str | None = None, user_id: int | None = None
) -> None:
    """Delete one's own template; built-in ones and other people's are not found."""
    if not template_id.isdigit() or len(template_id) >= 19:
        raise TemplateNotFound(template_id=template_id)
    async with deps.uow() as uow:
        if not await uow.templates.delete(int(template_id), operator=operator, user_id=user_id):
            raise TemplateNotFound(template_id=template_id)
        await uow.record("template_deleted", None, user_id, {"template_id": int(template_id)})
        await uow.commit()
