"""The media encryption (SRTP) setting over the HTTP API: the transport's default (optional
over TLS, off otherwise) until it is set, set at creation or by a patch, back to the default
with null, only off, optional or required; the worker's line config carries it."""

from __future__ import annotations

import pytest

from telesip.services import audit
from telesip.services.common import load_account
from telesip.workers.lines import to_config

from .conftest import ALICE, Api, settings_body

V1 = "/api/v1"


async def _settings(api: Api, account_id: int) -> dict[str, object]:
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.status_code == 200, r.text
    settings: dict[str, object] = r.json()["settings"]
    return settings


async def _create(api: Api, login: str, **kw: object) -> int:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body(login, **kw)},
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    account_id: int = r.json()["id"]
    return account_id


async def _config_encryption(api: Api, account_id: int) -> str:
    async with api.deps.uow() as uow:  # what a worker gets for the line
        account = await load_account(uow, account_id)
    return to_config(account).media_encryption


async def test_defaults_follow_the_transport_and_a_patch_sets_or_clears(api: Api) -> None:
    udp = await _create(api, "100")
    tls = await _create(api, "101", transport="tls")
    assert (await _settings(api, udp))["media_encryption"] == "off"
    assert (await _settings(api, tls))["media_encryption"] == "optional"
    required = await _create(api, "102", media_encryption="required")
    assert (await _settings(api, required))["media_encryption"] == "required"

    r = await api.client.patch(
        f"{V1}/accounts/{udp}/settings", json={"media_encryption": "required"}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    assert (await _settings(api, udp))["media_encryption"] == "required"
    assert (await _config_encryption(api, udp)) == "required"
    records = await audit.account_audit(api.deps, None, udp)
    assert records[0].details == {"fields": ["media_encryption"]}

    r = await api.client.patch(
        f"{V1}/accounts/{udp}/settings", json={"media_encryption": None}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    assert (await _settings(api, udp))["media_encryption"] == "off"  # the default again
    r = await api.client.patch(
        f"{V1}/accounts/{udp}/settings", json={"transport": "tls"}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    assert (await _settings(api, udp))["media_encryption"] == "optional"
    assert (await _config_encryption(api, udp)) == "optional"


@pytest.mark.parametrize("value", ["sdes", "on", True, 1])
async def test_only_off_optional_or_required(api: Api, value: object) -> None:
    account_id = await _create(api, "100")
    r = await api.client.patch(
        f"{V1}/accounts/{account_id}/settings", json={"media_encryption": value}, headers=api.alice
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request"
    assert (await _settings(api, account_id))["media_encryption"] == "off"
