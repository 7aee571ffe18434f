"""Calls benchmark: N bridged calls on one worker at once, audio both ways, the Telegram side in
another process so that each side's CPU is counted apart.

    sudo .venv/bin/python bench/bench_calls.py [--levels 10,20,40] [--seconds 20]
        [--media clear,srtp,g722,opus]

``--media`` runs every level once per kind of SIP media, in one run (the far phones choose it
by their offer; every line lists PCMA, PCMU, G722, opus and allows SRTP): ``clear`` G.711 in
RTP, ``srtp`` G.711 in SRTP (SDES, AES_CM_128_HMAC_SHA1_80), ``g722`` and ``opus``. Each
level's worker CPU per call is also given as a ratio to one ntgcalls endpoint's CPU in the
same level (the peers' process: the people and the reference pair).

Runs inside its own network namespace (it re-executes itself under ``unshare -n`` with a veth
pair carrying 127.0.1.1/32 and 127.0.1.2/32, as tests/calls/telegram/netns.py does; ntgcalls ignores
loopback); nothing leaves it and it is gone when the run ends. Three processes and Kamailio:

- this one: Kamailio (registrar and proxy), the far phones (one SIP socket, telesip's own
  sans-I/O ``OutgoingCall`` as the UAC, INVITEs go through Kamailio to the registered lines)
  and their RTP endpoints (raw sockets: packets are timestamped as they arrive, no jitter buffer
  of ours in the way), and the measurement;
- ``--role worker``: telesip as it runs — ``Worker`` + ``RegistrationManager`` + ``CallManager``
  on SQLite, N lines registered at Kamailio, N caller accounts that are ``FakeTelegramClient``s;
- ``--role peers``: ``FakeTelegram`` served over a Unix socket
  (``tests/fakes/telegram_calls_remote.py``), the N people (``FakeTelegramUser``, each with its
  own ntgcalls) who answer, and a reference pair (a ``TelegramLeg`` calling a person, both
  here): ntgcalls alone, under the same load.

Both sides send the same continuous signal: 500 Hz and 1 kHz in turns of 1 s (phase
continuous). A receiver labels each 10 ms frame (500 Hz, 1 kHz, or silent: 20 dB under the
tone); a change of frequency is a mark whose send time is known, so its arrival gives the
one-way latency, and the longest run of silent (or missing) frames is the gap. The worker also
times each frame where it crosses the ntgcalls boundary (bench instrumentation wrapped around
``HostedMedia``), so each mark's latency splits into telesip's part (RTP in -> handed to ntgcalls;
out of ntgcalls -> RTP on the wire) and ntgcalls' part (the pipe to the call's media process,
encode, network, the far ntgcalls' jitter buffer). The reference pair gives ntgcalls alone, for
comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fakes live in tests/
from tests.fakes.telegram_calls import PcmRecorder

from telesip.calls.telegram.p2p import Pcm
from telesip.domain.clock import SystemClock
from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.media.codecs import AudioCodec, open_codec
from telesip.media.g711 import alaw_encode
from telesip.media.resample import Resampler
from telesip.media.rtp import RtpPacket, RtpSender, seq_diff
from telesip.media.srtp import SrtpKeys, SrtpTransform
from telesip.services import accounts
from telesip.services.dependencies import Dependencies, Rules
from telesip.sip import (
    Answered,
    CallParams,
    Cancelled,
    Ended,
    Failed,
    OutgoingCall,
    ParseError,
    SessionDescription,
    accept_answer,
    make_offer,
    parse_message,
)
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

KEY = "bench-calls-key"
PERSON0, CALLER0, REF_CALLER, REF_PERSON = 5_000_001, 7_000_001, 7_999_001, 5_999_001
CODECS = ("PCMA", "PCMU", "telephone-event")
LINE_CODECS = ("PCMA", "PCMU", "G722", "opus", "telephone-event")
# what the far phones offer for each kind of media (the line answers the first it lists)
MEDIA = {
    "clear": (CODECS, "off"),
    "srtp": (CODECS, "required"),
    "g722": (("G722", "telephone-event"), "off"),
    "opus": (("opus", "telephone-event"), "off"),
}
RATE, F1, F2, LEVEL = 8000, 500.0, 1000.0, 0.25  # LEVEL: amplitude, -12 dBFS
TICK = 0.02  # both senders send 20 ms of signal per tick
TURN = 50  # ticks per frequency: 1 s (a mark is matched to the last one sent within 1.9 s)
SILENT = LEVEL * 32767 / np.sqrt(2) / 10  # a frame 20 dB under the tone is a gap
NS_SETUP = (
    "ip link set lo up && ip link add v0 type veth peer name v1 && "
    "ip addr add 127.0.1.1/32 dev v0 && ip addr add 127.0.1.2/32 dev v1 && "
    "ip link set v0 up && ip link set v1 up"
)
log = logging.getLogger("bench_calls")

# -- the signal and its analysis ------------------------------------------------------------


def signal_period() -> Pcm:
    """TURN ticks at F1 then TURN at F2; both make whole cycles, so it loops cleanly."""
    t = np.arange(TURN * 160) / RATE
    half1 = np.sin(2 * np.pi * F1 * t)
    half2 = np.sin(2 * np.pi * F2 * t)
    return (np.concatenate((half1, half2)) * LEVEL * 32767).astype(np.int16)


PERIOD = signal_period()
CHUNKS = [PERIOD[i * 160 : (i + 1) * 160] for i in range(2 * TURN)]  # 20 ms each
_N = np.arange(80)
_E1, _E2 = np.exp(-2j * np.pi * F1 * _N / RATE), np.exp(-2j * np.pi * F2 * _N / RATE)


class Ticker:
    """Sends the signal every 20 ms (deadlines t0 + n x 20 ms; missed ticks are caught up) and
    remembers when each frequency change went out: ``marks`` = [(monotonic time, 1 or 2)]."""

    def __init__(self, send: Callable[[Pcm], None]) -> None:
        self.send = send
        self.marks: list[tuple[float, int]] = []
        self.n = 0
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        self._loop.call_at(self._t0 + TICK, self._tick)

    def _tick(self) -> None:
        due = min(10, int((self._loop.time() - self._t0) / TICK) - self.n)
        for _ in range(max(1, due)):
            index = self.n % (2 * TURN)
            if index % TURN == 0:
                self.marks.append((time.monotonic(), 1 if index == 0 else 2))
            self.send(CHUNKS[index])
            self.n += 1
        self._loop.call_at(self._t0 + (self.n + 1) * TICK, self._tick)


def analyse(
    heard: tuple[list[float], list[Pcm]], marks: list[tuple[float, int]], w0: float, w1: float
) -> dict[str, Any]:
    """Latencies of the marks heard in [w0, w1], the longest silent run and arrival stall."""
    times, frames = heard
    if not frames:
        return {"frames": 0, "lat": [], "gap_ms": None, "stall_ms": None}
    t = np.asarray(times)
    keep = (t >= w0) & (t <= w1)
    t = t[keep]
    if not t.size:
        return {"frames": 0, "lat": [], "gap_ms": None, "stall_ms": None}
    x = np.vstack([f for f, k in zip(frames, keep, strict=True) if k]).astype(np.float64)
    rms = np.sqrt((x * x).mean(axis=1))
    a1, a2 = np.abs(x @ _E1), np.abs(x @ _E2)
    labels = np.where(rms < SILENT, 0, np.where(a1 >= a2, 1, 2))
    sent = {k: np.asarray([m for m, lab in marks if lab == k]) for k in (1, 2)}
    lat: list[tuple[float, float]] = []  # (the mark's send time, ms)
    last = 0
    for i in np.flatnonzero(labels):
        lab = int(labels[i])
        if last and lab != last and sent[lab].size:
            j = int(np.searchsorted(sent[lab], t[i], side="right")) - 1
            if j >= 0 and t[i] - sent[lab][j] < 1.9:
                lat.append((float(sent[lab][j]), float(t[i] - sent[lab][j]) * 1000))
        last = lab
    longest = run = 0
    for silent in labels == 0:
        run = run + 1 if silent else 0
        longest = max(longest, run)
    arrivals = np.unique(t)
    stall = float(np.diff(arrivals).max()) * 1000 if arrivals.size > 1 else None
    expected = round((w1 - w0) * 100)
    return {
        "frames": int(t.size),
        "missing": max(0, expected - int(t.size)),
        "lat": lat,
        "gap_ms": longest * 10,
        "stall_ms": stall,
    }


class Stamped(PcmRecorder):
    """What a Telegram side hears: each 10 ms frame with the time it reached the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def __call__(self, frame: Pcm) -> None:
        at = time.monotonic()
        for start in range(0, frame.size, 80):  # a leg hears 20 ms at a time
            self.frames.append(frame[start : start + 80])
            self.times.append(at)

    def clear(self) -> None:
        self.frames.clear()
        self.times.clear()

    def heard(self) -> tuple[list[float], list[Pcm]]:
        return self.times, self.frames


