"""The recording setting over the HTTP API: off by default, set at creation or by a patch,
never cleared with null, only true or false; a change is audited like any setting."""

from __future__ import annotations

import pytest

from telesip.services import audit

from .conftest import ALICE, Api, settings_body

V1 = "/api/v1"


async def _settings(api: Api, account_id: int) -> dict[str, object]:
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.status_code == 200, r.text
    settings: dict[str, object] = r.json()["settings"]
    return settings


async def test_recording_is_set_at_creation_and_by_a_patch(api: Api) -> None:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body()},
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    plain = r.json()["id"]
    assert r.json()["settings"]["record"] is False

    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body("101", record=True)},
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    assert (await _settings(api, r.json()["id"]))["record"] is True

    r = await api.client.patch(
        f"{V1}/accounts/{plain}/settings", json={"record": True}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    assert (await _settings(api, plain))["record"] is True
    records = await audit.account_audit(api.deps, None, plain)
    assert records[0].action == "settings_changed"
    assert records[0].details == {"fields": ["record"]}

    r = await api.client.patch(
        f"{V1}/accounts/{plain}/settings", json={"record": False}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    assert (await _settings(api, plain))["record"] is False


@pytest.mark.parametrize(
    ("value", "code"),
    [(None, "invalid_request"), ("maybe", "invalid_request"), ([True], "invalid_request")],
)
async def test_recording_takes_only_true_or_false(api: Api, value: object, code: str) -> None:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body(record=True)},
        headers=api.alice,
    )
    account_id = r.json()["id"]
    r = await api.client.patch(
        f"{V1}/accounts/{account_id}/settings", json={"record": value}, headers=api.alice
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert (await _settings(api, account_id))["record"] is True
