"""A remote worker with no database access: it joins the control plane over HTTPS with its
one-time credential, keeps only the accounts pinned to it registered, and is refused (and stops
every registration) once revoked; unknown names and wrong credentials are refused too."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import ssl
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from prometheus_client import REGISTRY, generate_latest

from telesip.config import Settings
from telesip.domain import errors
from telesip.domain.callers import CallerInfo
from telesip.domain.calls import EndReason
from telesip.domain.firewall import publish
from telesip.domain.settings import AccountSettings, Secret
from telesip.health import PROBES
from telesip.services import accounts, calls, fleet, outbox, recordings
from telesip.services import callers as callers_svc
from telesip.services.dependencies import Dependencies
from telesip.workers.addresses import publisher
from telesip.workers.registrar import RegistrationManager
from telesip.workers.remote import RemoteWorker, check_control_url
from tests.sip_integration.conftest import Cert

from ..core.helpers import ALICE, BOB
from .conftest import Kamailio, contact_port, sip_for
from .test_worker import Forward, eventually, eventually_async


@pytest.fixture
async def control(services: Dependencies, tls_cert: Cert, tmp_path: Path) -> AsyncIterator[str]:
    """The real API app on 127.0.0.1 over TLS (self-signed certificate)."""
    from telesip.api.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(services, Settings(lease_ttl_seconds=4, data_dir=tmp_path / "data"))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(tls_cert.cert),
            ssl_keyfile=str(tls_cert.key),
            lifespan="off",
            log_config=None,
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="control plane listening")
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    await task


def _verify(cert: Cert) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert.cert))


async def _start(
    url: str, cert: Cert, name: str, credential: str, *, advertise: str | None = None
) -> tuple[RemoteWorker, RegistrationManager, asyncio.Task[None]]:
    """A remote worker; with ``advertise`` it publishes its firewall entries as `telesip
    worker` does (that address first, the one its registrar saw once one answered)."""
    sink = Forward()
    manager = RegistrationManager(
        status_sink=sink,
        bind_host="127.0.0.1",
        udp_port=0,
        keepalive_interval=0,
        advertise_host=advertise,
    )
    await manager.start()
    port = manager.udp_local[1]  # type: ignore[index]
    entries = publisher(manager, "127.0.0.1", advertise, port, RTP) if advertise else None
    worker = RemoteWorker(
        manager,
        url,
        name=name,
        credential=credential,
        verify=_verify(cert),
        addresses=entries() if entries else [f"udp:127.0.0.1:{port}"],
        publish=entries,
    )
    sink.target = worker.on_status
    return worker, manager, asyncio.create_task(worker.run())


RTP = "20000-20099"


async def _firewall_is(deps: Dependencies, account_id: int, entries: list[str]) -> bool:
    return await fleet.firewall(deps, account_id, ttl=4) == entries


async def _state(deps: Dependencies, account_id: int) -> str:
    return (await accounts.get_card(deps, None, account_id)).summary.reg_state


async def test_remote_worker_serves_its_pinned_accounts_until_revoked(
    services: Dependencies, kamailio: Kamailio, control: str, tls_cert: Cert
) -> None:
    deps = services
    _, credential = await fleet.create_worker(deps, "office-lan", remote=True, owner_id=ALICE.id)
    assert credential is not None
    pinned = [
        await accounts.create_account(
            deps, ALICE, sip_for(kamailio, f"lan{i}", worker="office-lan")
        )
        for i in range(2)
    ]
    loose = await accounts.create_account(deps, ALICE, sip_for(kamailio, "loose"))
    # Bob names Alice's worker: it must not receive Bob's password
    bobs = await accounts.create_account(deps, BOB, sip_for(kamailio, "bobs", worker="office-lan"))
    _worker, manager, task = await _start(
        control, tls_cert, "office-lan", credential, advertise="192.0.2.20"
    )
    try:
        await eventually(
            lambda: task.done() or all(kamailio.contacts(f"lan{i}") for i in range(2)),
            what="pinned accounts registered by the remote worker",
        )
        assert not task.done(), task.exception()
        port = manager.udp_local[1]  # type: ignore[index]
        assert all(contact_port(kamailio.contacts(f"lan{i}")[0]) == port for i in range(2))
        for acc in pinned:
            await eventually_async(lambda a=acc: _is(deps, a, "registered"), what="state reported")
        assert not kamailio.contacts("loose") and await _state(deps, loose) == "unknown"
        assert not kamailio.contacts("bobs") and await _state(deps, bobs) == "unknown"
        assert await fleet.firewall(deps, bobs, ttl=4) == []
        views = {v.name: v for v in await fleet.list_workers(deps, ttl=4)}
        assert views["office-lan"].alive and views["office-lan"].accounts == 2
        # joined as 192.0.2.20 (advertised); the sync then names what Kamailio saw
        seen = publish(["127.0.0.1"], udp_port=port, rtp=RTP)
        await eventually_async(
            lambda: _firewall_is(deps, pinned[0], seen), what="registrar-seen address synced"
        )
        # its /readyz and /metrics (served on TELESIP_METRICS_BIND by `telesip worker`)
        assert (await PROBES.readiness())["worker office-lan"] is None
        scraped = generate_latest(REGISTRY).decode()
        assert 'telesip_worker_registrations{state="registered",worker="office-lan"} 2.0' in scraped
        assert 'telesip_worker_accounts_held{worker="office-lan"} 2.0' in scraped

        await fleet.revoke_worker(deps, "office-lan")
        with pytest.raises(errors.ConfigError) as exc:
            await asyncio.wait_for(task, 10)
        assert "revoked" in exc.value.message
        await eventually(
            lambda: not any(kamailio.contacts(f"lan{i}") for i in range(2)),
            what="registrations stopped after the revocation",
        )
        assert [await _state(deps, a) for a in pinned] == ["unregistered", "unregistered"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, errors.ConfigError):
            await task
        await manager.stop()


async def _is(deps: Dependencies, account_id: int, state: str) -> bool:
    return await _state(deps, account_id) == state


@pytest.mark.parametrize(
    "name,credential,reason",
    [
        ("nobody", "tsw_whatever", "unknown"),
        ("lan2", "tsw_wrong", "not authenticated"),
    ],
)
async def test_unknown_or_unauthenticated_workers_are_refused(
    services: Dependencies, control: str, tls_cert: Cert, name: str, credential: str, reason: str
) -> None:
    await fleet.create_worker(services, "lan2", remote=True)
    _worker, manager, task = await _start(control, tls_cert, name, credential)
    try:
        with pytest.raises(errors.ConfigError) as exc:
            await asyncio.wait_for(task, 10)
        assert reason in exc.value.message
    finally:
        await manager.stop()


def test_passwords_only_travel_over_https_or_loopback() -> None:
    assert check_control_url("https://telesip.example.com/") == "https://telesip.example.com"
    assert check_control_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    with pytest.raises(errors.ConfigError):
        check_control_url("http://telesip.example.com")


async def test_a_remote_worker_writes_only_its_own_calls(
    services: Dependencies, control: str, tls_cert: Cert, tmp_path: Path
) -> None:
    """The control plane's call operations: a worker names only the lines it holds and the
    calls it runs, and asks the bot only for call messages of its catalog."""
    deps = services

    async def joined(http: httpx.AsyncClient, name: str) -> tuple[dict[str, str], dict[str, str]]:
        _, credential = await fleet.create_worker(deps, name, remote=True, owner_id=ALICE.id)
        headers = {"Authorization": f"Bearer {credential}"}
        r = await http.post("/join", json={"name": name}, headers=headers)
        me = {"name": name, "instance": r.json()["instance"]}
        r = await http.post("/sync", json=me, headers=headers)  # claims its pinned lines
        assert r.status_code == 200, r.text
        return headers, me

    settings = AccountSettings(login="l1", password=Secret("pw"), domain="127.0.0.1")
    line = await accounts.create_account(
        deps, ALICE, replace(settings, worker="lan-a", codecs=["PCMU", "PCMA"], dtmf_mode="inband")
    )
    other = await accounts.create_account(deps, ALICE, replace(settings, login="l2"))
    async with httpx.AsyncClient(
        base_url=f"{control}/api/v1/worker", verify=_verify(tls_cert)
    ) as http:
        a, me_a = await joined(http, "lan-a")
        b, me_b = await joined(http, "lan-b")
        # the line comes down with what its calls need too
        (held,) = (await http.post("/sync", json=me_a, headers=a)).json()["accounts"]
        assert (held["account_id"], held["codecs"], held["dtmf_mode"], held["record"]) == (
            line,
            ["PCMU", "PCMA"],
            "inband",
            False,
        )
        # its caller accounts are named to people; a phone must come masked
        caller = {"id": 5, "name": "Office calls", "username": None, "phone": "+7******4567"}
        r = await http.post("/sync", json=me_a | {"callers": [caller]}, headers=a)
        assert r.status_code == 200, r.text
        r = await http.post(
            "/sync", json=me_a | {"callers": [caller | {"phone": "+79161234567"}]}, headers=a
        )
        assert r.status_code == 422, r.text
        (named,) = await callers_svc.caller_accounts(deps)
        assert (named.id, named.name, named.phone) == (5, "Office calls", "+7******4567")
        # nor can a worker rename or forget the service's accounts or another worker's
        await callers_svc.record_caller(deps, CallerInfo(9, "Telesip"))
        hijack = {"id": 9, "name": "Hijack", "username": "evil", "phone": None}
        for me, who in ((me_a, a), (me_b, b)):
            r = await http.post(
                "/sync",
                json=me | {"callers": [hijack], "callers_gone": [5, 9] if who is b else [9]},
                headers=who,
            )
            assert r.status_code == 200, r.text
        named = {c.id: c.name for c in await callers_svc.caller_accounts(deps)}
        assert named == {5: "Office calls", 9: "Telesip"}
        r = await http.post("/sync", json=me_a | {"callers": [], "callers_gone": [5]}, headers=a)
        assert r.status_code == 200
        assert [c.id for c in await callers_svc.caller_accounts(deps)] == [9]
        r = await http.post("/calls", json=me_a | {"account_id": line, "number": "101"}, headers=a)
        assert r.status_code == 200, r.text
        call = r.json()
        assert (call["account_id"], call["state"], call["number"]) == (line, "ringing", "101")
        cid = call["id"]

        # another worker, or a line this one does not hold: 404, nothing written
        for who, me, account_id in ((b, me_b, line), (a, me_a, other)):
            r = await http.post(
                "/calls", json=me | {"account_id": account_id, "number": "1"}, headers=who
            )
            assert r.status_code == 404, r.text
        for path, body in (("ended", {"reason": "completed"}), ("answered", {}), ("keypad", {})):
            r = await http.post(f"/calls/{cid}/{path}", json=me_b | body, headers=b)
            assert r.status_code == 404, (path, r.text)
        r = await http.post("/calls/commands", json=me_b | {"call_ids": [cid]}, headers=b)
        assert r.json() == []
        # the wrong credential for a name is refused
        r = await http.post(f"/calls/{cid}/keypad", json=me_a, headers=b)
        assert r.status_code in (401, 403), r.text
        # only call messages of the catalog, with short parameters
        for body in (
            {"key": "offer.received"},
            {"key": "call.nonexistent"},
            {"key": "call.incoming", "params": {"caller": "x" * 500}},
            {"key": "call.incoming", "params": {"Caller-Name": "x"}},
        ):
            r = await http.post(f"/calls/{cid}/messages", json=me_a | body, headers=a)
            assert r.status_code == 422, r.text
        assert await outbox.due(deps, limit=10) == []
        r = await http.post(
            f"/calls/{cid}/messages",
            json=me_a | {"key": "call.incoming", "params": {"caller": "Telesip", "key": "x"}},
            headers=a,
        )
        assert r.status_code == 204, r.text
        (message,) = await outbox.due(deps, limit=10)
        assert message.chat_id == ALICE.id and message.payload["key"] == "call.incoming"

        # its recording: a WAV of a call it runs, uploaded before the end names it
        wav = io.BytesIO()
        with wave.open(wav, "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(np.zeros(800, np.int16).tobytes())
        upload = f"/calls/{cid}/recording"
        ended = me_a | {"reason": "completed", "recording": f"call-{cid}.wav"}
        r = await http.post(f"/calls/{cid}/ended", json=ended, headers=a)
        assert r.status_code == 422, r.text  # nothing uploaded yet: the row stays open
        for params, who, content, status in (
            (me_b, b, wav.getvalue(), 404),
            (me_a, a, b"RIFF not a wav", 422),
            (me_a, a, wav.getvalue().replace(b"\x40\x1f", b"\x80\x3e", 1), 422),  # 16 kHz
        ):
            r = await http.post(upload, params=params, content=content, headers=who)
            assert r.status_code == status, r.text
        kept = tmp_path / "data" / "recordings" / f"call-{cid}.wav"  # the control plane's
        assert not kept.exists()
        (lan_a,) = [w.id for w in await fleet.list_workers(deps, ttl=4) if w.name == "lan-a"]

        async def body() -> AsyncIterator[bytes]:
            yield wav.getvalue()

        with pytest.raises(errors.InvalidInput, match="over 100 bytes"):
            await recordings.receive(deps, kept.parent, lan_a, cid, body(), limit=100)
        assert list(kept.parent.iterdir()) == []  # no part left behind
        r = await http.post(upload, params=me_a, content=wav.getvalue(), headers=a)
        assert r.status_code == 200 and r.json() == {"file": f"call-{cid}.wav"}, r.text
        assert kept.read_bytes() == wav.getvalue()
        r = await http.post(f"/calls/{cid}/ended", json=ended, headers=a)
        assert r.json()["state"] == "ended" and r.json()["recording"] == f"call-{cid}.wav"
        documents = [m for m in await outbox.due(deps, limit=10) if m.kind == "document"]
        assert [m.payload["file"] for m in documents] == [f"call-{cid}.wav"]
        r = await http.post(f"/calls/{cid}/ended", json=me_a | {"reason": "failed"}, headers=a)
        assert r.status_code == 200 and r.json() is None  # closed once
        assert (await calls.get_call(deps, cid)).end_reason is EndReason.COMPLETED

        # outgoing requests: claimed only on the worker's own lines
        wanted = await calls.request_call(deps, ALICE, "+15550100", other)
        r = await http.post("/calls/claim", json=me_a | {"account_ids": [line, other]}, headers=a)
        assert r.json() == [] and (await calls.get_call(deps, wanted.id)).worker_id is None
        await calls.hang_up(deps, ALICE, wanted.id)
        mine = await calls.request_call(deps, ALICE, "+15550101", line)
        r = await http.post("/calls/claim", json=me_b | {"account_ids": [line]}, headers=b)
        assert r.json() == []
        r = await http.post("/calls/claim", json=me_a | {"account_ids": [line, other]}, headers=a)
        assert [c["id"] for c in r.json()] == [mine.id]


async def test_unpinning_or_repinning_releases_the_line_within_seconds(
    services: Dependencies, kamailio: Kamailio, control: str, tls_cert: Cert
) -> None:
    """Issue 18 item 7: taking a line off a running remote worker (un-pinned, or pinned to
    another remote worker) un-REGISTERs it there within a couple of seconds; the other worker
    takes a line pinned to it, and one that no worker may hold shows as unregistered."""
    deps = services
    creds = {}
    for name in ("lan-a", "lan-b"):
        _, creds[name] = await fleet.create_worker(deps, name, remote=True, owner_id=ALICE.id)
    line = await accounts.create_account(deps, ALICE, sip_for(kamailio, "rp1", worker="lan-a"))
    started = [await _start(control, tls_cert, n, str(creds[n])) for n in ("lan-a", "lan-b")]
    port_a, port_b = (m.udp_local[1] for _, m, _ in started)  # type: ignore[index]
    try:
        await eventually(lambda: kamailio.contacts("rp1"), what="registered by lan-a")
        assert [contact_port(c) for c in kamailio.contacts("rp1")] == [port_a]
        await eventually_async(lambda: _is(deps, line, "registered"), what="state reported")

        await accounts.update_settings(deps, ALICE, line, worker="lan-b")
        began = time.monotonic()
        await eventually(
            lambda: [contact_port(c) for c in kamailio.contacts("rp1")] == [port_b],
            within=5,
            what="re-pinned: registered by lan-b only",
        )
        moved = time.monotonic() - began
        await eventually_async(lambda: _is(deps, line, "registered"), what="state reported")

        await accounts.update_settings(deps, ALICE, line, worker=None)  # remote: pinned only
        began = time.monotonic()
        await eventually(lambda: not kamailio.contacts("rp1"), within=5, what="un-pinned")
        dropped = time.monotonic() - began
        await eventually_async(lambda: _is(deps, line, "unregistered"), what="shown unregistered")
        print(f"re-pinned in {moved:.1f} s, un-pinned in {dropped:.1f} s")
        assert moved <= 3 and dropped <= 3
        for _, _, task in started:
            assert not task.done(), task.exception()
    finally:
        for _, manager, task in started:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, errors.ConfigError):
                await task
            await manager.stop()


async def test_a_remote_worker_started_before_its_control_plane_waits_for_it(
    services: Dependencies, tls_cert: Cert, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It retries the join with backoff and jitter, naming the URL, and joins once the
    control plane answers; a refusal still ends it at once, naming the control plane."""
    from telesip.api.app import create_app

    _, credential = await fleet.create_worker(services, "early", remote=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    manager = RegistrationManager(status_sink=Forward(), bind_host="127.0.0.1", udp_port=0)
    await manager.start()
    worker = RemoteWorker(manager, url, name="early", credential=str(credential))
    worker.join_backoff = (0.2, 0.4)
    task = asyncio.create_task(worker.run())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, Settings(lease_ttl_seconds=4, data_dir=tmp_path / "data")),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
        )
    )
    serving: asyncio.Task[None] | None = None
    try:
        await eventually(
            lambda: caplog.text.count("not answering") >= 2, what="two failed join attempts"
        )
        assert f"control plane {url}/api/v1/worker not answering (ConnectError" in caplog.text
        assert not task.done()
        serving = asyncio.create_task(server.serve())
        await eventually(lambda: worker.instance is not None, what="joined once it answered")
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.should_exit = True
        if serving is not None:
            await serving
        await manager.stop()

    # a wrong credential is no outage: it ends at once and says who refused it
    manager = RegistrationManager(status_sink=Forward(), bind_host="127.0.0.1", udp_port=0)
    await manager.start()
    serving = asyncio.create_task(server.serve())
    server.should_exit = False
    try:
        await eventually(lambda: server.started, what="control plane listening again")
        wrong = RemoteWorker(manager, url, name="early", credential="tsw_wrong")
        with pytest.raises(errors.ConfigError) as exc:
            await asyncio.wait_for(wrong.run(), 10)
        assert exc.value.message.startswith(f"the control plane at {url}/api/v1/worker refused")
        assert "not authenticated" in exc.value.message
    finally:
        server.should_exit = True
        await serving
        await manager.stop()


async def test_an_untrusted_certificate_ends_the_worker_with_one_line(
    services: Dependencies, control: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A control plane whose certificate does not verify is a configuration error, not an
    outage: no retry, one line naming the control plane, the reason and the fix."""
    _, credential = await fleet.create_worker(services, "tls", remote=True)
    manager = RegistrationManager(status_sink=Forward(), bind_host="127.0.0.1", udp_port=0)
    await manager.start()
    try:  # no --ca-file: the system's CAs, which do not hold the test's certificate
        worker = RemoteWorker(manager, control, name="tls", credential=str(credential))
        worker.join_backoff = (0.01, 0.02)
        with pytest.raises(errors.ConfigError) as ended:
            await asyncio.wait_for(worker.run(), 10)
    finally:
        await manager.stop()
    message = ended.value.message
    assert message.startswith(f"the control plane at {control}/api/v1/worker has a TLS certificate")
    assert "--ca-file" in message and "\n" not in message, message
    assert "not answering" not in caplog.text
