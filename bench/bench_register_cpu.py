"""Benchmark: the registration engine's own CPU per registration, without sockets or a registrar.

``bench_register.py`` registers against Kamailio beside SIPp; on a shared 2-core machine its
figures move with the load. This one runs the same `RegistrationManager` with its UDP socket's
sending replaced by a canned registrar in this process: each REGISTER is answered as Kamailio
5.6 answers it (a 401 with a qop="auth" challenge to a request without credentials, else a 200
OK echoing the Contact with its expires), handed back through ``loop.call_soon`` to the
transport's ``datagram_received``, the path a datagram from the socket takes. The manager's clock
is held still, so no retransmission or refresh timer fires however slowly the process runs:
what is left is the engine's work per registration (build, digest, transaction, read the
answer, report) and the canned registrar's (a few microseconds, the same for every version).

    .venv/bin/python bench/bench_register_cpu.py                 # least CPU of 5 bursts of 10,000
    .venv/bin/python bench/bench_register_cpu.py --profile       # + Python calls per registration
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/bench_register_cpu.py --once -n 2500   # instructions: run with
        # -n 500 and -n 2500; (Ir(2500) - Ir(500)) / 2000 is the count per registration, the
        # same under any load (PYTHONPATH=<other checkout>/src compares two versions); with
        # --refresh add --zero-before=os_getppid --dump-before=os_getpid: the first dump counts
        # the refreshes alone
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import re
import time

from telesip import eventloop
from telesip.domain import RegistrationReport
from telesip.workers import AccountConfig, RegistrationManager

_REQUEST = re.compile(
    rb"\r\nVia: (SIP/2\.0/UDP [^:]*:([0-9]+);rport)([^\r\n]*)\r\n.*\r\nFrom: ([^\r\n]*)\r\n"
    rb"To: ([^\r\n]*)\r\nCall-ID: ([^\r\n]*)\r\nCSeq: ([^\r\n]*)\r\nContact: ([^\r\n]*)\r\n",
    re.DOTALL,
)
_SERVER = b"Server: kamailio (5.6.3 (x86_64/linux))\r\nContent-Length: 0\r\n\r\n"
_CHALLENGE = (
    b'WWW-Authenticate: Digest realm="127.0.0.1", nonce="axaa12sWl1MzGvQTIt+Ajf6msR8fc5/G", '
    b'qop="auth"\r\n'
)


def answer(request: bytes) -> bytes:
    """Kamailio's answer to a REGISTER (its spelling and header order)."""
    m = _REQUEST.search(request)
    assert m is not None, request
    via1, port, via2, from_, to, call_id, cseq, contact = m.groups()
    head = (
        b"\r\nVia: " + via1 + b"=" + port + via2 + b";received=127.0.0.1\r\nFrom: " + from_
        + b"\r\nTo: " + to + b";tag=52a01aa77cad7227fd39cb67238b0aaa.4d64f38f\r\nCall-ID: "
        + call_id + b"\r\nCSeq: " + cseq + b"\r\n"
    )  # fmt: skip
    if b"\r\nAuthorization: " not in request:
        return b"SIP/2.0 401 Unauthorized" + head + _CHALLENGE + _SERVER
    expires = b"0" if contact.endswith(b";expires=0") else b"300"
    uri = contact.partition(b";")[0]
    return (
        b"SIP/2.0 200 OK" + head + b"Contact: " + uri + b";expires=" + expires + b"\r\n" + _SERVER
    )


async def burst(n: int, profile: cProfile.Profile | None, refresh: bool = False) -> float:
    """Register n accounts; the CPU per registration in microseconds. With `refresh`, the CPU
    per refresh instead: once all are registered, the clock moves on a quarter of a second at a
    time through the window where their first refreshes fall (180–240 s at Expires 300), each
    step's refreshes (about n / 240) fired and answered before the next, as the grid of the
    manager's timers releases them on a live worker."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    registered: set[int] = set()
    now = [1000.0]

    def sink(report: RegistrationReport) -> None:
        if report.state == "registered":
            registered.add(report.account_id)
            if len(registered) == n:
                done.set()

    manager = RegistrationManager(
        bind_host="127.0.0.1", max_pending=250, status_sink=sink, clock=lambda: now[0]
    )
    await manager.start()
    udp = manager._wire._udp
    assert udp is not None
    source = ("127.0.0.1", 5060)

    def registrar(data: bytes, addr: tuple[str, int]) -> None:
        if data == b"\r\n\r\n":  # the keepalive the manager sends every 30 s
            return
        loop.call_soon(udp.datagram_received, answer(data), source)

    udp.send = registrar  # type: ignore[method-assign]
    configs = [
        AccountConfig(account_id=i + 1, login=f"b{i}", password=f"pw-b{i}", domain="127.0.0.1",
                      port=5060, expires=300)
        for i in range(n)
    ]  # fmt: skip
    if refresh:
        for cfg in configs:
            manager.apply(cfg)
        await done.wait()
    gc.collect()
    os.getppid()  # a mark: callgrind's --zero-before=os_getppid counts from here
    cpu = time.process_time()
    if profile is not None:
        profile.enable()
    if refresh:
        sent = manager.stats.register_sent
        for _ in range(int(60 / 0.25) + 1):  # 180 s .. 240 s after registering
            now[0] += 0.25 if now[0] >= 1180.0 else 180.0
            manager._wake.set()
            await asyncio.sleep(0)
            # until the step's refreshes are answered (the manager's own state: no event says it)
            while manager._busy or manager._wake.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0)
        done_n = manager.stats.register_sent - sent
        assert done_n == n, f"{done_n} refreshes of {n}"
    else:
        for cfg in configs:
            manager.apply(cfg)
        await done.wait()
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - cpu
    os.getpid()  # the end mark: --dump-before=os_getpid
    manager._wire.close()
    return cpu / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="accounts per burst (default 10000)")
    ap.add_argument("--bursts", type=int, default=5)
    ap.add_argument("--once", action="store_true", help="one burst, nothing printed (callgrind)")
    ap.add_argument("--profile", action="store_true", help="Python calls per registration")
    ap.add_argument("--refresh", action="store_true", help="per refresh, not per registration")
    args = ap.parse_args()
    eventloop.tune_gc()
    what = "refresh" if args.refresh else "registration"
    if args.once:
        eventloop.run(burst(args.n, None, args.refresh))
        return
    figures = [eventloop.run(burst(args.n, None, args.refresh)) for _ in range(args.bursts)]
    print(f"CPU per {what}: least {min(figures):.1f} us of "
          f"{', '.join(f'{f:.1f}' for f in figures)} ({args.n} accounts, loop "
          f"{eventloop.loop_name()})")  # fmt: skip
    if args.profile:
        profile = cProfile.Profile()
        eventloop.run(burst(args.n, profile, args.refresh))
        stats = pstats.Stats(profile)
        print(f"Python calls per {what}: {stats.total_calls / args.n:.1f}")  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
