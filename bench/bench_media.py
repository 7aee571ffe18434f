"""The SIP side's media cost per call, by kind of media: G.711 in RTP, G.711 in SRTP, G.722 and
Opus, measured apart from ntgcalls and from the machine's load.

    .venv/bin/python bench/bench_media.py [--calls 20] [--seconds 10] [--rounds 2]
        [--media clear,srtp,g722,opus]

One process, on 127.0.0.1: ``--calls`` pairs of telesip's own ``RtpStream`` (the worker's SIP
media: codec, RTP, SRTP, jitter buffer, the shared 20 ms playout clock), each stream sending a
tone frame on every tick it hears one, both ways, as a bridged call's SIP leg does. The figure
is the process's CPU time (``time.process_time``, so a loaded machine slows it down but does
not inflate it) per packet received (each stream also sends one per packet it hears), and from
it the share of a core one call's SIP media costs at the full 50 packets a second each way;
the run says which share of the packets arrived (a starved process skips ticks). The kinds
run in turns, ``--rounds`` times, so a change of load hits them alike; the ratio to ``clear``
in the same round is the figure to compare. bench_calls.py --media measures
the whole worker beside ntgcalls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telesip.calls.rtp_ports import PortPool
from telesip.calls.rtp_stream import RtpStream
from telesip.media import MediaParams, SineGenerator
from telesip.media.srtp import SrtpKeys

SUITE = "AES_CM_128_HMAC_SHA1_80"
KINDS = {  # codec, payload type, RTP clock, SRTP
    "clear": ("PCMA", 8, 8000, False),
    "srtp": ("PCMA", 8, 8000, True),
    "g722": ("G722", 9, 8000, False),
    "opus": ("OPUS", 111, 48000, False),
}


async def pairs(kind: str, n: int, pool: PortPool) -> list[tuple[RtpStream, RtpStream]]:
    codec, pt, clock, srtp = KINDS[kind]
    out = []
    for _ in range(n):
        ka, kb = secrets.token_bytes(30), secrets.token_bytes(30)
        keys_a = SrtpKeys(SUITE, ka, kb) if srtp else None
        keys_b = SrtpKeys(SUITE, kb, ka) if srtp else None
        a = await RtpStream.open(
            pool, "127.0.0.1", MediaParams(codec, pt, clock_rate=clock, srtp=keys_a)
        )
        b = await RtpStream.open(
            pool, "127.0.0.1", MediaParams(codec, pt, clock_rate=clock, srtp=keys_b)
        )
        a.set_remote("127.0.0.1", b.local_port)
        b.set_remote("127.0.0.1", a.local_port)
        out.append((a, b))
    return out


def talk(stream: RtpStream, hz: float) -> None:
    gen = SineGenerator(hz, -12, rate=stream.rate, frame_samples=stream.rate // 50)
    stream.on_pcm(lambda _frame: stream.send_pcm(gen.frame()))


async def measure(kind: str, n: int, seconds: float) -> dict[str, float]:
    pool = PortPool("44000-44999")
    streams = await pairs(kind, n, pool)
    try:
        for a, b in streams:
            talk(a, 1000)
            talk(b, 440)
        await asyncio.sleep(2)  # the clocks and jitter buffers settle
        every = [s for pair in streams for s in pair]
        got0 = sum(s.stats.packets_received for s in every)
        c0, w0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        c1, w1 = time.process_time(), time.monotonic()
        got = sum(s.stats.packets_received for s in every) - got0
        expected = len(every) * (w1 - w0) * 50
        cpu = (c1 - c0) / (w1 - w0) * 100  # % of a core
        us = (c1 - c0) / max(got, 1) * 1e6  # per packet received (and one sent)
        return {
            "per_call_seen": cpu / len(every),
            "us_per_packet": us,
            "per_call": us * 50 / 1e6 * 100,  # at the full 50 packets a second each way
            "received": got / expected,
            "load": os.getloadavg()[0],
        }
    finally:
        for a, b in streams:
            await a.close()
            await b.close()


async def run(a: argparse.Namespace) -> None:
    kinds = a.media.split(",")
    rows: list[tuple[int, str, dict[str, float]]] = []
    for r in range(1, a.rounds + 1):
        for kind in kinds:
            m = await measure(kind, a.calls, a.seconds)
            rows.append((r, kind, m))
            print(f"round {r} {kind}: {m}", flush=True)
    print(
        f"\n{a.calls * 2} streams ({a.calls} pairs), {a.seconds:.0f} s each\n"
        "| round | media | µs CPU per packet in (and one out) | CPU per call at 50 pkt/s each way "
        "(% of a core) | vs clear | packets received | load |\n|---|---|---|---|---|---|---|"
    )
    for r, kind, m in rows:
        clear = next(x for rr, k, x in rows if rr == r and k == "clear")
        print(
            f"| {r} | {kind} | {m['us_per_packet']:.0f} | {m['per_call']:.2f} % | "
            f"{m['per_call'] / clear['per_call']:.2f}x | {m['received'] * 100:.1f} % | "
            f"{m['load']:.1f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=int, default=20, help="stream pairs (two calls' SIP legs each)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--media", default="clear,srtp,g722,opus")
    a = ap.parse_args()
    if "clear" not in a.media.split(","):
        sys.exit("--media must include clear (the reference)")
    np.seterr(all="ignore")
    asyncio.run(run(a))


if __name__ == "__main__":
    main()
