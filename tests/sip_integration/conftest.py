"""Real SIP peers on loopback: a Kamailio the suite configures, SIPp UAS scenarios, a TLS cert.

Every peer listens on 127.0.0.1 on a free port and is killed after its tests. Without
kamailio / sipp / openssl the tests that need them skip with the reason printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from telesip.domain import RegistrationReport
from telesip.sip import RegistrationPolicy
from telesip.workers import RegistrationManager

MODULES = next(
    (p for p in Path("/usr/lib").glob("*/kamailio/modules") if (p / "tls.so").exists()), None
)


def pytest_configure(config: pytest.Config) -> None:
    # Skips here mean "a SIP peer is missing": always print why.
    chars = getattr(config.option, "reportchars", "") or ""
    if "s" not in chars and "a" not in chars and "A" not in chars:
        config.option.reportchars = chars + "s"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed: run bin/system-deps (Debian kamailio, sip-tester)")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the next one too, for TLS)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
        if port > 65000:
            continue
        try:
            for p in (port, port + 1):
                for k in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, k) as s:
                        s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


async def eventually(cond: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
    """Poll `cond` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.02)


@dataclass
class Cert:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    need("openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return Cert(d / "cert.pem", d / "key.pem")


KAMAILIO_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=2
tcp_children=2
enable_tls=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
listen=tls:127.0.0.1:{tls_port}
mpath="{modules}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "auth.so"
loadmodule "tls.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("tls", "config", "{tls_cfg}")
modparam("registrar", "min_expires", 2)
modparam("registrar", "default_expires", 5)
modparam("registrar", "max_expires", {max_expires})
modparam("auth", "qop", "auth")
modparam("auth", "secret", "telesip-test-secret")
modparam("auth", "nonce_expire", 600)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!is_method("REGISTER")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    # every user's password is "pw-<user>": the suite and the benchmark need no user table
    $var(pw) = "pw-" + $au;
    if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {{
        auth_challenge("$fd", "0");
        exit;
    }}
    if (!save("location")) {{ sl_reply_error(); }}
    exit;
}}
"""

TLS_CFG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = {key}
certificate = {cert}
"""


@dataclass
class Kamailio:
    port: int
    tls_port: int
    ctl: str
    proc: subprocess.Popen[bytes]
    kamcmd: str

    def rpc(self, *args: str) -> str:
        out = subprocess.run(
            [self.kamcmd, "-s", f"unix:{self.ctl}", *args],
            check=True, capture_output=True, timeout=10,
        )  # fmt: skip
        return out.stdout.decode()

    def bindings(self) -> dict[str, list[dict[str, str]]]:
        """AoR -> its contacts (Address, Expires, CSeq, ...), from `ul.dump`."""
        result: dict[str, list[dict[str, str]]] = {}
        aor: str | None = None
        contact: dict[str, str] | None = None
        for line in self.rpc("ul.dump").splitlines():
            m = re.match(r"\s*(\S[^:]*):\s*(.*)$", line)
            if not m:
                continue
            key, value = m.group(1), m.group(2).strip()
            if key == "AoR":
                aor = value
                result[aor] = []
            elif key == "Address" and aor is not None:
                contact = {"Address": value}
                result[aor].append(contact)
            elif contact is not None and value and value != "{":
                contact.setdefault(key, value)
        return result

    def contacts(self, user: str) -> list[str]:
        return [c["Address"] for c in self.bindings().get(user, [])]


@contextlib.contextmanager
def run_kamailio(tmp: Path, cert: Cert, max_expires: int = 3600) -> Iterator[Kamailio]:
    binary = need("kamailio")
    kamcmd = need("kamcmd")
    if MODULES is None:
        pytest.skip("Kamailio's tls module is missing: install kamailio-tls-modules")
    port = free_port()
    ctl = str(tmp / "ctl.sock")
    (tmp / "tls.cfg").write_text(TLS_CFG.format(key=cert.key, cert=cert.cert))
    cfg = tmp / "kamailio.cfg"
    cfg.write_text(
        KAMAILIO_CFG.format(
            port=port, tls_port=port + 1, modules=MODULES, ctl=ctl,
            tls_cfg=tmp / "tls.cfg", max_expires=max_expires,
        )
    )  # fmt: skip
    log = (tmp / "kamailio.log").open("wb")
    proc = subprocess.Popen(
        [binary, "-f", str(cfg), "-DD", "-E", "-Y", str(tmp), "-m", "128", "-M", "16"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    kam = Kamailio(port, port + 1, ctl, proc, kamcmd)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"kamailio exited: {(tmp / 'kamailio.log').read_text()[-2000:]}")
            try:
                kam.rpc("core.version")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield kam
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory, tls_cert: Cert) -> Iterator[Kamailio]:
    with run_kamailio(tmp_path_factory.mktemp("kamailio"), tls_cert) as kam:
        yield kam


@dataclass
class Harness:
    manager: RegistrationManager
    seen: list[RegistrationReport] = field(default_factory=list)

    def last(self, account_id: int) -> RegistrationReport | None:
        for st in reversed(self.seen):
            if st.account_id == account_id:
                return st
        return None

    def states(self, account_id: int) -> list[str]:
        return [s.state for s in self.seen if s.account_id == account_id]

    async def wait_state(self, account_id: int, state: str, within: float = 10.0) -> None:
        await eventually(
            lambda: self.manager.status(account_id).state == state,
            within,
            f"account {account_id} to be {state} (now {self.manager.status(account_id)})",
        )


FAST = RegistrationPolicy(retry_base=60.0, retry_max=60.0, auth_retry=600.0)


@pytest.fixture
async def harness(tls_cert: Cert) -> AsyncIterator[Harness]:
    h: Harness

    def sink(status: RegistrationReport) -> None:
        h.seen.append(status)

    manager = RegistrationManager(
        status_sink=sink,
        bind_host="127.0.0.1",
        tls_context=tls_cert.client_context(),
        policy=FAST,
        keepalive_interval=1.0,
    )
    h = Harness(manager)
    await manager.start()
    try:
        yield h
    finally:
        await manager.stop(grace=1.0)


ManagerFactory = Callable[..., Awaitable[Harness]]
