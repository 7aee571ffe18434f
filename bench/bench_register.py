"""Benchmark: register N accounts against a local Kamailio, with SIPp as the reference.

Usage: .venv/bin/python bench/bench_register.py [-n 10000] [--expires 300] [--steady 250]
           [--sample 60] [--rates 8000,16000,32000] [--sipp-limits 250,500,1000] [--loop auto]

Each run gets a fresh Kamailio on 127.0.0.1 (UDP, a free port; every user's password is
"pw-<user>"; its digest challenges carry qop="auth", so both clients hash with a cnonce and a
nonce count). First ours: N accounts from this process with one RegistrationManager (on the
event loop telesip would pick, see telesip/eventloop.py), reporting
  - time until all are registered and the rate (registrations/s),
  - CPU of this process per registration (user + system, from apply() to the last 200 OK),
  - RSS growth per account,
  - steady state for --steady seconds (Expires --expires): a sample every --sample seconds of
    RSS, open file descriptors, CPU and requests sent (refreshes), so a long run shows whether
    anything grows; the whole window as % of one core and CPU per refresh;
(this process runs with `eventloop.tune_gc()`, as `telesip worker` does; `--gc default` for
CPython's collector); then SIPp registers the same N users (digest, two round trips each) at
each --rates rate with each --sipp-limits number of calls in flight, each run on a fresh
Kamailio, its CPU read
from the kernel's accounting of the child. SIPp's best clean rate
(every call succeeded, Kamailio accepted N)
is the rate reference, its lowest CPU per registration among clean runs the CPU reference;
both ratios are printed. Needs kamailio and sipp (bin/system-deps installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
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

from telesip import eventloop
from telesip.domain import RegistrationReport
from telesip.workers import AccountConfig, RegistrationManager

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
    if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {{ auth_challenge("$fd", "1"); exit; }}
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
def kamailio(tmp: Path, children: int, port: int | None = None):  # type: ignore[no-untyped-def]
    """A Kamailio on 127.0.0.1 (``port``, or a free one); yields its port and an RPC call."""
    binary, kamcmd = shutil.which("kamailio"), shutil.which("kamcmd")
    modules = next(Path("/usr/lib").glob("*/kamailio/modules"), None)
    if not binary or not kamcmd or modules is None:
        sys.exit("kamailio is not installed: run bin/system-deps")
    tmp.mkdir(parents=True, exist_ok=True)
    port = port or free_udp_port()
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


def sys_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def ours(
    port: int, n: int, expires: int, steady: float, sample: float, max_pending: int
) -> dict[str, object]:
    registered: set[int] = set()
    done = asyncio.Event()

    def sink(st: RegistrationReport) -> None:  # counts, as storage would be written
        if st.state == "registered":
            registered.add(st.account_id)
            if len(registered) == n:
                done.set()

    manager = RegistrationManager(bind_host="127.0.0.1", max_pending=max_pending, status_sink=sink)
    await manager.start()
    configs = [
        AccountConfig(
            account_id=i + 1, login=f"b{i}", password=f"pw-b{i}", domain="127.0.0.1",
            port=port, expires=expires,
        )
        for i in range(n)
    ]  # fmt: skip
    gc.collect()
    rss0 = rss_kib()
    cpu0, sys0, t0 = cpu_seconds(), sys_seconds(), time.monotonic()
    for cfg in configs:
        manager.apply(cfg)
    try:
        async with asyncio.timeout(600):
            await done.wait()
    except TimeoutError:
        raise SystemExit(f"only {len(registered)}/{n} registered after 600 s") from None
    t_all = time.monotonic() - t0
    cpu_reg = cpu_seconds() - cpu0
    sys_reg = sys_seconds() - sys0
    gc.collect()
    rss1 = rss_kib()
    print(f"ours: {n} registered in {t_all:.2f} s ({n / t_all:.0f}/s), CPU {cpu_reg:.2f} s "
          f"= {cpu_reg / n * 1e6:.0f} us/registration ({sys_reg / n * 1e6:.0f} us of it in "
          f"the kernel)", flush=True)  # fmt: skip
    print(f"ours: RSS +{rss1 - rss0} KiB = {(rss1 - rss0) * 1024 / n:.0f} B/account", flush=True)
    print(f"ours: stats {manager.stats}", flush=True)
    samples: list[dict[str, float]] = []
    sent0, stats_at = manager.stats.sent, manager.stats.sent
    cpu1 = cpu_at = cpu_seconds()
    t1 = t_at = time.monotonic()
    # The samples' own work (50,000 status reads, a walk of every object) is the bench's, not
    # the worker's: its CPU is measured and left out of the figures (printed apart).
    sampling = 0.0
    # the collector's share of the window: collections and their time per generation
    gc_runs, gc_time, gc_started = [0, 0, 0], [0.0, 0.0, 0.0], [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.process_time()
        else:
            gc_runs[info["generation"]] += 1
            gc_time[info["generation"]] += time.process_time() - gc_started[0]

    gc.callbacks.append(on_gc)
    while (left := t1 + steady - time.monotonic()) > 0:
        await asyncio.sleep(min(sample, left))
        now, cpu, sent = time.monotonic(), cpu_seconds(), manager.stats.sent
        bad = sum(1 for i in range(1, n + 1) if manager.status(i).state != "registered")
        row = {
            "t": now - t1, "rss_kib": rss_kib(), "fds": open_fds(), "cpu_s": cpu - cpu_at,
            "requests": sent - stats_at, "not_registered": bad,
            "core_pct": 100 * (cpu - cpu_at) / (now - t_at),
            # what could grow: the timers (stale entries included), tracked objects, the load
            "timers": sum(map(len, manager._buckets.values())), "objects": len(gc.get_objects()),
            "load": os.getloadavg()[0],
        }  # fmt: skip
        row["us_per_request"] = 1e6 * row["cpu_s"] / row["requests"] if row["requests"] else 0.0
        row["sampling_s"] = cpu_seconds() - cpu
        sampling += row["sampling_s"]
        samples.append(row)
        print(f"ours: steady t={row['t']:.0f}s rss={row['rss_kib']} KiB fds={row['fds']} "
              f"cpu={row['cpu_s']:.2f}s ({row['core_pct']:.2f}% of a core) "
              f"requests={row['requests']} ({row['us_per_request']:.0f} us each) "
              f"not registered={bad} timers={row['timers']} objects={row['objects']} "
              f"load={row['load']:.1f} (sampling {row['sampling_s']:.2f}s, not counted)",
              flush=True)  # fmt: skip
        cpu_at, stats_at, t_at = cpu_seconds(), sent, now
    gc.callbacks.remove(on_gc)
    cpu_steady = cpu_seconds() - cpu1 - sampling
    wall = max(time.monotonic() - t1, 1e-9)
    refreshes = manager.stats.sent - sent0
    bad = sum(1 for i in range(1, n + 1) if manager.status(i).state != "registered")
    pct = 100 * cpu_steady / wall
    print(f"ours: steady {wall:.0f} s: {refreshes} requests sent, CPU {cpu_steady:.2f} s "
          f"= {pct:.2f}% of one core (the samples' own {sampling:.2f} s left out); "
          f"not registered: {bad}", flush=True)  # fmt: skip
    print("ours: steady collections (generation: runs, CPU) "
          + ", ".join(f"{g}: {gc_runs[g]}, {gc_time[g] * 1e3:.0f} ms" for g in range(3)),
          flush=True)  # fmt: skip
    print(f"ours: stats {manager.stats}", flush=True)
    t_stop = time.monotonic()
    await manager.stop(grace=60)
    print(f"ours: stop (un-REGISTER all) took {time.monotonic() - t_stop:.2f} s", flush=True)
    return {
        "n": n, "time": t_all, "rate": n / t_all, "cpu_reg": cpu_reg,
        "us_per_registration": cpu_reg / n * 1e6, "rss_per_account": (rss1 - rss0) * 1024 / n,
        "steady_wall": wall, "steady_cpu_pct": 100 * cpu_steady / wall if steady else 0.0,
        "refreshes": refreshes,
        "us_per_refresh": 1e6 * cpu_steady / refreshes if refreshes else 0.0,
        "unregistered": bad, "samples": samples,
    }  # fmt: skip


def sipp(
    port: int, n: int, expires: int, rate: int, limit: int, tmp: Path
) -> dict[str, float] | None:
    binary = shutil.which("sipp")
    if binary is None:
        print("sipp is not installed: no reference rate")
        return None
    # the [authentication] keyword cannot nest [fieldN]: it comes whole from the injection file
    users = tmp / "users.csv"
    if not users.exists():
        rows = "".join(f"b{i};[authentication username=b{i} password=pw-b{i}]\n" for i in range(n))
        users.write_text("SEQUENTIAL\n" + rows)
    (tmp / "reg.xml").write_text(SIPP_UAC.format(expires=expires))
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [binary, f"127.0.0.1:{port}", "-sf", str(tmp / "reg.xml"), "-inf", str(users),
         "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", str(n), "-r", str(rate),
         "-l", str(limit), "-nostdin", "-trace_err", "-error_file", str(tmp / "sipp.err")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    cpu = usage.ru_utime + usage.ru_stime
    us = cpu / n * 1e6
    print(f"sipp -r {rate} -l {limit}: exit {code}, {n} REGISTER calls in {took:.2f} s "
          f"({n / took:.0f}/s), CPU {cpu:.2f} s = {us:.0f} us/registration")  # fmt: skip
    return {"rate_asked": rate, "limit": limit, "exit": code, "time": took, "rate": n / took,
            "cpu": cpu, "us_per_registration": us}  # fmt: skip


def kam_stats(rpc: Callable[..., str]) -> dict[str, int]:
    wanted = ("registrar:accepted_regs", "usrloc:registered_users", "core:drop_requests")
    out: dict[str, int] = {}
    for line in rpc("stats.get_statistics", "all").splitlines():
        name, _, value = line.strip().partition(" = ")
        if name in wanted:
            out[name] = int(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="accounts (default 10000)")
    ap.add_argument("--expires", type=int, default=300)
    ap.add_argument("--steady", type=float, default=250.0, help="steady-state window, seconds")
    ap.add_argument("--sample", type=float, default=60.0, help="steady-state sample, seconds")
    ap.add_argument("--max-pending", type=int, default=500, help="our REGISTERs in flight")
    ap.add_argument("--rates", default="8000,16000,32000", help="SIPp rates (calls/s) to try")
    ap.add_argument("--sipp-limits", default="250,500,1000", help="SIPp calls in flight (-l)")
    ap.add_argument("--children", type=int, default=2, help="Kamailio UDP workers")
    ap.add_argument("--loop", default=None, help="auto | uvloop | asyncio (TELESIP_EVENT_LOOP)")
    ap.add_argument("--gc", choices=("tuned", "default"), default="tuned",
                    help="tuned: eventloop.tune_gc(), as `telesip worker` runs; "
                    "default: CPython's")  # fmt: skip
    ap.add_argument("--skip-sipp", action="store_true")
    ap.add_argument("--skip-ours", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    loop = eventloop.loop_name(args.loop)
    if args.gc == "tuned":
        eventloop.tune_gc()
    print(f"event loop: {loop}, gc {args.gc} {gc.get_threshold()}; load average "
          f"{os.getloadavg()}", flush=True)  # fmt: skip
    ours_fig: dict[str, object] | None = None
    refs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-reg-") as d:
        tmp = Path(d)
        if not args.skip_ours:
            with kamailio(tmp / "ours", args.children) as (port, rpc):
                ours_fig = eventloop.run(
                    ours(port, args.n, args.expires, args.steady, args.sample, args.max_pending),
                    choice=args.loop,
                )
                print(f"kamailio after our run: {kam_stats(rpc)}", flush=True)
        runs = [
            (int(rate), int(limit))
            for rate in args.rates.split(",")
            for limit in args.sipp_limits.split(",")
        ]
        for rate, limit in [] if args.skip_sipp else runs:
            with kamailio(tmp / f"sipp{rate}-{limit}", args.children) as (port, rpc):
                ref = sipp(port, args.n, args.expires, rate, limit, tmp)
                if ref is None:
                    break
                # clean: every call succeeded and no retransmitted REGISTER was accepted twice
                accepted = kam_stats(rpc).get("registrar:accepted_regs", 0)
                ref["clean"] = float(ref["exit"] == 0 and accepted == args.n)
                ref["accepted"] = accepted
                print(f"kamailio after sipp -r {rate} -l {limit}: accepted {accepted}", flush=True)
                refs.append(ref)
    clean = [r for r in refs if r["clean"]]
    if not clean and refs:  # a loaded machine: every run had a retransmission accepted twice
        clean = [r for r in refs if r["exit"] == 0]
        print("no SIPp run was clean (Kamailio accepted more than N): references from the "
              "runs where every call succeeded")  # fmt: skip
    best = max(clean, key=lambda r: r["rate"]) if clean else None
    cheapest = min(clean, key=lambda r: r["us_per_registration"]) if clean else None
    print()
    print(f"accounts                {args.n} (event loop {loop})")
    if ours_fig is not None:
        rate = float(ours_fig["rate"])  # type: ignore[arg-type]
        us = float(ours_fig["us_per_registration"])  # type: ignore[arg-type]
        print(f"ours                    {rate:.0f}/s, {us:.0f} us CPU per registration")
        if best is not None and cheapest is not None:
            print(f"SIPp best clean rate    {best['rate']:.0f}/s (-r {best['rate_asked']:.0f} "
                  f"-l {best['limit']:.0f}); "
                  f"ours / SIPp = {rate / best['rate']:.2f}")  # fmt: skip
            print(f"SIPp CPU at that rate   {best['us_per_registration']:.0f} us; ours / SIPp = "
                  f"{us / best['us_per_registration']:.2f}")  # fmt: skip
            print(f"SIPp CPU/registration   {cheapest['us_per_registration']:.0f} us "
                  f"(-r {cheapest['rate_asked']:.0f} -l {cheapest['limit']:.0f}); ours / SIPp = "
                  f"{us / cheapest['us_per_registration']:.2f}")  # fmt: skip
        print(f"RSS per account         {float(ours_fig['rss_per_account']) / 1024:.2f} KiB")  # type: ignore[arg-type]
        print(f"steady-state CPU        {float(ours_fig['steady_cpu_pct']):.2f}% of one core "  # type: ignore[arg-type]
              f"(Expires {args.expires}, {float(ours_fig['steady_wall']):.0f} s, "  # type: ignore[arg-type]
              f"{ours_fig['refreshes']} requests, "
              f"{float(ours_fig['us_per_refresh']):.0f} us each)")  # type: ignore[arg-type]  # fmt: skip
    for r in refs:
        print(f"SIPp -r {r['rate_asked']:.0f} -l {r['limit']:.0f}: {r['rate']:.0f}/s, "
              f"{r['us_per_registration']:.0f} us/registration, "
              f"{'clean' if r['clean'] else 'NOT clean'}")  # fmt: skip
    print(f"load average at the end {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"ours": ours_fig, "sipp": refs, "loop": loop}, indent=1))


if __name__ == "__main__":
    main()
