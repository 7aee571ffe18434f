"""Health, metrics and logs of real ``telesip`` processes: ``telesip worker`` and ``telesip bot``
serve /livez, /readyz and /metrics on TELESIP_METRICS_BIND, ``telesip run`` on its API; log
lines in both formats carry the ids and never a secret (a SIP password, the bot token, the
secret key, an API key), though every one of them passes through the process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telesip.bootstrap import services_for
from telesip.config import Settings
from telesip.domain.model import TelegramUser
from telesip.domain.operators import Scope
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, operators
from tests.fakes.botapi import FakeBotAPI, FakeUser
from tests.sip_integration.conftest import Cert, Kamailio, run_kamailio, tls_cert  # noqa: F401

from .procs import SECRET_KEY, Telesip, free_tcp_port, samples, until, value

pytestmark = pytest.mark.kamailio
OWNER = TelegramUser(7001, "Owner")


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory, tls_cert: Cert) -> Iterator[Kamailio]:  # noqa: F811
    with run_kamailio(tmp_path_factory.mktemp("kamailio"), tls_cert) as kam:
        yield kam


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as api:
        yield api


def sip(kam: Kamailio, login: str, *, good: bool = True) -> AccountSettings:
    return AccountSettings(
        login=login,
        password=Secret(f"pw-{login}" if good else f"wrong-{login}"),
        domain="127.0.0.1",
        port=kam.port,
        expires=60,
    )


async def prepare(tmp: Path, *logins: tuple[AccountSettings, ...]) -> str:
    """Migrate the data directory's database, add accounts; an API key for everything."""
    async with services_for(Settings(data_dir=tmp, secret_key=SECRET_KEY), upgrade=True) as deps:
        for login in logins:
            for settings in login:
                await accounts.create_account(deps, OWNER, settings)
        return (await operators.create_api_key(deps, "ops", Scope(all=True))).token


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url)


async def ready(base: str) -> dict[str, Any] | None:
    """The /readyz body once it says ready (200)."""
    r = await get(f"{base}/readyz")
    return r.json() if r.status_code == 200 else None  # type: ignore[no-any-return]


def bot_env(fake: FakeBotAPI, metrics_port: int, **more: str) -> dict[str, str]:
    return {
        "TELESIP_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "TELESIP_BOT_TOKEN": fake.token,
        "TELESIP_BOT_API_URL": fake.base_url,
    } | {f"TELESIP_{k.upper()}": v for k, v in more.items()}