# -- child processes: a line of JSON per command on stdin, one answer per line on stdout ------


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve_commands(handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    say({"ready": True, "pid": os.getpid()})
    while line := await reader.readline():
        msg = json.loads(line)
        if msg["cmd"] == "quit":
            break
        say({"ok": await handlers[msg["cmd"]](msg)})


class Child:
    """A role of this script in a child process (its own session: killed as a group)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pid = proc.pid

    @classmethod
    async def start(cls, role: str, log_path: Path, *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--role", role, *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=log_path.open("wb"), start_new_session=True, limit=1 << 24,
        )  # fmt: skip
        child = cls(proc)
        ready = await child._read(60)
        if not ready.get("ready"):
            raise RuntimeError(f"{role} did not start: see {log_path}")
        return child

    async def _read(self, within: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(within):
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.pid} exited")
        return dict(json.loads(line))

    async def ask(self, cmd: str, within: float = 60, **kw: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **kw}) + "\n").encode())
        await self.proc.stdin.drain()
        return (await self._read(within))["ok"]

    async def stop(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                await self.proc.stdin.drain()
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                await self.proc.wait()


# -- the peers' process: FakeTelegram, the people, the reference pair -------------------------


async def peers_role(a: argparse.Namespace) -> None:
    from tests.fakes.telegram_calls import Behaviour, FakeTelegram
    from tests.fakes.telegram_calls_remote import FakeTelegramServer

    from telesip.calls.telegram.adapter import TgUser
    from telesip.calls.telegram.leg import TelegramLeg
    from telesip.calls.telegram.p2p import P2PMedia

    # The people stand for Telegram's apps, not for telesip: their ntgcalls instances share
    # this process (a process each would double the load of a 2-core machine).
    fake = FakeTelegram(media=P2PMedia)
    async with fake as tg, await FakeTelegramServer.start(tg, path=a.sock):
        people = [tg.user(PERSON0 + i, Behaviour.answer(after=0.1)) for i in range(a.n)]
        ref_person = tg.user(REF_PERSON, Behaviour.answer(after=0.1))
        recorders = {p.id: Stamped() for p in [*people, ref_person]}
        for person in [*people, ref_person]:
            person.heard = recorders[person.id]
        ref_leg = TelegramLeg(tg.account(TgUser(REF_CALLER, "Reference")), ring_timeout=None)
        ref_heard = Stamped()
        ref_leg.on_pcm(ref_heard)
        await ref_leg.start(REF_PERSON)
        async with asyncio.timeout(20):
            await ref_leg.wait_until("connected")

        def send(chunk: Pcm) -> None:
            for person in people:
                person.send_pcm(chunk)
            ref_person.send_pcm(chunk)
            ref_leg.send_pcm(chunk)

        ticker = Ticker(send)

        async def reset(_: dict[str, Any]) -> None:
            for rec in (ref_heard, *recorders.values()):
                rec.clear()
            ticker.marks.clear()

        async def report(msg: dict[str, Any]) -> dict[str, Any]:
            w0, w1 = msg["w0"], msg["w1"]
            far_marks = [tuple(m) for m in msg["marks"]]
            heard = {
                str(p.id): analyse(recorders[p.id].heard(), far_marks, w0, w1)
                for p in people
                if p.connected.is_set()
            }
            return {
                "people": heard,
                "connected": sum(p.connected.is_set() for p in people),
                "ref_out": analyse(recorders[REF_PERSON].heard(), ticker.marks, w0, w1),
                "ref_in": analyse(ref_heard.heard(), ticker.marks, w0, w1),
                "marks": ticker.marks,
            }

        async def live(_: dict[str, Any]) -> int:
            return sum(c.state != "discarded" for c in tg.calls) - 1  # but the reference

        await serve_commands({"reset": reset, "report": report, "live": live})
        await ref_leg.hangup()


# -- the worker's process: telesip as it runs ---------------------------------------------------


class Tap:
    """Audio crossing the ntgcalls boundary inside the worker, with its time: kept as it came
    (the least work inside the measured worker), cut into 10 ms frames at 8 kHz afterwards."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes, int]] = []

    def add(self, at: float, pcm: bytes, rate: int) -> None:
        self.chunks.append((at, pcm, rate))

    def heard(self) -> tuple[list[float], list[Pcm]]:
        """10 ms frames at 8 kHz (a wideband leg's 16 or 48 kHz: every k-th sample, the
        signal's two tones being far below 4 kHz)."""
        times: list[float] = []
        frames: list[Pcm] = []
        for at, pcm, rate in self.chunks:
            samples = np.frombuffer(pcm, dtype="<i2")[:: rate // RATE]
            for start in range(0, samples.size - 79, 80):
                times.append(at)
                frames.append(samples[start : start + 80])
        return times, frames


def install_taps(taps: dict[tuple[str, int], Tap], on: list[bool]) -> None:
    """Bench instrumentation: time each 10 ms frame where it comes back from the call's media
    process (``HostedMedia``, after ntgcalls and the pipe) and where telesip hands it to that
    process (``HostedMedia.send_pcm``), per person."""
    from telesip.calls.telegram.media_host import HostedMedia

    heard, send_pcm = HostedMedia._heard, HostedMedia.send_pcm

    def tapped_heard(self: HostedMedia, payload: bytes) -> None:
        if on[0]:
            tap = taps.setdefault(("in", self.peer_id), Tap())
            tap.add(time.monotonic(), payload, self.sample_rate)
        heard(self, payload)

    def tapped_send(self: HostedMedia, pcm: Pcm) -> None:
        if on[0]:
            tap = taps.setdefault(("out", self.peer_id), Tap())
            tap.add(time.monotonic(), pcm.tobytes(), self.sample_rate)
        send_pcm(self, pcm)

    HostedMedia._heard = tapped_heard  # type: ignore[method-assign]
    HostedMedia.send_pcm = tapped_send  # type: ignore[method-assign]


async def worker_role(a: argparse.Namespace) -> None:
    from tests.fakes.telegram_calls_remote import FakeTelegramClient

    from telesip.calls.manager import CallManager
    from telesip.calls.rtp_ports import PortPool
    from telesip.calls.telegram.adapter import TgUser
    from telesip.calls.telegram.pool import CallerPool
    from telesip.workers.registrar import RegistrationManager
    from telesip.workers.service import Timing, Worker

    taps: dict[tuple[str, int], Tap] = {}
    tapping = [False]
    install_taps(taps, tapping)
    engine = create_engine(f"sqlite+aiosqlite:///{a.db}")
    deps = Dependencies(engine, Cipher(KEY), SystemClock(), Rules())
    callers = [
        await FakeTelegramClient.connect(TgUser(CALLER0 + i, f"Caller {i}"), path=a.sock)
        for i in range(a.n)
    ]
    worker: Worker | None = None

    def sink(status: Any) -> None:
        if worker is not None:
            worker.on_status(status)

    manager = RegistrationManager(status_sink=sink, bind_host="127.0.0.1")
    await manager.start()
    pool = CallerPool(list(callers))
    calls = CallManager(
        manager, pool, ports=PortPool("30000-30399"),
        media_bind="127.0.0.1", max_calls=a.n + 5, ring_timeout=30,
    )  # fmt: skip
    worker = Worker(deps, manager, name="bench-calls", timing=Timing(ttl=10), calls=calls)
    runner = asyncio.create_task(worker.run())

    async def stats(_: dict[str, Any]) -> dict[str, Any]:
        bridges = {b for b in calls._by_sip.values() if not b.ended}
        out = {"active": calls.active, "lost": 0, "late": 0, "concealed": 0, "received": 0}
        out["busy"] = calls.ports.in_use + len(callers) - pool.free
        codecs: dict[str, int] = {}
        out["codecs"], out["encrypted"] = codecs, 0
        for b in bridges:
            if b.stream is not None:
                codecs[b.stream.params.codec] = codecs.get(b.stream.params.codec, 0) + 1
                out["encrypted"] += b.stream.encrypted
                st = b.stream.stats
                out["lost"] += st.lost
                out["late"] += st.late
                out["concealed"] += st.concealed
                out["received"] += st.packets_received
        return out

    async def tap(msg: dict[str, Any]) -> dict[str, Any] | None:
        """on: start timing frames; off: stop and say what crossed, per person."""
        tapping[0] = msg["on"]
        if msg["on"]:
            taps.clear()
            return None
        w0, w1 = msg["w0"], msg["w1"]
        far, peer = [tuple(m) for m in msg["far_marks"]], [tuple(m) for m in msg["peer_marks"]]
        return {
            f"{kind}:{pid}": analyse(t.heard(), far if kind == "out" else peer, w0, w1)["lat"]
            for (kind, pid), t in taps.items()
        }

    prof: cProfile.Profile | None = None

    async def profile(msg: dict[str, Any]) -> str:
        nonlocal prof
        if msg["on"]:
            prof = cProfile.Profile(time.thread_time)
            prof.enable()
            return ""
        assert prof is not None
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
        return out.getvalue()

    try:
        await serve_commands({"stats": stats, "profile": profile, "tap": tap})
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await worker.stop()
        for c in callers:
            await c.close()
        await engine.dispose()


# -- this process: Kamailio, the far phones, the measurement ------------------------------------

KAMAILIO_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=2
auto_aliases=no
listen=udp:127.0.0.1:{port}
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
loadmodule "sanity.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "auth.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("auth", "qop", "auth")
modparam("auth", "secret", "telesip-bench-secret")
modparam("auth", "nonce_expire", 600)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("REGISTER")) {{
        $var(pw) = "pw-" + $au;
        if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) {{ auth_challenge("$fd", "0"); exit; }}
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    if (!is_method("INVITE") || $fU != "far") {{ sl_send_reply("403", "Forbidden"); exit; }}
    record_route();
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def kamailio(tmp: Path) -> Iterator[tuple[int, Callable[..., str], int]]:
    binary, kamcmd = shutil.which("kamailio"), shutil.which("kamcmd")
    modules = next(Path("/usr/lib").glob("*/kamailio/modules"), None)
    if not binary or not kamcmd or modules is None:
        sys.exit("kamailio is not installed: run bin/system-deps")
    port, ctl = free_port(), str(tmp / "ctl.sock")
    (tmp / "kamailio.cfg").write_text(KAMAILIO_CFG.format(port=port, modules=modules, ctl=ctl))
    log_file = (tmp / "kamailio.log").open("wb")
    proc = subprocess.Popen(
        [binary, "-f", str(tmp / "kamailio.cfg"), "-DD", "-E", "-Y", str(tmp),
         "-m", "128", "-M", "16"],
        stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def rpc(*args: str) -> str:
        cmd = [kamcmd, "-s", f"unix:{ctl}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout

    try:
        deadline = time.monotonic() + 15
        while "kamailio" not in rpc("core.version").lower():
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"kamailio did not start: {(tmp / 'kamailio.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield port, rpc, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        log_file.close()


class FarCall(asyncio.DatagramProtocol):
    """One far phone's call: the SIP machine (driven by ``FarPhones``) and its RTP socket."""

    def __init__(self, phones: FarPhones, login: str, rtp_port: int, media: str = "clear") -> None:
        self.phones = phones
        self.login = login
        self.rtp_port = rtp_port
        self.media = media
        self.codec, self.pt, self.step = "PCMA", 8, 160  # timestamp units per 20 ms: step
        self.encoder: AudioCodec | None = None  # per call for G.722 and Opus (stateful)
        self.up: Resampler | None = None  # the signal (8 kHz) to a wideband codec's rate
        self.srtp: SrtpTransform | None = None
        self.machine: OutgoingCall | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.sender = RtpSender()
        self.rx: list[tuple[float, int, int, bytes]] = []  # arrival, seq, timestamp, payload
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.failure: str | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic()
        with contextlib.suppress(Exception):
            p = RtpPacket.parse(self.srtp.unprotect(data) if self.srtp is not None else data)
            self.rx.append((now, p.sequence, p.timestamp, p.payload))

    async def dial(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", self.rtp_port))
        codecs, encryption = MEDIA[self.media]
        self.offer = make_offer(
            "127.0.0.1", self.rtp_port, codecs, session_id=self.rtp_port, encryption=encryption
        )
        self.machine = OutgoingCall(
            CallParams("far", "127.0.0.1", "unused", user_agent="bench-far"),
            f"sip:{self.login}@127.0.0.1:{self.phones.kam_port}",
            self.offer.to_bytes(), local_addr=self.phones.local, now=loop.time(), codecs=codecs,
            media_encryption=encryption,
        )  # fmt: skip
        self.phones.calls[self.machine.call_id] = self
        self.pump()

    def hangup(self) -> None:
        if self.machine is not None and not self.ended.is_set():
            self.machine.hangup(asyncio.get_running_loop().time())
            self.pump()

    def pump(self) -> None:
        m = self.machine
        assert m is not None
        while (event := m.next_event()) is not None:
            if isinstance(event, Answered) and event.sdp:
                neg = accept_answer(self.offer, SessionDescription.parse(event.sdp))
                self.pt, self.step = neg.payload_type, neg.clock_rate // 50
                if neg.codec != "PCMA":
                    self.encoder = open_codec(neg.codec)
                    self.up = Resampler(RATE, self.encoder.rate)
                if neg.srtp is not None:
                    keys = SrtpKeys(
                        neg.srtp.suite, neg.srtp.local_key.reveal(), neg.srtp.remote_key.reveal()
                    )
                    self.srtp = SrtpTransform(keys)
                self.codec = neg.codec
                self.remote = (neg.remote_addr, neg.remote_port)
                self.answered.set()
            elif isinstance(event, Failed | Ended | Cancelled):
                self.failure = self.failure or (
                    f"{event.status} {event.reason}" if isinstance(event, Failed) else None
                )
                self.ended.set()
        for data in m.data_to_send():
            self.phones.send(data)
        if self._timer is not None:
            self._timer.cancel()
        when = m.get_timer()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(when, self._on_timer) if when is not None else None

    def _on_timer(self) -> None:
        assert self.machine is not None
        self.machine.handle_timer(asyncio.get_running_loop().time())
        self.pump()

    def send_audio(self, chunk: Pcm, alaw: bytes) -> None:
        if self.remote is not None and self.transport is not None and not self.ended.is_set():
            if self.encoder is None:
                payload = alaw
            else:
                assert self.up is not None
                payload = self.encoder.encode(self.up.convert(chunk))
            packet = self.sender.audio(self.pt, payload, self.step)
            if self.srtp is not None:
                packet = self.srtp.protect(packet)
            self.transport.sendto(packet, self.remote)

    def heard(self) -> tuple[list[float], list[Pcm]]:
        """10 ms frames with their arrival; a missing packet is 20 ms of silence."""
        times: list[float] = []
        frames: list[Pcm] = []
        prev: tuple[int, int] | None = None
        decoder = open_codec(self.codec)
        down = Resampler(decoder.rate, RATE) if decoder.rate != RATE else None
        for at, seq, ts, payload in self.rx:
            if prev is not None:
                gap = ((ts - prev[1]) & 0xFFFFFFFF) // self.step
                missing = max(seq_diff(seq, prev[0]) - 1, gap - 1)
                for _ in range(min(max(missing, 0), 500) * 2):
                    times.append(at)
                    frames.append(np.zeros(80, np.int16))
            prev = (seq, ts)
            pcm = decoder.decode(payload)
            if down is not None:
                pcm = down.convert(pcm)
            for half in (pcm[:80], pcm[80:160]):
                times.append(at)
                frames.append(half)
        return times, frames

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.transport is not None:
            self.transport.close()


class FarPhones(asyncio.DatagramProtocol):
    """The far phones' SIP socket: every datagram goes to its call by Call-ID."""

    def __init__(self, kam_port: int) -> None:
        self.kam_port = kam_port
        self.calls: dict[str, FarCall] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.local = ("127.0.0.1", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse_message(data)
        except ParseError:
            return
        call = self.calls.get(msg.headers.get("Call-ID") or "")
        if call is not None and call.machine is not None:
            call.machine.receive(msg, asyncio.get_running_loop().time())
            call.pump()

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", self.kam_port))

    def send_audio(self, chunk: Pcm) -> None:
        payload = alaw_encode(chunk)
        for call in self.calls.values():
            call.send_audio(chunk, payload)


def _family(pid: int) -> list[list[str]]:
    """/proc stat fields (after the name) of ``pid`` and of its live children: each call's
    ntgcalls runs in a child process of the worker (and of the peers)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            fields = text.rsplit(")", 1)[1].split()
            if int(text.split(" ", 1)[0]) == pid or int(fields[1]) == pid:
                out.append(fields)
    return out


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid``, of its live children and of the children it has reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum(sum(int(f[i]) for i in (11, 12, 13, 14)) / tick for f in _family(pid))


def group_cpu(pgid: int) -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name; the event loop's thread is "loop"."""
    out: dict[str, float] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            tid = int(text.split(" ", 1)[0])
            name = "loop" if tid == pid else text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            out[name] = out.get(name, 0.0) + cpu
    return out


def rss_mib(pid: int) -> float:
    """Resident MiB of ``pid`` and its live children (the calls' media processes)."""
    return sum(int(f[21]) * os.sysconf("SC_PAGE_SIZE") for f in _family(pid)) / 2**20


def busy_seconds() -> float:
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


async def provision(db: Path, n: int, kam_port: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await migrate.upgrade(engine)
    deps = Dependencies(engine, Cipher(KEY), SystemClock(), Rules())
    for i in range(n):
        person = TelegramUser(PERSON0 + i, f"Person {i}", None, "en")
        settings = AccountSettings(
            login=f"L{i}", password=Secret(f"pw-L{i}"), domain="127.0.0.1", port=kam_port,
            expires=300, codecs=LINE_CODECS, media_encryption="optional",
        )  # fmt: skip
        await accounts.create_account(deps, person, settings)
    await engine.dispose()


async def level(
    n: int,
    seconds: float,
    phones: FarPhones,
    worker: Child,
    peers: Child,
    kam_pgid: int,
    profile: bool = False,
    media: str = "clear",
) -> dict[str, Any]:
    await peers.ask("reset")
    phones.calls.clear()
    far = [FarCall(phones, f"L{i}", 32000 + 2 * i, media) for i in range(n)]
    ticker_marks_from = len(FAR_TICKER.marks)
    t_dial = time.monotonic()
    for call in far:
        await call.dial()
        await asyncio.sleep(0.1)  # 10 calls a second
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            await asyncio.gather(*(c.answered.wait() for c in far))
    up = [c for c in far if c.answered.is_set() and not c.ended.is_set()]
    setup = time.monotonic() - t_dial
    await asyncio.sleep(3)  # every call's audio settles
    for child in (worker, peers):
        if child.proc.returncode is not None:
            raise SystemExit(f"process {child.pid} died ({child.proc.returncode}): see dmesg")
    rss = rss_mib(worker.pid), rss_mib(peers.pid)
    await worker.ask("tap", on=True)
    w0 = time.monotonic()
    c0 = (cpu_seconds(worker.pid), cpu_seconds(peers.pid), self_cpu(), group_cpu(kam_pgid))
    b0, th0 = busy_seconds(), thread_cpu(worker.pid)
    if profile:
        await worker.ask("profile", on=True)
    await asyncio.sleep(seconds)
    if profile:
        print(await worker.ask("profile", on=False), flush=True)
    th1 = thread_cpu(worker.pid)
    w1 = time.monotonic()
    c1 = (cpu_seconds(worker.pid), cpu_seconds(peers.pid), self_cpu(), group_cpu(kam_pgid))
    b1 = busy_seconds()
    load = os.getloadavg()[0]
    wstats = await worker.ask("stats")
    marks = FAR_TICKER.marks[ticker_marks_from:]
    rep = await peers.ask("report", w0=w0, w1=w1, marks=marks)
    taps = await worker.ask("tap", on=False, w0=w0, w1=w1, far_marks=marks, peer_marks=rep["marks"])
    peer_marks = [tuple(m) for m in rep["marks"]]
    far_heard = {str(PERSON0 + far.index(c)): analyse(c.heard(), peer_marks, w0, w1) for c in up}
    for call in far:
        call.hangup()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await asyncio.gather(*(c.ended.wait() for c in far))
    for _ in range(300):  # both legs of every call closed (ports, callers, Telegram calls)
        busy = (await worker.ask("stats"))["busy"] + await peers.ask("live")
        if busy == 0:
            break
        await asyncio.sleep(0.1)
    else:
        hung = sum(c.ended.is_set() for c in far)
        print(f"  after hanging up: {hung}/{n} far calls ended, {busy} legs still up", flush=True)
    await asyncio.sleep(1)  # the history rows are closed after the legs
    for call in far:
        call.close()
    span = w1 - w0
    cpu = [(b - a) / span * 100 for a, b in zip(c0, c1, strict=True)]
    return {
        "media": media, "codecs": wstats.pop("codecs"), "encrypted": wstats.pop("encrypted"),
        "n": n, "up": len(up), "setup_s": setup, "span": span, "load": load,
        "cpu_worker": cpu[0], "cpu_peers": cpu[1], "cpu_far": cpu[2], "cpu_kam": cpu[3],
        "cpu_other": (b1 - b0) / span * 100 - sum(cpu), "rss_worker": rss[0], "rss_peers": rss[1],
        "to_tg": split(rep["people"], taps, "out", telesip_first=True),
        "to_sip": split(far_heard, taps, "in", telesip_first=False), "ref_out": rep["ref_out"],
        "ref_in": rep["ref_in"], "stats": wstats, "failures": [c.failure for c in far if c.failure],
        "threads": {k: (v - th0.get(k, 0.0)) / span * 100 for k, v in th1.items()},
    }  # fmt: skip


def split(
    heard: dict[str, dict[str, Any]], taps: dict[str, list[list[float]]], kind: str, *,
    telesip_first: bool,
) -> dict[str, Any]:  # fmt: skip
    """One direction: end-to-end latency per mark, and its two parts (telesip's, from the mark's
    send time to the ntgcalls boundary or from there to the far phone; ntgcalls' the rest)."""
    e2e, ours, theirs = [], [], []
    for pid, h in heard.items():
        at_boundary = {sent: ms for sent, ms in taps.get(f"{kind}:{pid}", [])}
        for sent, ms in h["lat"]:
            e2e.append(ms)
            if sent in at_boundary and 0 <= at_boundary[sent] <= ms:  # else: not the same mark
                part = at_boundary[sent] if telesip_first else ms - at_boundary[sent]
                ours.append(part)
                theirs.append(ms - part)
    return {
        "e2e": e2e, "telesip": ours, "ntgcalls": theirs, "heard": len(heard),
        "gaps": [h["gap_ms"] for h in heard.values() if h["gap_ms"] is not None],
        "stalls": [h["stall_ms"] for h in heard.values() if h["stall_ms"] is not None],
    }  # fmt: skip


FAR_TICKER: Ticker


async def orchestrate(a: argparse.Namespace) -> None:
    global FAR_TICKER
    levels = [int(x) for x in a.levels.split(",")]
    n_max = max(levels)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp_s, kamailio(Path(tmp_s)) as kam:
        tmp = Path(tmp_s)
        kam_port, rpc, kam_pgid = kam
        db, sock = tmp / "telesip.db", str(tmp / "telegram.sock")
        await provision(db, n_max, kam_port)
        loop = asyncio.get_running_loop()
        _, phones = await loop.create_datagram_endpoint(
            lambda: FarPhones(kam_port), local_addr=("127.0.0.1", 0)
        )
        FAR_TICKER = Ticker(phones.send_audio)
        peers = await Child.start("peers", tmp / "peers.log", "--n", str(n_max), "--sock", sock)
        worker: Child | None = None
        try:
            worker = await Child.start(
                "worker", tmp / "worker.log", "--n", str(n_max), "--sock", sock, "--db", str(db)
            )
            deadline = time.monotonic() + 60
            while rpc("ul.dump").count("AoR:") < n_max:
                if time.monotonic() > deadline:
                    raise SystemExit(f"lines did not register: {rpc('ul.dump')[-500:]}")
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            idle0, i0 = cpu_seconds(worker.pid), time.monotonic()
            await asyncio.sleep(5)
            idle_cpu = (cpu_seconds(worker.pid) - idle0) / (time.monotonic() - i0) * 100
            idle_rss = rss_mib(worker.pid)
            print(
                f"{n_max} lines registered; idle worker: {idle_cpu:.1f} % CPU, "
                f"{idle_rss:.0f} MiB RSS",
                flush=True,
            )
            results = []
            for n in levels:  # each level once per kind of media, side by side in time
                for media in a.media.split(","):
                    r = await level(n, a.seconds, phones, worker, peers, kam_pgid, a.profile, media)
                    r["idle_rss"], r["idle_cpu"] = idle_rss, idle_cpu
                    results.append(r)
                    print(summary(r), flush=True)
            print(table(results), flush=True)
            if a.json:
                with open(a.json, "w") as out:  # noqa: ASYNC230 - once, at the end
                    json.dump(results, out, default=float, indent=1)
        finally:
            if worker is not None:
                await worker.stop()
            await peers.stop()
            if a.keep_logs:
                for name in ("worker.log", "peers.log", "kamailio.log"):
                    with contextlib.suppress(OSError):
                        shutil.copy(tmp / name, Path(a.keep_logs) / name)
            if phones.transport is not None:
                phones.transport.close()


def summary(r: dict[str, Any]) -> str:
    def direction(d: dict[str, Any], ref: dict[str, Any]) -> str:
        ref_lat = [ms for _, ms in ref["lat"]]
        return (
            f"e2e p50 {fmt(pct(d['e2e'], 50))} p95 {fmt(pct(d['e2e'], 95))} ms = telesip p50 "
            f"{fmt(pct(d['telesip'], 50))} p95 {fmt(pct(d['telesip'], 95))} + ntgcalls p50 "
            f"{fmt(pct(d['ntgcalls'], 50))} (reference pair p50 {fmt(pct(ref_lat, 50))}, gap "
            f"{fmt(ref['gap_ms'])}); longest gap {fmt(max(d['gaps'], default=None))} ms, "
            f"arrival stall {fmt(max(d['stalls'], default=None))} ms, calls heard {d['heard']}"
        )

    up = max(r["up"], 1)
    return (
        f"\n{r['n']} calls, {r['media']} (bridges: {r['codecs']}, {r['encrypted']} in SRTP): "
        f"{r['up']} up (set up in {r['setup_s']:.1f} s), load {r['load']:.1f}\n"
        f"  worker CPU {r['cpu_worker']:.1f} % of a core = {r['cpu_worker'] / up:.2f} % per call"
        f" = {ratio(r):.2f}x an ntgcalls endpoint"
        f" (idle {r['idle_cpu']:.1f} %); RSS {r['rss_worker']:.0f} MiB = "
        f"{(r['rss_worker'] - r['idle_rss']) / up:.1f} MiB per call\n"
        f"  peers CPU {r['cpu_peers']:.1f} % ({r['cpu_peers'] / (r['up'] + 2):.2f} % per "
        f"ntgcalls endpoint), far phones {r['cpu_far']:.1f} %, Kamailio {r['cpu_kam']:.1f} %, "
        f"everything else on the machine {r['cpu_other']:.1f} % (of 200 %)\n"
        f"  SIP -> Telegram: {direction(r['to_tg'], r['ref_out'])}\n"
        f"  Telegram -> SIP: {direction(r['to_sip'], r['ref_in'])}\n"
        f"  worker threads (% of a core): {threads(r['threads'])}\n"
        f"  worker RTP in: {r['stats']}; far failures: {r['failures'][:3]}"
    )


def ratio(r: dict[str, Any]) -> float:
    """The worker's CPU per call over one ntgcalls endpoint's (the peers' process holds the
    people and the reference pair: up + 2 endpoints), in the same level."""
    per_endpoint = r["cpu_peers"] / (r["up"] + 2)
    return (r["cpu_worker"] / max(r["up"], 1)) / per_endpoint if per_endpoint else float("nan")


def threads(cpu: dict[str, float]) -> str:
    top = sorted(cpu.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.1f}" for k, v in top[:8] if v >= 0.5)


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f}"


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| media | calls | up | worker CPU / call | ntgcalls endpoint CPU | ratio | RSS / call "
        "| SIP→TG: telesip p50 / p95 (e2e p50) | TG→SIP: telesip p50 / p95 (e2e p50) "
        "| longest gap SIP→TG / TG→SIP | load | other load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [
            f"{fmt(pct(d['telesip'], 50))} / {fmt(pct(d['telesip'], 95))} ms "
            f"({fmt(pct(d['e2e'], 50))})"
            for d in (r["to_tg"], r["to_sip"])
        ]
        gaps = [fmt(max(d["gaps"], default=None)) for d in (r["to_tg"], r["to_sip"])]
        up = max(r["up"], 1)
        rows.append(
            f"| {r['media']} | {r['n']} | {r['up']} | {r['cpu_worker'] / up:.2f} % | "
            f"{r['cpu_peers'] / (r['up'] + 2):.2f} % | {ratio(r):.2f}x | "
            f"{(r['rss_worker'] - r['idle_rss']) / up:.1f} MiB | {cells[0]} | {cells[1]} | "
            f"{gaps[0]} / {gaps[1]} ms | {r['load']:.1f} | {r['cpu_other']:.0f} % |"
        )
    return "\n".join(rows)


def enter_namespace() -> None:
    """Re-execute under ``unshare -n`` with the veth pair (once; children inherit it)."""
    if os.environ.get("BENCH_CALLS_NETNS") == "1":
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        sys.exit("run as root with unshare and ip (iproute2): it makes its own network namespace")
    os.environ["BENCH_CALLS_NETNS"] = "1"
    argv = [sys.executable, os.path.abspath(__file__), *sys.argv[1:]]
    os.execvp("unshare", ["unshare", "-n", "sh", "-c", f'{NS_SETUP} && exec "$@"', "sh", *argv])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--levels", default="10,20,40", help="numbers of concurrent calls")
    ap.add_argument("--seconds", type=float, default=20, help="measured window per level")
    ap.add_argument(
        "--media", default="clear", help="kinds of SIP media, each level once per kind: "
        "clear, srtp, g722, opus (comma-separated)",
    )  # fmt: skip
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--profile", action="store_true", help="cProfile the worker's event loop")
    ap.add_argument("--keep-logs", help="copy the children's and Kamailio's logs here")
    ap.add_argument("--role", choices=("worker", "peers"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sock", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role is None:
        enter_namespace()
        asyncio.run(orchestrate(a))
        return
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(worker_role(a) if a.role == "worker" else peers_role(a))


if __name__ == "__main__":
    main()
