"""Server templates and subscriptions through the API."""

from __future__ import annotations

from .conftest import ALICE, CAROL, DAVE, Api

V1 = "/api/v1"


async def test_templates_list_create_delete_per_operator(api: Api) -> None:
    r = await api.client.get(f"{V1}/templates", headers=api.alice)
    assert r.status_code == 200
    builtin = {t["id"] for t in r.json()}
    assert {"asterisk", "freepbx", "freeswitch", "3cx", "grandstream-ucm", "kamailio"} <= builtin
    r = await api.client.post(
        f"{V1}/templates",
        json={"name": "HQ PBX", "domain": "pbx.hq.example", "transport": "tls", "port": 5061},
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["builtin"] is False and mine["kind"] == "custom" and mine["port"] == 5061
    r = await api.client.get(f"{V1}/templates", headers=api.carol)
    assert mine["id"] not in {t["id"] for t in r.json()}  # another operator's
    r = await api.client.delete(f"{V1}/templates/{mine['id']}", headers=api.carol)
    assert r.status_code == 404
    r = await api.client.delete(f"{V1}/templates/asterisk", headers=api.alice)
    assert r.status_code == 404 and r.json()["code"] == "template_not_found"
    r = await api.client.post(
        f"{V1}/templates", json={"name": "Bad", "domain": "-bad-"}, headers=api.alice
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/domain"
    r = await api.client.post(f"{V1}/templates", json={"name": ""}, headers=api.alice)
    assert r.status_code == 422

    r = await api.client.post(
        f"{V1}/accounts",
        json={
            "owner": {"id": ALICE},
            "settings": {"login": "7", "password": "p", "template": mine["id"]},
        },
        headers=api.alice,
    )
    assert r.status_code == 201, r.text
    assert r.json()["domain"] == "pbx.hq.example" and r.json()["transport"] == "tls"
    r = await api.client.post(
        f"{V1}/accounts",
        json={
            "owner": {"id": ALICE},
            "settings": {"login": "8", "password": "p", "template": "3cx"},
        },
        headers=api.alice,
    )
    assert r.status_code == 422 and "domain" in r.json()["detail"]
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": {"login": "8", "password": "p", "template": "?"}},
        headers=api.alice,
    )
    assert r.status_code == 404

    r = await api.client.delete(f"{V1}/templates/{mine['id']}", headers=api.alice)
    assert r.status_code == 204
    r = await api.client.get(f"{V1}/templates", headers=api.alice)
    assert {t["id"] for t in r.json()} == builtin


async def test_subscriptions_set_and_show(api: Api) -> None:
    r = await api.client.get(f"{V1}/users/{ALICE}/subscription", headers=api.alice)
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"
    r = await api.client.put(
        f"{V1}/users/{ALICE}/subscription",
        json={"plan": "office", "seats": 3, "user": {"first_name": "Alice"}},
        headers=api.alice,
    )
    assert r.status_code == 200, r.text
    assert r.json()["subscriptions"] == [{"plan": "office", "seats": 3}]
    r = await api.client.put(
        f"{V1}/users/{ALICE}/subscription",
        json={"plan": "softphone-start", "seats": -1, "add": True},
        headers=api.alice,
    )
    view = r.json()
    assert {s["plan"] for s in view["subscriptions"]} == {"office", "softphone-start"}
    assert view["entitlements"]["seat_limit"] == 3 and view["entitlements"]["start_limit"] is None
    assert view["entitlements"]["can_assign"] is True
    r = await api.client.get(f"{V1}/users/{ALICE}/subscription", headers=api.alice)
    assert r.json() == view
    r = await api.client.put(
        f"{V1}/users/{CAROL}/subscription", json={"plan": "office"}, headers=api.alice
    )
    assert r.status_code == 403
    r = await api.client.get(f"{V1}/users/{ALICE}/subscription", headers=api.carol)
    assert r.status_code == 403
    for body in ({"plan": "gold"}, {"plan": "office", "seats": -2}, {"seats": 1}):
        r = await api.client.put(f"{V1}/users/{ALICE}/subscription", json=body, headers=api.alice)
        assert r.status_code == 422, body
    r = await api.client.put(
        f"{V1}/users/{DAVE}/subscription",
        json={"plan": "office", "user": {"id": ALICE}},
        headers=api.admin,
    )
    assert r.status_code == 422  # the user's id is the path's
