"""The server templates catalog and operators'/users' own templates (service level)."""

from __future__ import annotations

import pytest

from telesip.domain import errors
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import templates
from telesip.services.dependencies import Dependencies

REQUIRED = {"asterisk", "freepbx", "freeswitch", "3cx", "yeastar-p", "grandstream-ucm", "kamailio"}


def test_catalog_covers_the_common_pbxs_with_transport_and_port() -> None:
    catalog = {t.id: t for t in templates.builtin_templates()}
    assert set(catalog) >= REQUIRED
    assert any(t.kind == "hosted" for t in catalog.values())
    for t in catalog.values():
        assert t.transport in ("udp", "tcp", "tls") and t.port and 1 <= t.port <= 65535
        fields = t.settings_fields()
        # every template prefills settings that pass the account validation
        AccountSettings(
            login="100", password=Secret("pw"), **{"domain": "pbx.example.com", **fields}
        ).validated()
    assert catalog["freepbx-chan-sip"].port == 5160


async def test_own_templates_are_listed_validated_and_deleted_by_their_owner(
    services: Dependencies,
) -> None:
    mine = await templates.create_template(
        services, "Office PBX", {"domain": "PBX.Corp.Example", "port": 5080}, operator="acme"
    )
    assert mine.domain == "pbx.corp.example" and not mine.builtin
    await templates.create_template(services, "Other", {"transport": "tls"}, operator="other")
    users = await templates.create_template(services, "Home", {"port": 5062}, user_id=42)
    acme = await templates.list_templates(services, operator="acme")
    assert [t.name for t in acme if not t.builtin] == ["Office PBX"]
    for_user = await templates.list_templates(services, user_id=42)
    assert {t.name for t in for_user if not t.builtin} == {"Office PBX", "Other", "Home"}
    assert (await templates.get_template(services, mine.id)).port == 5080
    assert (await templates.get_template(services, "asterisk")).builtin

    with pytest.raises(errors.TemplateNotFound):
        await templates.delete_template(services, mine.id, operator="other")
    with pytest.raises(errors.TemplateNotFound):
        await templates.delete_template(services, "asterisk", operator="acme")
    await templates.delete_template(services, mine.id, operator="acme")
    await templates.delete_template(services, users.id, user_id=42)
    assert [t.name for t in await templates.list_templates(services) if not t.builtin] == ["Other"]
    with pytest.raises(errors.InvalidSettings):
        await templates.create_template(services, "Bad", {"domain": "bad host!"}, operator="a")
    with pytest.raises(errors.InvalidSettings):
        await templates.create_template(services, "Bad", {"password": "x"}, operator="a")


async def test_a_templates_expires_has_the_accounts_range(services: Dependencies) -> None:
    """What a template prefills, an account accepts: the same range as the API's schema says
    (EXPIRES_RANGE), not a stricter one of the templates' own."""
    from telesip.domain.settings import EXPIRES_RANGE

    low, high = EXPIRES_RANGE
    for ok in (low, 300, high):
        made = await templates.create_template(services, f"E{ok}", {"expires": ok}, operator="a")
        assert made.expires == ok
    for bad in (low - 1, high + 1, "300"):
        with pytest.raises(errors.InvalidSettings, match=f"between {low} and {high}"):
            await templates.create_template(services, "Bad", {"expires": bad}, operator="a")
