"""Idempotency-Key on POST: a retry gets the first answer, another body with the same key is
refused, racing retries make one object, keys are per credential and expire after 24 h; the
workers' control plane takes keys too, and both clients retry a lost answer with its key."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from telesip_client import TelesipClient, WorkerClient

from telesip.services import fleet
from telesip.store import tables as t

from .conftest import ALICE, Api, settings_body

V1 = "/api/v1"


def _body(login: str = "100") -> dict[str, object]:
    return {"owner": {"id": ALICE}, "settings": settings_body(login)}


async def _accounts(api: Api) -> int:
    async with api.deps.uow() as uow:
        return int(await uow.conn.scalar(select(func.count()).select_from(t.accounts)) or 0)


async def test_a_retry_gets_the_first_answer_and_makes_nothing_new(api: Api) -> None:
    h = api.admin | {"Idempotency-Key": '"7d3f0a6e-4b1c-4d2e-9a8b-1c2d3e4f5a6b"'}
    first = await api.client.post(f"{V1}/accounts", json=_body(), headers=h)
    again = await api.client.post(f"{V1}/accounts", json=_body(), headers=h)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _accounts(api) == 1
    other = await api.client.post(f"{V1}/accounts", json=_body("200"), headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert await _accounts(api) == 1
    # an error answer is kept too: the retry does not get a different one
    bad = api.admin | {"Idempotency-Key": "k-404"}
    body = {"owner": {"id": ALICE}, "settings": settings_body(template="nope")}
    r1 = await api.client.post(f"{V1}/accounts", json=body, headers=bad)
    r2 = await api.client.post(f"{V1}/accounts", json=body, headers=bad)
    assert r1.status_code == r2.status_code == 404 and r1.content == r2.content


async def test_keys_belong_to_their_credential(api: Api) -> None:
    key = {"Idempotency-Key": "same-key"}
    a = await api.client.post(f"{V1}/accounts", json=_body(), headers=api.admin | key)
    b = await api.client.post(f"{V1}/accounts", json=_body(), headers=api.alice | key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    r = await api.client.post(
        f"{V1}/accounts", json=_body(), headers=api.admin | {"Idempotency-Key": ""}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_idempotency_key"
    unauth = await api.client.post(f"{V1}/accounts", json=_body(), headers=key)
    assert unauth.status_code == 401


async def test_twenty_racing_retries_make_one_account(api: Api) -> None:
    h = api.admin | {"Idempotency-Key": "race-1"}

    async def post() -> tuple[int, bytes]:
        r = await api.client.post(f"{V1}/accounts", json=_body(), headers=h)
        return r.status_code, r.content

    answers = await asyncio.gather(*(post() for _ in range(20)))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert len({content for status, content in answers if status == 201}) == 1
    assert await _accounts(api) == 1
    final = await api.client.post(f"{V1}/accounts", json=_body(), headers=h)
    assert final.status_code == 201 and final.content == answers[statuses.index(201)][1]


async def test_an_answer_is_kept_24_hours(api: Api) -> None:
    h = api.admin | {"Idempotency-Key": "day-old"}
    assert (await api.client.post(f"{V1}/accounts", json=_body(), headers=h)).status_code == 201
    k = t.idempotency_keys
    async with api.deps.uow() as uow:
        row = (await uow.conn.execute(select(k.c.created_at, k.c.expires_at))).one()
        assert row.expires_at - row.created_at == timedelta(hours=24)
        await uow.conn.execute(update(k).values(expires_at=uow.now - timedelta(seconds=1)))
        await uow.commit()
    r = await api.client.post(f"{V1}/accounts", json=_body(), headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert await _accounts(api) == 2


async def test_a_stored_answer_keeps_its_secret_sealed(api: Api) -> None:
    """A new webhook's signing key is shown once; the stored answer a retry gets holds it, so
    it is sealed with the service key like every other secret, never plain in the table."""
    h = api.admin | {"Idempotency-Key": "hook-1"}
    body = {"url": "https://hooks.example/telesip"}
    first = await api.client.post(f"{V1}/webhooks", json=body, headers=h)
    again = await api.client.post(f"{V1}/webhooks", json=body, headers=h)
    assert first.status_code == again.status_code == 201 and again.content == first.content
    secret = first.json()["secret"]
    async with api.deps.uow() as uow:
        stored = bytes(await uow.conn.scalar(select(t.idempotency_keys.c.body)))
    assert secret.encode() not in stored and b"whsec_" not in stored
    assert api.deps.cipher.unseal(stored) == first.content


async def test_a_workers_retried_post_is_answered_once(api: Api) -> None:
    """The control plane's POSTs take a key too: a retried join gets the first instance (a
    second join would have started another and released the first's leases)."""
    _, credential = await fleet.create_worker(api.deps, "edge", remote=True)
    h = {"Authorization": f"Bearer {credential}", "Idempotency-Key": "join-1"}
    body = {"name": "edge", "addresses": []}
    first = await api.client.post(f"{V1}/worker/join", json=body, headers=h)
    again = await api.client.post(f"{V1}/worker/join", json=body, headers=h)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json()["instance"] == first.json()["instance"]
    assert again.headers["idempotent-replayed"] == "true"
    fresh = await api.client.post(
        f"{V1}/worker/join", json=body, headers=h | {"Idempotency-Key": "2"}
    )
    assert fresh.json()["instance"] != first.json()["instance"]
    # the heartbeat is idempotent by nature and its answer holds SIP passwords: never kept
    sync = {"name": "edge", "instance": fresh.json()["instance"], "stats": {}, "reports": []}
    for _ in range(2):
        r = await api.client.post(
            f"{V1}/worker/sync", json=sync, headers=h | {"Idempotency-Key": "s"}
        )
        assert r.status_code == 200 and "idempotent-replayed" not in r.headers, r.text
    async with api.deps.uow() as uow:
        kept = (await uow.conn.execute(select(t.idempotency_keys.c.key))).scalars()
        assert sorted(kept) == ["2", "join-1"]


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """The app does the request, then the answer is lost on the way (a read timeout) once."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.keys: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("idempotency-key"))
        response = await self.inner.handle_async_request(request)
        if len(self.keys) == 1:
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


async def test_the_clients_retry_a_lost_answer_with_the_same_key(api: Api) -> None:
    key = api.admin["Authorization"].removeprefix("Bearer ")
    lossy = LosesFirstAnswer(api.app)
    async with TelesipClient("http://api", key, transport=lossy, retries=1, backoff=0) as client:
        made = await client.create_account({"id": ALICE}, settings_body())  # type: ignore[arg-type]
    assert len(lossy.keys) == 2 and lossy.keys[0] == lossy.keys[1] and lossy.keys[0]
    assert await _accounts(api) == 1 and made["id"] > 0
    _, credential = await fleet.create_worker(api.deps, "edge", remote=True)
    assert credential is not None
    lossy = LosesFirstAnswer(api.app)
    async with WorkerClient(
        "http://api", credential, name="edge", transport=lossy, retries=1, backoff=0
    ) as plane:
        joined = await plane.join([])
        async with api.deps.uow() as uow:
            instance = await uow.conn.scalar(select(t.workers.c.instance))
    assert lossy.keys[0] == lossy.keys[1] and joined["instance"] == instance


async def test_a_transport_failure_outlasting_the_retries_is_raised() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with TelesipClient(
        "http://api", "tsk_x", transport=httpx.MockTransport(refuse), retries=2, backoff=0
    ) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get_account(1)
