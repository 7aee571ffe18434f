"""Fixtures for the worker tests: a Kamailio (the SIP integration suite's, plus a JSON-RPC FIFO
so that the location table of hundreds of accounts can be read: kamcmd's reply buffer is too
small for that) and accounts whose passwords that Kamailio accepts (``pw-<login>``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

import tests.sip_integration.conftest as sip_conftest
from telesip.domain.clock import SystemClock
from telesip.domain.settings import AccountSettings, Secret
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from tests.conftest import TEST_KEY, make_services
from tests.sip_integration.conftest import Cert, run_kamailio, tls_cert  # noqa: F401

JSONRPC = (
    'loadmodule "jsonrpcs.so"\n'
    'modparam("jsonrpcs", "transport", 2)\n'
    'modparam("jsonrpcs", "fifo_name", "{dir}/rpc.fifo")\n'
    'modparam("jsonrpcs", "fifo_reply_dir", "{dir}/")\n'
)


class Kamailio:
    """A running Kamailio, with its location table read over JSON-RPC."""

    def __init__(self, inner: sip_conftest.Kamailio, rpc_dir: Path) -> None:
        self.inner = inner
        self.port = inner.port
        self.dir = rpc_dir

    def rpc(self, method: str, *params: str) -> object:
        # one reply FIFO per thread (a sampler may read while the test does); no '.' or '/'
        reply = self.dir / f"reply{os.getpid()}x{threading.get_ident()}"
        if not reply.exists():
            os.mkfifo(reply)
        with open(self.dir / "rpc.fifo", "w") as fifo:
            fifo.write(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": method,
                        "params": list(params),
                        "reply_name": reply.name,
                        "id": 1,
                    }
                )
            )
        with open(reply) as answer:
            return json.loads(answer.read()).get("result")

    def bindings(self) -> dict[str, list[dict[str, object]]]:
        """AoR -> its live contacts (Address, Expires, ...), from ``ul.dump``. Kamailio keeps
        an expired contact in memory until its cleanup timer runs; it is not a registration."""
        result = self.rpc("ul.dump")
        out: dict[str, list[dict[str, object]]] = {}
        for domain in result["Domains"]:  # type: ignore[index]
            for aor in domain["Domain"]["AoRs"] or []:
                info = aor["Info"]
                live = [
                    c["Contact"] for c in info["Contacts"] if c["Contact"]["Expires"] != "expired"
                ]
                if live:
                    out[info["AoR"]] = live
        return out

    def contacts(self, user: str) -> list[str]:
        return [str(c["Address"]) for c in self.bindings().get(user, [])]


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory, tls_cert: Cert) -> Iterator[Kamailio]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("kamailio")
    original = sip_conftest.KAMAILIO_CFG
    sip_conftest.KAMAILIO_CFG = original.replace(
        'loadmodule "tls.so"\n',
        'loadmodule "tls.so"\n' + JSONRPC.format(dir=tmp).replace("{", "{{").replace("}", "}}"),
    )
    try:
        with run_kamailio(tmp, tls_cert) as kam:
            yield Kamailio(kam, tmp)
    finally:
        sip_conftest.KAMAILIO_CFG = original


def sip_for(
    kam: Kamailio, login: str, *, expires: int = 60, good: bool = True, worker: str | None = None
) -> AccountSettings:
    return AccountSettings(
        login=login,
        password=Secret(f"pw-{login}" if good else "wrong"),
        domain="127.0.0.1",
        port=kam.port,
        expires=expires,
        worker=worker,
    )


def contact_port(address: object) -> int:
    """The port of a contact URI like sip:user@127.0.0.1:40123;transport=udp."""
    hostport = str(address).split("@", 1)[-1].split(";", 1)[0].rstrip(">")
    return int(hostport.rsplit(":", 1)[1])


@pytest.fixture
async def pg(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Dependencies]:
    deps = await make_services("pg", request, tmp_path, SystemClock())  # type: ignore[arg-type]
    yield deps
    await deps.engine.dispose()


class Fleet:
    """Worker processes (``telesip worker``) on one database, each logging to its own file."""

    def __init__(self, url: str, tmp: Path, ttl: float = 4, grace: float | None = None) -> None:
        self.url, self.tmp, self.ttl, self.grace = url, tmp, ttl, grace
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self,
        name: str,
        url: str | None = None,
        more_env: dict[str, str] | None = None,
        launcher: str = "telesip.cli",
    ) -> None:
        """Start worker ``name``; ``more_env``: more environment (say, libfaketime's);
        ``launcher``: the module run as ``python -m`` (tests.faults.stall freezes it)."""
        env = (
            os.environ
            | (more_env or {})
            | {
                "TELESIP_DATABASE_URL": url or self.url,
                "TELESIP_SECRET_KEY": TEST_KEY,
                "TELESIP_WORKER_NAME": name,
                "TELESIP_SIP_BIND": "127.0.0.1:0",
                "TELESIP_LEASE_TTL_SECONDS": str(self.ttl),
                "TELESIP_DATA_DIR": str(self.tmp),
                "TELESIP_LOG_LEVEL": "INFO",
            }
            | ({} if self.grace is None else {"TELESIP_LEASE_GRACE_SECONDS": str(self.grace)})
        )
        log = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", launcher, "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.kill(proc.pid, sig)
        proc.wait(timeout=15)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-1500:] for p in self.tmp.glob("*.log"))


@pytest.fixture
def fleet(pg: Dependencies, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(pg.engine.url.render_as_string(hide_password=False), tmp_path, ttl=4)
    yield f
    for proc in f.procs.values():
        with_kill = proc.poll() is None
        if with_kill:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def ports(deps: Dependencies) -> dict[str, int]:
    """Worker name -> its UDP port, for the live ones (from their advertised addresses)."""
    async with deps.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.workers.c.name, t.workers.c.addresses).where(
                    t.workers.c.instance.is_not(None)
                )
            )
        ).all()
    return {r.name: int(r.addresses[0].rsplit(":", 1)[1]) for r in rows if r.addresses}


async def held_by(deps: Dependencies, name: str) -> set[int]:
    async with deps.engine.connect() as conn:
        rows = await conn.execute(
            select(t.leases.c.account_id)
            .join(t.workers, t.workers.c.id == t.leases.c.worker_id)
            .where(t.workers.c.name == name, t.workers.c.instance == t.leases.c.instance)
        )
        return {int(r[0]) for r in rows}


def wait(cond, within: float, what: str, fleet: Fleet) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while True:
        if cond():
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within}s: {what}\n{fleet.logs()}")
        time.sleep(0.2)
