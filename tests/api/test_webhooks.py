"""Webhooks end to end: registered through the API, fed by the audit table, POSTed to a local
receiver on 127.0.0.1 with an HMAC-SHA256 signature and a delivery id, retried with backoff."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from telesip.domain.clock import FakeClock
from telesip.domain.model import Method, TelegramUser
from telesip.domain.webhook_signature import headers as signed_headers
from telesip.services import accounts, offers
from telesip.services import webhooks as svc
from telesip.webhooks import WebhookDispatcher, new_secret, verify

from .conftest import ALICE, BOB, CAROL, Api, settings_body

V1 = "/api/v1"


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver("")

    async def handle(request: web.Request) -> web.Response:
        rec.requests.append((dict(request.headers), await request.read()))
        status = rec.statuses.pop(0) if rec.statuses else 200
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def dispatcher(api: Api) -> AsyncIterator[WebhookDispatcher]:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        yield WebhookDispatcher(api.deps, client=client, gap_grace=0)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes, now: int) -> bool:
    """The Standard Webhooks verification, written here from the specification (not from
    telesip): the key is the secret after ``whsec_``, base64-decoded; the signed content is
    ``msg_id + "." + timestamp + "." + payload``; HMAC-SHA256, base64; ``webhook-signature``
    is a space-delimited list of ``v1,<signature>``; timestamps over 5 minutes off fail."""
    h = _lower(headers)
    msg_id, timestamp = h["webhook-id"], h["webhook-timestamp"]
    if abs(now - int(timestamp)) > 5 * 60:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for versioned in h["webhook-signature"].split(" "):
        version, _, sig = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


async def _register(api: Api, url: str, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    r = await api.client.post(f"{V1}/webhooks", json={"url": url, **kw}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_account_events_are_signed_delivered_and_retried(
    api: Api, receiver: Receiver, dispatcher: WebhookDispatcher, clock: FakeClock
) -> None:
    hook = await _register(api, receiver.url, api.alice)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    others = await _register(api, receiver.url + "?carol", api.carol)

    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body()},
        headers=api.alice,
    )
    account_id = r.json()["id"]
    await accounts.report_registration(api.deps, account_id, "auth_failed", 403, "Forbidden")
    await accounts.report_registration(api.deps, account_id, "registered", 200)
    offer = await offers.create_offer(api.deps, TelegramUser(ALICE), account_id, Method.ASSIGN)
    await offers.receive(api.deps, TelegramUser(BOB), offer.id)
    await accounts.take_back(api.deps, None, account_id)
    unlink = await offers.create_offer(api.deps, TelegramUser(ALICE), account_id, Method.UNLINK)
    await offers.receive(api.deps, TelegramUser(BOB), unlink.id)  # Bob owns it now
    await accounts.delete_account(api.deps, TelegramUser(BOB), account_id)

    receiver.statuses = [500]  # the first attempt fails
    assert await dispatcher.run_once() == 7
    events = [b["event"] for b in receiver.bodies()]
    assert sorted(events) == sorted(
        ["created", "auth_failed", "registered", "assigned", "returned", "transferred", "deleted"]
    )
    for headers, body in receiver.requests:
        now = int(clock.now().timestamp())
        assert standard_webhooks_verify(secret, headers, body, now)
        assert verify(secret, body, headers, now)
        assert not verify(secret, body + b" ", headers, now)
        assert not standard_webhooks_verify(secret, headers, body + b" ", now)
        assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), body, headers, now)
        assert not verify(secret, body, headers, now + 3600)  # replay
        assert not standard_webhooks_verify(secret, headers, body, now + 3600)
        assert _lower(headers)["webhook-id"] == json.loads(body)["delivery_id"]
        assert headers["X-Telesip-Event"] == json.loads(body)["event"]
    failed = receiver.bodies()[0]
    assert "s3cr3t" not in str(receiver.requests)

    r = await api.client.get(f"{V1}/webhooks/{hook['id']}/deliveries", headers=api.alice)
    log = {d["delivery_id"]: d for d in r.json()}
    assert log[failed["delivery_id"]]["state"] == "pending"
    assert log[failed["delivery_id"]]["last_status"] == 500
    assert sum(d["state"] == "delivered" for d in log.values()) == 6

    assert await dispatcher.run_once() == 0  # not due before the backoff
    clock.advance(svc.backoff(1))
    assert await dispatcher.run_once() == 1
    retried_headers, retried = receiver.requests[-1]
    assert json.loads(retried)["delivery_id"] == failed["delivery_id"]  # same id: dedupe by it
    assert standard_webhooks_verify(secret, retried_headers, retried, int(clock.now().timestamp()))
    assert _lower(retried_headers)["webhook-id"] == failed["delivery_id"]
    r = await api.client.get(f"{V1}/webhooks/{hook['id']}/deliveries", headers=api.alice)
    assert all(d["state"] == "delivered" for d in r.json())
    assert next(d for d in r.json() if d["delivery_id"] == failed["delivery_id"])["attempts"] == 2

    # Carol's operator manages none of this: nothing went to her webhook
    r = await api.client.get(f"{V1}/webhooks/{others['id']}/deliveries", headers=api.carol)
    assert r.json() == []
    r = await api.client.get(f"{V1}/webhooks/{hook['id']}/deliveries", headers=api.carol)
    assert r.status_code == 404

    # a new dispatcher (a restart) continues from the stored cursor: nothing is sent twice
    sent = len(receiver.requests)
    again = WebhookDispatcher(api.deps, client=dispatcher.client, gap_grace=0)
    assert await again.run_once() == 0 and len(receiver.requests) == sent


async def test_an_unreachable_receiver_never_blocks_and_gives_up_after_max_attempts(
    api: Api, dispatcher: WebhookDispatcher, clock: FakeClock
) -> None:
    hook = await _register(api, "http://127.0.0.1:9/nothing", api.admin, events=["created"])
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": CAROL}, "settings": settings_body()},
        headers=api.admin,
    )
    assert r.status_code == 201  # the operation did not wait for the webhook
    await accounts.set_enabled(api.deps, None, r.json()["id"], False)  # not subscribed
    for attempt in range(1, svc.MAX_ATTEMPTS + 1):
        assert await dispatcher.run_once() == 1
        clock.advance(svc.backoff(attempt))
    assert await dispatcher.run_once() == 0
    r = await api.client.get(f"{V1}/webhooks/{hook['id']}/deliveries", headers=api.admin)
    (delivery,) = r.json()
    assert delivery["state"] == "failed" and delivery["attempts"] == svc.MAX_ATTEMPTS
    assert delivery["last_error"] and delivery["last_status"] is None


async def test_webhook_registration_list_delete_and_bad_input(api: Api) -> None:
    hook = await _register(api, "https://hooks.example.com/telesip", api.alice)
    r = await api.client.get(f"{V1}/webhooks", headers=api.alice)
    assert [h["id"] for h in r.json()] == [hook["id"]] and "secret" not in r.json()[0]
    r = await api.client.get(f"{V1}/webhooks", headers=api.carol)
    assert r.json() == []
    r = await api.client.delete(f"{V1}/webhooks/{hook['id']}", headers=api.carol)
    assert r.status_code == 404
    for body in (
        {"url": "ftp://x.example/"},
        {"url": "not a url"},
        {"url": "https://x.example/", "events": ["bought"]},
        {"url": "https://x.example/", "extra": 1},
    ):
        r = await api.client.post(f"{V1}/webhooks", json=body, headers=api.alice)
        assert r.status_code == 422, body
    r = await api.client.delete(f"{V1}/webhooks/{hook['id']}", headers=api.alice)
    assert r.status_code == 204
    r = await api.client.get(f"{V1}/webhooks", headers=api.alice)
    assert r.json() == []
    r = await api.client.post(f"{V1}/webhooks", json={"url": "https://x.example/"})
    assert r.status_code == 401


def test_retries_are_spread_by_jitter() -> None:
    rng = random.Random(7)
    waits = [svc.jittered(3, rng) for _ in range(50)]
    assert all(0.75 * svc.backoff(3) <= w <= svc.backoff(3) for w in waits)
    assert len({round(w, 3) for w in waits}) > 40  # not one burst at the same second


def _documented(language: str) -> str:
    """The verifier docs/api.md shows for ``language`` (its code block after "Verify in")."""
    text = (Path(__file__).resolve().parents[2] / "docs/api.md").read_text(encoding="utf-8")
    title = {"python": "Verify in Python", "js": "Verify in Node.js"}[language]
    after = text[text.index(title) :]
    start = after.index(f"```{language}\n") + len(f"```{language}\n")
    return after[start : after.index("```", start)]


def _signed_now() -> tuple[str, dict[str, str], bytes]:
    secret = new_secret()
    body = json.dumps({"event": "created", "account_id": 42, "note": "ünïcode"}).encode()
    return secret, signed_headers(secret, "msg_2f3", int(time.time()), body), body


def test_the_documented_python_verifier_accepts_telesips_signature() -> None:
    secret, headers, body = _signed_now()
    scope: dict[str, Any] = {}
    exec(_documented("python"), scope)  # the documentation's own example
    assert scope["verify"](secret, headers, body)
    assert not scope["verify"](secret, headers, body + b" ")
    assert not scope["verify"](new_secret(), headers, body)


def test_the_documented_node_verifier_accepts_telesips_signature(tmp_path: Path) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed: the documented Node.js verifier is not run")
    secret, headers, body = _signed_now()
    script = tmp_path / "verify.js"
    script.write_text(
        _documented("js")
        + "\nconst [secret, headers, body] = JSON.parse(process.argv[2]);\n"
        + "const raw = Buffer.from(body, 'base64');\n"
        + "const tampered = Buffer.concat([raw, Buffer.from(' ')]);\n"
        + "console.log(JSON.stringify([verify(secret, headers, raw), "
        + "verify(secret, headers, tampered)]));\n",
        encoding="utf-8",
    )
    given = json.dumps([secret, headers, base64.b64encode(body).decode()])
    run = subprocess.run([node, str(script), given], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [True, False]
