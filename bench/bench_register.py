"""Benchmark: register N accounts against a local Kamailio, and SIPp as the reference.

Usage: .venv/bin/python bench/bench_register.py [-n 10000] [--expires 300] [--steady 250]

Starts its own Kamailio on 127.0.0.1 (UDP, a free port; every user's password is "pw-<user>"),
registers N accounts from this process with one RegistrationManager, and reports:
  - time until all are registered and the rate (registrations/s),
  - RSS growth per account,
  - CPU of this process while refreshing in steady state (Expires --expires, measured over
    --steady seconds, which should cover one refresh cycle: 0.8 * expires),
then has SIPp register the same N users (digest, same Kamailio) and prints our rate / SIPp's.
Needs kamailio and sipp (bin/system-deps installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from telesip.workers import AccountConfig, RegistrationManager, RegistrationStatus

KAMAILIO_CFG = """#!KAMAILIO
debug=0
log_stderror=yes
children={children}
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{modules}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "auth.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("usrloc", "hash_size", 14)
modparam("registrar", "max_contacts", 0)
modparam("auth", "qop", "auth")
modparam("auth", "secret", "bench-secret")
modparam("auth", "nonce_expire", 900)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!is_method("REGISTER")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    $var(pw) = "pw-" + $au;
    if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {{ auth_challenge("$fd", "0"); exit; }}
    if (!save("location")) {{ sl_reply_error(); }}
    exit;
}}
"""

SIPP_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register with digest">
  <send retrans="500">
    <![CDATA[

REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: {expires}
Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[

REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]b[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
[field1]
Max-Forwards: 70
Expires: {expires}
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def kamailio(tmp: Path, children: int):  # type: ignore[no-untyped-def]
    binary, kamcmd = shutil.which("kamailio"), shutil.which("kamcmd")
    modules = next(Path("/usr/lib").glob("*/kamailio/modules"), None)
    if not binary or not kamcmd or modules is None:
        sys.exit("kamailio is not installed: run bin/system-deps")
    port = free_udp_port()
    ctl = str(tmp / "ctl.sock")
    cfg = tmp / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(port=port, modules=modules, ctl=ctl, children=children))
    log = (tmp / "kamailio.log").open("wb")
    proc = subprocess.Popen(
        [binary, "-f", str(cfg), "-DD", "-E", "-Y", str(tmp), "-m", "512", "-M", "32"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while subprocess.run([kamcmd, "-s", f"unix:{ctl}", "core.version"],
                             capture_output=True).returncode != 0:  # fmt: skip
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"kamailio did not start: {(tmp / 'kamailio.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield (
            port,
            lambda *a: (
                subprocess.run(
                    [kamcmd, "-s", f"unix:{ctl}", *a], capture_output=True, text=True
                ).stdout
            ),
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def ours(
    port: int, n: int, expires: int, steady: float, max_pending: int
) -> dict[str, float]:
    registered: set[int] = set()
    done = asyncio.Event()

    async def sink(st: RegistrationStatus) -> None:  # counts, as storage would be written
        if st.state == "registered":
            registered.add(st.account_id)
            if len(registered) == n:
                done.set()

    manager = RegistrationManager(bind_host="127.0.0.1", max_pending=max_pending, status_sink=sink)
    await manager.start()
    gc.collect()
    rss0 = rss_kib()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    for i in range(n):
        manager.apply(
            AccountConfig(
                account_id=i + 1, login=f"b{i}", password=f"pw-b{i}", domain="127.0.0.1",
                port=port, expires=expires,
            )
        )  # fmt: skip
    ids = range(1, n + 1)
    try:
        async with asyncio.timeout(600):
            await done.wait()
    except TimeoutError:
        raise SystemExit(f"only {len(registered)}/{n} registered after 600 s") from None
    t_all = time.monotonic() - t0
    cpu_reg = cpu_seconds() - cpu0
    gc.collect()
    rss1 = rss_kib()
    print(
        f"ours: {n} registered in {t_all:.2f} s ({n / t_all:.0f}/s), CPU {cpu_reg:.2f} s",
        flush=True,
    )
    print(f"ours: RSS +{rss1 - rss0} KiB = {(rss1 - rss0) * 1024 / n:.0f} B/account", flush=True)
    sent0 = manager.stats.sent
    cpu1, t1 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(steady)
    cpu_steady = cpu_seconds() - cpu1
    wall = time.monotonic() - t1
    refreshes = manager.stats.sent - sent0
    bad = sum(1 for i in ids if manager.status(i).state != "registered")
    pct = 100 * cpu_steady / wall
    print(f"ours: steady {wall:.0f} s: {refreshes} requests sent, CPU {cpu_steady:.2f} s "
          f"= {pct:.2f}% of one core; not registered: {bad}", flush=True)  # fmt: skip
    print(f"ours: stats {manager.stats}", flush=True)
    t_stop = time.monotonic()
    await manager.stop(grace=30)
    print(f"ours: stop (un-REGISTER all) took {time.monotonic() - t_stop:.2f} s", flush=True)
    return {
        "n": n, "time": t_all, "rate": n / t_all, "cpu_reg": cpu_reg,
        "rss_per_account": (rss1 - rss0) * 1024 / n, "steady_wall": wall,
        "steady_cpu_pct": 100 * cpu_steady / wall, "refreshes": refreshes, "unregistered": bad,
    }  # fmt: skip


def sipp(port: int, n: int, expires: int, limit: int, tmp: Path) -> float | None:
    binary = shutil.which("sipp")
    if binary is None:
        print("sipp is not installed: no reference rate")
        return None
    # the [authentication] keyword cannot nest [fieldN]: it comes whole from the injection file
    rows = "".join(f"b{i};[authentication username=b{i} password=pw-b{i}]\n" for i in range(n))
    (tmp / "users.csv").write_text("SEQUENTIAL\n" + rows)
    (tmp / "reg.xml").write_text(SIPP_UAC.format(expires=expires))
    t0 = time.monotonic()
    proc = subprocess.run(
        [binary, f"127.0.0.1:{port}", "-sf", str(tmp / "reg.xml"), "-inf", str(tmp / "users.csv"),
         "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", str(n), "-r", "100000",
         "-l", str(limit), "-nostdin", "-trace_err", "-error_file", str(tmp / "sipp.err")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    took = time.monotonic() - t0
    print(f"sipp: exit {proc.returncode}, {n} REGISTER calls in {took:.2f} s ({n / took:.0f}/s)")
    return n / took


def kam_stats(rpc: Callable[..., str]) -> str:
    wanted = ("registrar:accepted_regs", "usrloc:registered_users", "core:drop_requests")
    lines = rpc("stats.get_statistics", "all").splitlines()
    return ", ".join(line.strip() for line in lines if line.strip().startswith(wanted))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="accounts (default 10000)")
    ap.add_argument("--expires", type=int, default=300)
    ap.add_argument("--steady", type=float, default=250.0, help="steady-state window, seconds")
    ap.add_argument("--max-pending", type=int, default=500, help="in flight: ours and SIPp -l")
    ap.add_argument("--children", type=int, default=2, help="Kamailio UDP workers")
    ap.add_argument("--skip-sipp", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reg-") as d:
        tmp = Path(d)
        with kamailio(tmp, args.children) as (port, rpc):
            ours_fig = asyncio.run(ours(port, args.n, args.expires, args.steady, args.max_pending))
            print(f"kamailio after our run: {kam_stats(rpc)}")
            ref = (
                None if args.skip_sipp else sipp(port, args.n, args.expires, args.max_pending, tmp)
            )
            print(f"kamailio after sipp: {kam_stats(rpc)}")
    print()
    print(f"accounts                {args.n}")
    print(f"time to all registered  {ours_fig['time']:.2f} s ({ours_fig['rate']:.0f}/s)")
    if ref:
        print(f"SIPp reference          {ref:.0f}/s; ours / SIPp = {ours_fig['rate'] / ref:.2f}")
    print(f"RSS per account         {ours_fig['rss_per_account'] / 1024:.2f} KiB")
    print(f"steady-state CPU        {ours_fig['steady_cpu_pct']:.2f}% of one core "
          f"(Expires {args.expires}, {ours_fig['steady_wall']:.0f} s, "
          f"{ours_fig['refreshes']:.0f} requests)")  # fmt: skip


if __name__ == "__main__":
    main()
