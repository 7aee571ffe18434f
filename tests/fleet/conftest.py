"""Fixtures for the worker tests: a Kamailio (the SIP integration suite's, plus a JSON-RPC FIFO
so that the location table of hundreds of accounts can be read: kamcmd's reply buffer is too
small for that) and accounts whose passwords that Kamailio accepts (``pw-<login>``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.sip_integration.conftest as sip_conftest
from telesip.domain.settings import AccountSettings, Secret
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
        reply = self.dir / f"reply{os.getpid()}"  # no '.' or '/': jsonrpcs refuses those
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