async def test_worker_serves_livez_readyz_and_its_metrics(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    await prepare(tmp_path, (sip(kamailio, "opsw1"), sip(kamailio, "opsw2", good=False)))
    port = free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    worker = Telesip(
        tmp_path,
        {"TELESIP_METRICS_BIND": f"127.0.0.1:{port}", "TELESIP_LOG_FORMAT": "json"},
    )
    await worker.start("worker", "--name", "opsw")
    try:
        assert (await until(lambda: get(f"{base}/livez"), 60, "livez", worker)).json() == {
            "status": "ok"
        }

        body = await until(lambda: ready(base), 60, "ready", worker)
        assert body == {"status": "ready", "checks": {"database": "ok", "worker opsw": "ok"}}

        async def settled() -> dict | None:  # type: ignore[type-arg]
            found = samples((await get(f"{base}/metrics")).text)
            done = value(found, "telesip_worker_registrations", worker="opsw", state="registered")
            failing = value(
                found, "telesip_worker_registrations", worker="opsw", state="auth_failed"
            )
            return found if done == 1 and failing == 1 else None

        found = await until(settled, 20, "one registered, one failing", worker)
        assert value(found, "telesip_worker_accounts_held", worker="opsw") == 2
        failing = {
            (dict(labels)["state"], dict(labels)["code"]): v
            for (name, labels), v in found.items()
            if name == "telesip_worker_registrations_failing"
        }
        assert list(failing.values()) == [1] and next(iter(failing))[0] == "auth_failed"
        sent = value(found, "telesip_worker_register_sent_total", worker="opsw")
        answered = value(found, "telesip_worker_register_answered_total", worker="opsw")
        # each account: a REGISTER, a 401, one with credentials (and the failing one's 401 again)
        assert sent is not None and answered is not None and sent >= 4 and answered >= 4
        assert value(found, "telesip_worker_calls_active", worker="opsw") == 0
        assert value(found, "telesip_worker_rtp_packets_lost_total", worker="opsw") == 0
        assert value(found, "telesip_worker_rtp_packets_late_total", worker="opsw") == 0
        # nothing else listens: a worker without TELESIP_METRICS_BIND serves nothing (below)
    finally:
        assert await worker.stop() == 0
    log = worker.log()
    assert "pw-opsw1" not in log and "wrong-opsw2" not in log and SECRET_KEY not in log
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any(x.get("worker") == "opsw" and "joined" in x["message"] for x in lines)


async def test_metrics_are_off_for_a_worker_alone_by_default(tmp_path: Path) -> None:
    await prepare(tmp_path)
    port = free_tcp_port()
    worker = Telesip(tmp_path, {"TELESIP_METRICS_BIND": ""})
    await worker.start("worker", "--name", "quiet")
    try:
        await until(lambda: _logged(worker, "joined"), 60, "joined", worker)
        with pytest.raises(httpx.TransportError):
            await get(f"http://127.0.0.1:{port}/livez")
        assert "metrics on" not in worker.log()
    finally:
        assert await worker.stop() == 0


async def _logged(proc: Telesip, text: str) -> bool:
    return text in proc.log()


async def test_bot_serves_readyz_and_counts_updates_429s_and_queued_messages(
    tmp_path: Path, fake: FakeBotAPI
) -> None:
    await prepare(tmp_path)
    port = free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    bot = Telesip(tmp_path, bot_env(fake, port))
    await bot.start("bot")
    try:
        body = await until(lambda: ready(base), 60, "ready", bot)
        assert body["checks"] == {"database": "ok", "bot": "ok"}
        alice = FakeUser(8101, "Alice")
        fake.start_chat(alice)
        fake.fail_next("sendMessage", 429, retry_after=1)
        fake.send_text(alice, "/help")
        await fake.next_message(alice, timeout=15)
        for _ in range(10):  # past the chat's burst: some wait their turn or go to the outbox
            fake.send_text(alice, "/help")

        async def counted() -> dict | None:  # type: ignore[type-arg]
            found = samples((await get(f"{base}/metrics")).text)
            handled = value(found, "telesip_bot_updates_total", kind="message")
            return found if handled == 11 else None

        found = await until(counted, 30, "eleven updates handled", bot)
        assert value(found, "telesip_bot_update_seconds_count", kind="message") == 11
        assert value(found, "telesip_bot_retry_after_received_total", method="SendMessage") == 1
        queued = sum(
            v for (name, _), v in found.items() if name == "telesip_bot_limiter_queued_total"
        )
        assert queued >= 2
        assert value(found, "telesip_bot_limiter_waiting") is not None

        # Telegram failing getUpdates: not ready, saying why; ready again once it answers
        fake.fail_next("getUpdates", 502, times=2)
        fake.send_text(alice, "/help")  # ends the long poll in flight: the next ones fail

        async def failing() -> dict | None:  # type: ignore[type-arg]
            r = await get(f"{base}/readyz")
            return r.json() if r.status_code == 503 else None

        down = await until(failing, 30, "not ready while getUpdates fails", bot)
        assert down["checks"]["bot"].startswith("getUpdates failed")
        assert down["checks"]["database"] == "ok"
        await until(lambda: ready(base), 60, "ready again", bot)
    finally:
        assert await bot.stop() == 0
    assert fake.token not in bot.log()


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_run_logs_carry_ids_and_never_a_secret(
    tmp_path: Path, kamailio: Kamailio, fake: FakeBotAPI, fmt: str
) -> None:
    """`telesip run` at DEBUG: an API key authenticates a request that connects a SIP account
    (its password), the worker registers it, the bot (its token) answers a person; the secret
    key decrypts the password. None of them is in the log; /livez, /readyz, /metrics come from
    the API."""
    key = await prepare(tmp_path)
    port = free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    run = Telesip(
        tmp_path,
        {
            "TELESIP_API_BIND": f"127.0.0.1:{port}",
            "TELESIP_BOT_TOKEN": fake.token,
            "TELESIP_BOT_API_URL": fake.base_url,
            "TELESIP_LOG_LEVEL": "DEBUG",
            "TELESIP_LOG_FORMAT": fmt,
            "TELESIP_WORKER_NAME": "opsrun",
        },
    )
    login = f"opsrun{fmt}"
    await run.start("run")
    try:
        checks = (await until(lambda: ready(base), 60, "ready", run))["checks"]
        assert checks == {"database": "ok", "bot": "ok", "worker opsrun": "ok"}
        assert (await get(f"{base}/livez")).json() == {"status": "ok"}
        async with httpx.AsyncClient(base_url=base, timeout=10) as api:
            created = await api.post(
                "/api/v1/accounts",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "owner": {"id": OWNER.id},
                    "settings": {
                        "login": login,
                        "password": f"pw-{login}",
                        "domain": "127.0.0.1",
                        "port": kamailio.port,
                    },
                },
            )
            assert created.status_code == 201, created.text
            refused = await api.get("/api/v1/accounts", headers={"Authorization": f"Bearer {key}x"})
            assert refused.status_code == 401

        async def registered() -> bool:
            found = samples((await get(f"{base}/metrics")).text)
            return (
                value(found, "telesip_worker_registrations", worker="opsrun", state="registered")
                == 1
            )

        await until(registered, 30, "registered", run)
        alice = FakeUser(8201, "Alice")
        fake.start_chat(alice)
        fake.send_text(alice, "/softphone")
        await fake.next_message(alice, timeout=15)
        await until(lambda: _logged(run, "handled in"), 15, "the update logged", run)
    finally:
        assert await run.stop() == 0
    log = run.log()
    token_secret = fake.token.split(":", 1)[1]
    for secret in (f"pw-{login}", fake.token, token_secret, SECRET_KEY, key, key[4:]):
        assert secret not in log, secret
    if fmt == "json":
        lines = [json.loads(line) for line in log.splitlines() if line.strip()]
        assert all({"time", "level", "logger", "message"} <= x.keys() for x in lines)
        assert any(x.get("user_id") == alice.id for x in lines)
        assert any(x.get("worker") == "opsrun" and x.get("account_id") for x in lines)
    else:
        assert f"user_id={alice.id}]" in log
        assert "[worker=opsrun account_id=" in log


async def test_bot_behind_a_webhook_is_ready_once_telegram_accepted_it(
    tmp_path: Path, fake: FakeBotAPI
) -> None:
    await prepare(tmp_path)
    port, hook = free_tcp_port(), free_tcp_port()
    base = f"http://127.0.0.1:{port}"
    url = f"http://127.0.0.1:{hook}/telegram"
    bot = Telesip(tmp_path, bot_env(fake, port, webhook_url=url, webhook_bind=f"127.0.0.1:{hook}"))
    await bot.start("bot")
    try:
        assert (await until(lambda: ready(base), 60, "ready", bot))["checks"]["bot"] == "ok"
        assert fake.webhook_url == f"http://127.0.0.1:{hook}/telegram"
        alice = FakeUser(8301, "Alice")
        fake.start_chat(alice)
        fake.send_text(alice, "/help")  # pushed to the webhook
        await fake.next_message(alice, timeout=15)
        assert not fake.calls("getUpdates")
    finally:
        assert await bot.stop() == 0
