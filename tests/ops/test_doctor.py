"""``telesip doctor`` on a good configuration and on each broken one: wrong key, wrong token,
inline mode off (the fake Bot API's ``getMe``), port taken, unreachable database, bad
advertised address, Redis down, a remote worker's control plane; ``--json`` and the exit
status; the same checks logged when a process starts."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.sessions import CallerAccount, SessionStore
from telesip.cli import app
from telesip.config import Settings
from telesip.doctor import Finding, Status, diagnose
from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import fleet
from telesip.services.accounts import create_account
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from tests.conftest import TEST_KEY
from tests.fakes.botapi import FakeBotAPI


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_range(size: int = 4) -> str:
    """A run of ``size`` UDP ports free on every address right now."""
    for _ in range(200):
        first = random.randrange(30000, 60000 - size)
        socks = []
        try:
            for port in range(first, first + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("0.0.0.0", port))
            return f"{first}-{first + size - 1}"
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no free UDP port range")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def database(empty_url: str) -> AsyncIterator[str]:
    """A migrated database holding one account (its password under TEST_KEY)."""
    deps = Dependencies(create_engine(empty_url), Cipher(TEST_KEY))
    try:
        await migrate.upgrade(deps.engine)
        settings = AccountSettings(login="101", password=Secret("pw"), domain="pbx.test")
        await create_account(deps, TelegramUser(id=501, first_name="Ann"), settings)
    finally:
        await deps.engine.dispose()
    yield empty_url


def good(tmp_path: Path, url: str, fake: FakeBotAPI, **changes: Any) -> Settings:
    """A configuration where every check is ok (each test breaks one thing)."""
    data_dir = tmp_path / "data"
    SessionStore(data_dir, Cipher(TEST_KEY)).save(
        CallerAccount("15550100001", TgUser(id=9, first_name="C"), Secret("session-string"))
    )
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": url,
        "secret_key": TEST_KEY,
        "bot_token": fake.token,
        "bot_api_url": fake.base_url,
        "sip_bind": f"127.0.0.1:{free_udp_port()}",
        "sip_advertise": "192.0.2.10",
        "rtp_ports": free_udp_range(),
        "max_calls": 2,
        "tg_api_id": 12345,
        "tg_api_hash": "hash",
    }
    return Settings(**(values | changes))


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def not_ok(findings: list[Finding]) -> list[str]:
    return [f.line() for f in findings if f.status is not Status.OK]


async def test_a_good_configuration_is_all_ok(
    tmp_path: Path, database: str, fake: FakeBotAPI
) -> None:
    findings = await diagnose(good(tmp_path, database, fake), "run")
    assert not_ok(findings) == []
    checks = by_check(findings)
    assert set(checks) >= {
        "database",
        "secret key",
        "bot token",
        "inline mode",
        "SIP bind",
        "RTP ports",
        "advertised address",
        "caller accounts",
    }
    assert "opens the stored secrets" in checks["secret key"].message
    assert "@telesip_test_bot" in checks["bot token"].message
    assert "setinlinefeedback" in checks["inline mode"].message  # the reminder
    assert "1 logged in" in checks["caller accounts"].message


async def test_wrong_key_is_an_error_not_a_traceback(
    tmp_path: Path, database: str, fake: FakeBotAPI
) -> None:
    findings = await diagnose(good(tmp_path, database, fake, secret_key="another key"), "run")
    key = by_check(findings)["secret key"]
    assert key.status is Status.ERROR
    assert "does not open accounts #1" in key.message and "session" in key.message
    assert "another key" not in key.line()
    callers = by_check(findings)["caller accounts"]
    assert callers.status is Status.ERROR and "cannot be decrypted" in callers.message


async def test_wrong_token_and_inline_mode_off(tmp_path: Path, database: str) -> None:
    async with FakeBotAPI() as api:
        findings = await diagnose(
            good(tmp_path, database, api, bot_token="123456789:WRONG-token-value"), "bot"
        )
        token = by_check(findings)["bot token"]
        assert token.status is Status.ERROR and "401" in token.message
        assert "WRONG-token" not in token.line() and "inline mode" not in by_check(findings)
    async with FakeBotAPI(supports_inline_queries=False) as api:
        findings = await diagnose(good(tmp_path, database, api), "bot")
        inline = by_check(findings)["inline mode"]
        assert inline.status is Status.ERROR and "Transfer cannot work" in inline.message
        assert "/setinline" in inline.message
        assert by_check(findings)["bot token"].status is Status.OK


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_ports_taken(tmp_path: Path, database: str, fake: FakeBotAPI) -> None:
    settings = good(tmp_path, database, fake)
    host, port = settings.sip_bind.rsplit(":", 1)
    first = int(settings.rtp_ports.split("-")[0])
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sip,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp,
    ):
        sip.bind((host, int(port)))
        rtp.bind(("127.0.0.1", first))
        checks = by_check(await diagnose(settings, "worker"))
    assert checks["SIP bind"].status is Status.ERROR
    assert "in use" in checks["SIP bind"].message and "TELESIP_SIP_BIND" in checks["SIP bind"].fix
    assert checks["RTP ports"].status is Status.WARNING
    assert f"1 in use ({first})" in checks["RTP ports"].message
    assert "bot token" not in checks  # a worker has no bot


def test_unreachable_database_through_the_command(tmp_path: Path) -> None:
    env = {
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_DATABASE_URL": "postgresql+asyncpg://telesip:DBPASSWORD@127.0.0.1:1/x",
        "TELESIP_SIP_BIND": f"127.0.0.1:{free_udp_port()}",
        "TELESIP_RTP_PORTS": free_udp_range(),
    }
    result = CliRunner().invoke(app, ["doctor", "--role", "api", "--json"], env=env)
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert doc["ok"] is False
    database = next(c for c in doc["checks"] if c["check"] == "database")
    assert database["status"] == "error" and "cannot reach the database" in database["message"]
    assert "DBPASSWORD" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "data" / "secret.key").exists()  # the doctor creates nothing


@pytest.mark.parametrize("backend", ["sqlite"])
def test_exit_status_and_lines(tmp_path: Path, database: str) -> None:
    env = {
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_DATABASE_URL": database,
        "TELESIP_SECRET_KEY": TEST_KEY,
        "TELESIP_SIP_BIND": f"127.0.0.1:{free_udp_port()}",
        "TELESIP_SIP_ADVERTISE": "192.0.2.10",
    }
    result = CliRunner().invoke(app, ["doctor", "--role", "api"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok      database:") and lines[1].startswith("ok      secret key:")
    assert lines[-1] == "2 ok, 0 warnings, 0 errors"
    result = CliRunner().invoke(
        app, ["doctor", "--role", "api"], env=env | {"TELESIP_SECRET_KEY": "wrong"}
    )
    assert result.exit_code == 1 and "error   secret key:" in result.output


@pytest.mark.parametrize(
    "advertise,status,words",
    [
        ("127.0.0.1", Status.ERROR, "loopback"),
        ("vm", Status.ERROR, "bare host name"),
        ("203.0.113.7", Status.OK, "203.0.113.7"),
    ],
)
def test_advertised_address(advertise: str, status: Status, words: str) -> None:
    from telesip.doctor.network import check_advertise

    [finding] = check_advertise(Settings(sip_advertise=advertise))
    assert finding.status is status and words in finding.message


async def test_webhook_url_https_and_answering() -> None:
    from telesip.doctor.network import check_webhook

    [plain] = await check_webhook(Settings(webhook_url="http://bot.example.com/hook"), probe=True)
    assert plain.status is Status.ERROR and "not https" in plain.message
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{sock.getsockname()[1]}/hook"
    [silent] = await check_webhook(Settings(webhook_url=url), probe=True)
    assert silent.status is Status.ERROR and "does not answer" in silent.message
    assert "TELESIP_WEBHOOK_BIND" in silent.fix
    [at_start] = await check_webhook(Settings(webhook_url=url), probe=False)
    assert at_start.status is Status.OK  # not probed before the process listens


async def test_redis_reachable_or_not() -> None:
    from telesip.doctor.network import check_redis

    [up] = await check_redis(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert up.status is Status.OK, up.line()
    [down] = await check_redis(Settings(redis_url="redis://:SECRETPW@127.0.0.1:1/0"))
    assert down.status is Status.ERROR and "SECRETPW" not in down.line()


@pytest.fixture
async def control(services: Dependencies, tmp_path: Path) -> AsyncIterator[str]:
    """The real API app (the control plane) on plain HTTP to loopback."""
    from telesip.api.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(services, Settings(data_dir=tmp_path / "api")),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_remote_worker_control_plane(
    services: Dependencies, control: str, tmp_path: Path
) -> None:
    from telesip.doctor.network import check_control_plane

    _, credential = await fleet.create_worker(services, "lan", remote=True)
    assert credential is not None
    settings = Settings(worker_name="lan", data_dir=tmp_path / "w")
    [accepted] = await check_control_plane(
        settings, control_url=control, credential=credential, ca_file=None
    )
    assert accepted.status is Status.OK and "accepts worker 'lan'" in accepted.message
    [refused] = await check_control_plane(
        settings, control_url=control, credential="tsw_wrong", ca_file=None
    )
    assert refused.status is Status.ERROR and "refuses" in refused.message
    assert "tsw_wrong" not in refused.line()
    remote = Settings(  # the remote role from the settings alone, as `telesip doctor` runs it
        worker_name="lan",
        control_url=control,
        worker_credential=credential,
        data_dir=tmp_path / "w",
        sip_bind=f"127.0.0.1:{free_udp_port()}",
        rtp_ports=free_udp_range(),
    )
    checks = by_check(await diagnose(remote, "remote"))
    assert "database" not in checks and "bot token" not in checks
    assert checks["control plane"].status is Status.OK
    assert {"SIP bind", "RTP ports", "advertised address", "caller accounts"} <= set(checks)
    await fleet.revoke_worker(services, "lan")
    [revoked] = await check_control_plane(
        settings, control_url=control, credential=credential, ca_file=None
    )
    assert revoked.status is Status.ERROR and "revoked" in revoked.message
    [plain] = await check_control_plane(
        settings, control_url="http://telesip.example.com", credential=credential, ca_file=None
    )
    assert plain.status is Status.ERROR and "https" in plain.message


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_bot_logs_the_checks_at_start(tmp_path: Path, database: str) -> None:
    async with FakeBotAPI(supports_inline_queries=False) as api:
        env = os.environ | {
            "TELESIP_DATA_DIR": str(tmp_path / "data"),
            "TELESIP_DATABASE_URL": database,
            "TELESIP_SECRET_KEY": TEST_KEY,
            "TELESIP_BOT_TOKEN": api.token,
            "TELESIP_BOT_API_URL": api.base_url,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "telesip.cli",
            "bot",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(60):
                while not any("start checks:" in line for line in seen):
                    line = (await proc.stdout.readline()).decode()
                    assert line, "\n".join(seen)
                    seen.append(line)
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
    text = "".join(seen)
    assert "check error   inline mode: inline mode is off for @telesip_test_bot" in text
    assert "ok      " not in text  # ok lines only at DEBUG
    assert api.token not in text
