"""Accounts endpoints: every operation and permission case."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from telesip.domain.clock import FakeClock
from telesip.services import accounts as accounts_svc

from .conftest import ALICE, BOB, CAROL, DAVE, Api, settings_body

V1 = "/api/v1"


async def _create(api: Api, owner: int = ALICE, login: str = "100", **kw: object) -> int:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": owner, "first_name": "A"}, "settings": settings_body(login, **kw)},
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_create_read_list_an_account_without_its_password(api: Api) -> None:
    r = await api.client.post(
        f"{V1}/accounts",
        json={
            "owner": {"id": ALICE, "first_name": "Alice", "username": "alice"},
            "settings": settings_body(template="asterisk", display_name="Reception"),
        },
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["owner_id"] == ALICE and body["user_id"] == ALICE and not body["assigned"]
    assert body["registration"] == {"state": "unknown", "code": None, "error": None}
    assert body["settings"]["port"] == 5060 and body["settings"]["expires"] == 3600
    assert "s3cr3t" not in r.text and "password" not in body["settings"]
    account_id = body["id"]

    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.status_code == 200 and r.json()["settings"]["display_name"] == "Reception"
    await accounts_svc.report_registration(api.deps, account_id, "registered", 200)
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.json()["registration"] == {"state": "registered", "code": 200, "error": None}

    carols = await _create(api, CAROL, "200")
    r = await api.client.get(f"{V1}/accounts", headers=api.alice)
    assert [a["id"] for a in r.json()["accounts"]] == [account_id]
    r = await api.client.get(f"{V1}/accounts", headers=api.admin, params={"limit": 1})
    page = r.json()
    assert [a["id"] for a in page["accounts"]] == [account_id]
    r = await api.client.get(
        f"{V1}/accounts", headers=api.admin, params={"after_id": page["next_after_id"]}
    )
    assert [a["id"] for a in r.json()["accounts"]] == [carols]


async def test_missing_or_wrong_key_is_401_and_out_of_scope_is_403(api: Api) -> None:
    account_id = await _create(api)
    for headers in ({}, {"Authorization": "Bearer tsk_nope"}, {"Authorization": "Basic eDp5"}):
        r = await api.client.get(f"{V1}/accounts/{account_id}", headers=headers)
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_api_key"
        assert r.headers["www-authenticate"] == "Bearer"
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.carol)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    for method, path, body in (
        ("PATCH", f"/accounts/{account_id}/settings", {"port": 5070}),
        ("PUT", f"/accounts/{account_id}/enabled", {"enabled": False}),
        ("PUT", f"/accounts/{account_id}/operator-paid", {"paid": True}),
        ("POST", f"/accounts/{account_id}/assign", {"user": {"id": CAROL}}),
        ("POST", f"/accounts/{account_id}/take-back", None),
        ("DELETE", f"/accounts/{account_id}", None),
        ("GET", f"/accounts/{account_id}/audit", None),
        ("POST", f"/accounts/{account_id}/links", None),
        ("POST", "/offers", {"account_id": account_id, "method": "assign"}),
    ):
        r = await api.client.request(method, V1 + path, json=body, headers=api.carol)
        assert r.status_code == 403, (method, path, r.text)
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": DAVE}, "settings": settings_body()},
        headers=api.alice,
    )
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.alice)
    assert r.status_code == 200  # unchanged by all the refusals
    assert r.json()["enabled"] and r.json()["settings"]["port"] is None


async def test_settings_disable_enable_operator_paid_assign_take_back_delete(api: Api) -> None:
    account_id = await _create(api)
    url = f"{V1}/accounts/{account_id}"
    r = await api.client.patch(
        f"{url}/settings", json={"port": 5070, "password": "n3w-pass"}, headers=api.alice
    )
    assert r.status_code == 200 and r.json()["settings"]["port"] == 5070
    assert "n3w-pass" not in r.text
    r = await api.client.put(f"{url}/enabled", json={"enabled": False}, headers=api.alice)
    assert r.json()["enabled"] is False and r.json()["registration"]["state"] == "disabled"
    r = await api.client.put(f"{url}/enabled", json={"enabled": True}, headers=api.alice)
    assert r.json()["enabled"] is True
    r = await api.client.put(f"{url}/operator-paid", json={"paid": True}, headers=api.alice)
    assert r.json()["payer"] == "operator"
    r = await api.client.post(f"{url}/assign", json={"user": {"id": BOB}}, headers=api.alice)
    assert r.status_code == 200 and r.json()["user_id"] == BOB and r.json()["assigned"]
    r = await api.client.post(f"{url}/take-back", headers=api.alice)
    assert r.json()["user_id"] == ALICE
    r = await api.client.post(f"{url}/take-back", headers=api.alice)
    assert r.status_code == 409 and r.json()["code"] == "not_assigned"

    r = await api.client.get(f"{url}/audit", headers=api.alice, params={"limit": 3})
    page = r.json()
    assert [x["action"] for x in page["records"]] == ["taken_back", "reassigned", "payer_changed"]
    assert all(x["actor_id"] is None for x in page["records"])  # the operator did it
    r = await api.client.get(
        f"{url}/audit", headers=api.alice, params={"before_id": page["next_before_id"]}
    )
    assert [x["action"] for x in r.json()["records"]][-1] == "created"
    assert "n3w-pass" not in r.text and "s3cr3t" not in r.text

    r = await api.client.delete(url, headers=api.alice)
    assert r.status_code == 204
    r = await api.client.get(url, headers=api.alice)
    assert r.status_code == 404 and r.json()["code"] == "account_not_found"
    r = await api.client.delete(url, headers=api.alice)
    assert r.status_code == 404
    r = await api.client.get(f"{url}/audit", headers=api.alice)
    assert r.status_code == 404  # whose it was is not known to a scoped key
    r = await api.client.get(f"{url}/audit", headers=api.admin, params={"limit": 1})
    assert [x["action"] for x in r.json()["records"]] == ["deleted"]  # the log outlives it
    r = await api.client.get(f"{V1}/accounts/424242/audit", headers=api.admin)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"domain": "not a host!"}, 422, "invalid_request"),  # the schema says a host name
        ({"domain": None}, 422, "invalid_request"),  # cannot be cleared: the schema says
        ({"port": 70000}, 422, "invalid_request"),
        ({"port": "x"}, 422, "invalid_request"),
        ({"colour": "red"}, 422, "invalid_request"),
        ({"display_name": "a\x00b"}, 422, "invalid_request"),
        ({}, 422, "invalid_input"),
        ({"rewrite_rules": [["(", "x"]]}, 422, "invalid_settings"),
    ],
)
async def test_bad_settings_are_4xx_and_change_nothing(
    api: Api, body: dict[str, object], status: int, code: str
) -> None:
    account_id = await _create(api)
    r = await api.client.patch(f"{V1}/accounts/{account_id}/settings", json=body, headers=api.admin)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    r = await api.client.get(f"{V1}/accounts/{account_id}", headers=api.admin)
    assert r.json()["settings"]["domain"] == "pbx.example.com"


async def test_bad_requests_of_any_kind_are_json_4xx(api: Api) -> None:
    h = api.admin
    r = await api.client.post(
        f"{V1}/accounts", content=b"{not json", headers=h | {"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = await api.client.post(f"{V1}/accounts", json=[1, 2], headers=h)
    assert r.status_code == 422
    r = await api.client.get(f"{V1}/accounts/99999", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "account_not_found"
    r = await api.client.get(f"{V1}/accounts/{2**70}", headers=h)
    assert r.status_code == 422
    r = await api.client.get(f"{V1}/accounts/abc", headers=h)  # ids are numbers: no address
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await api.client.get(f"{V1}/nothing-here", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    big = b'{"owner": {"id": 1}, "settings": {"login": "' + b"x" * 70_000 + b'"}}'
    r = await api.client.post(
        f"{V1}/accounts", content=big, headers=h | {"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 1000

    r = await api.client.post(
        f"{V1}/accounts", content=chunks(), headers=h | {"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body(domain="bad..host")},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/settings/domain"
    r = await api.client.get(f"{V1}/accounts", headers=h)
    assert r.json()["accounts"] == []  # nothing half-written


async def test_seats_exhausted_is_402(api: Api) -> None:
    r = await api.client.put(
        f"{V1}/users/{ALICE}/subscription", json={"plan": "free", "seats": 1}, headers=api.alice
    )
    assert r.status_code == 200, r.text
    await _create(api, ALICE, "1")
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body("2")},
        headers=api.alice,
    )
    assert r.status_code == 402 and r.json()["code"] == "seats_exhausted"


async def test_concurrent_creates_never_exceed_the_seats(api: Api) -> None:
    r = await api.client.put(
        f"{V1}/users/{ALICE}/subscription",
        json={"plan": "softphone", "seats": 3},
        headers=api.alice,
    )
    assert r.status_code == 200

    async def create(n: int) -> int:
        r = await api.client.post(
            f"{V1}/accounts",
            json={"owner": {"id": ALICE}, "settings": settings_body(f"c{n}")},
            headers=api.alice,
        )
        return r.status_code

    statuses = await asyncio.gather(*(create(n) for n in range(8)))
    assert sorted(statuses) == [201] * 3 + [402] * 5
    r = await api.client.get(f"{V1}/accounts", headers=api.alice)
    assert len(r.json()["accounts"]) == 3


async def test_unused_accounts_are_listed_in_scope(api: Api, clock: FakeClock) -> None:
    """R11: GET /accounts/unused lists enabled accounts with no call and no registration
    change for TELESIP_UNUSED_DAYS days, within the key's scope; a disabled one is not."""
    api.deps.rules = dataclasses.replace(api.deps.rules, unused_days=30)
    alices = await _create(api, ALICE, "801")
    carols = await _create(api, CAROL, "802")
    off = await _create(api, ALICE, "803")
    r = await api.client.put(
        f"{V1}/accounts/{off}/enabled", json={"enabled": False}, headers=api.admin
    )
    assert r.status_code == 200, r.text
    r = await api.client.get(f"{V1}/accounts/unused", headers=api.admin)
    assert r.status_code == 200 and r.json()["accounts"] == []
    clock.advance(31 * 86400)
    r = await api.client.get(f"{V1}/accounts/unused", headers=api.admin)
    assert [a["id"] for a in r.json()["accounts"]] == [alices, carols]
    r = await api.client.get(f"{V1}/accounts/unused", headers=api.alice)
    assert [a["id"] for a in r.json()["accounts"]] == [alices]
    r = await api.client.get(f"{V1}/accounts/unused", headers=api.alice, params={"owner_id": CAROL})
    assert r.status_code == 403
    r = await api.client.get(
        f"{V1}/accounts/unused", headers=api.admin, params={"owner_id": CAROL, "limit": 1}
    )
    assert [a["id"] for a in r.json()["accounts"]] == [carols]
    assert r.json()["next_after_id"] == carols


async def test_a_copy_of_a_connected_line_is_created_disabled_and_enabling_it_is_409(
    api: Api,
) -> None:
    """R11: the line registers once; the copy's problem names the line, not its holder."""
    first = await _create(api, CAROL, "901")
    copy = await _create(api, ALICE, "901")
    r = await api.client.get(f"{V1}/accounts/{copy}", headers=api.alice)
    body = r.json()
    assert body["enabled"] is False and body["duplicate"] is True
    assert "already connected" in body["registration"]["error"]
    r = await api.client.put(
        f"{V1}/accounts/{copy}/enabled", json={"enabled": True}, headers=api.alice
    )
    assert r.status_code == 409 and r.json()["code"] == "line_connected", r.text
    assert str(CAROL) not in r.text
    r = await api.client.get(f"{V1}/accounts/{first}", headers=api.admin)
    assert r.json()["enabled"] is True
