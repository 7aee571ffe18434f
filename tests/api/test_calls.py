"""Calls over the HTTP API: history in the key's scope, one call, click-to-call, webhooks."""

from __future__ import annotations

from typing import Any

from telesip.domain.calls import EndReason
from telesip.services import calls

from .conftest import ALICE, CAROL, Api, settings_body
from .test_webhooks import Receiver, _register, dispatcher, receiver  # noqa: F401

V1 = "/api/v1"


async def _line(api: Api, owner: int, headers: dict[str, str], login: str = "100") -> int:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": owner}, "settings": settings_body(login)},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_click_to_call_history_and_scope(api: Api) -> None:
    alices = await _line(api, ALICE, api.alice)
    carols = await _line(api, CAROL, api.carol, "300")
    r = await api.client.post(
        f"{V1}/calls", json={"account_id": alices, "number": "+1 (555) 0100"}, headers=api.alice
    )
    assert r.status_code == 201, r.text
    placed: dict[str, Any] = r.json()
    assert (placed["number"], placed["state"], placed["user_id"], placed["direction"]) == (
        "+15550100",
        "requested",
        ALICE,
        "out",
    )
    incoming, _ = await calls.start_incoming(api.deps, carols, "+44 20", 1)
    await calls.mark_ended(api.deps, incoming.id, EndReason.MISSED)

    r = await api.client.get(f"{V1}/calls", headers=api.alice)
    assert [c["id"] for c in r.json()["calls"]] == [placed["id"]]
    r = await api.client.get(f"{V1}/calls", headers=api.admin)
    assert [c["id"] for c in r.json()["calls"]] == [incoming.id, placed["id"]]
    r = await api.client.get(f"{V1}/calls?limit=1", headers=api.admin)
    assert r.json()["next_before_id"] == incoming.id
    r = await api.client.get(f"{V1}/calls?before_id={incoming.id}", headers=api.admin)
    assert [c["id"] for c in r.json()["calls"]] == [placed["id"]]
    r = await api.client.get(f"{V1}/calls/{incoming.id}", headers=api.carol)
    assert r.json()["end_reason"] == "missed" and r.json()["duration"] is None
    # another operator's call looks like no call at all
    r = await api.client.get(f"{V1}/calls/{incoming.id}", headers=api.alice)
    assert r.status_code == 404 and r.json()["code"] == "call_not_found"
    r = await api.client.get(f"{V1}/calls?account_id={carols}", headers=api.alice)
    assert r.status_code == 403


async def test_bad_calls_get_4xx_and_change_nothing(api: Api) -> None:
    line = await _line(api, ALICE, api.alice)
    for body, status in (
        ({"account_id": line, "number": "call me"}, 422),
        ({"account_id": line, "number": "1\x00"}, 422),
        ({"account_id": line}, 422),
        ({"account_id": line + 99, "number": "101"}, 404),
        ({"account_id": line, "number": "101", "extra": 1}, 422),
    ):
        r = await api.client.post(f"{V1}/calls", json=body, headers=api.alice)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["code"]
    r = await api.client.post(
        f"{V1}/calls", json={"account_id": line, "number": "101"}, headers=api.carol
    )
    assert r.status_code == 403
    r = await api.client.get(f"{V1}/calls", headers=api.admin)
    assert r.json()["calls"] == []


async def test_calls_send_webhooks(
    api: Api,
    receiver: Receiver,  # noqa: F811
    dispatcher: Any,  # noqa: F811
) -> None:
    await _register(api, receiver.url, api.alice, events=["call_started", "call_ended"])
    line = await _line(api, ALICE, api.alice)
    call, _ = await calls.start_incoming(api.deps, line, "+15550199", 1)
    await calls.mark_answered(api.deps, call.id, "caller")
    await calls.mark_ended(api.deps, call.id, EndReason.COMPLETED)
    assert await dispatcher.run_once() == 2
    bodies = receiver.bodies()
    assert [b["event"] for b in bodies] == ["call_started", "call_ended"]
    assert bodies[1]["details"]["reason"] == "completed"
    assert bodies[1]["details"]["number"] == "+15550199"
    assert bodies[1]["account_id"] == line and bodies[1]["owner_id"] == ALICE
