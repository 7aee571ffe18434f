"""Real softphones as far phones: baresip and linphone (linphonec) from Debian's packages, each
registered at the rig's Kamailio as an ordinary extension and driven headless.

A softphone plays a tone from a WAV file instead of a microphone and records what it hears to
a WAV file; the test drives it with its own control channel (baresip: ``ctrl_tcp``, JSON in
netstrings; linphonec: commands on stdin) and reads its events (baresip's JSON events,
linphonec's console lines). Kamailio here routes every INVITE by location (an extension calls
line 100, line 100 calls an extension), challenging the caller first, so neither side is
special-cased. A missing package skips the test with the reason (``bin/system-deps`` installs
both).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import tests.sip_integration.conftest as sip_conftest
from telesip.domain.calls import CallState, EndReason
from telesip.media.analysis import dominant_frequency, rms_dbfs
from telesip.services import calls
from tests.calls.conftest import ALICE_TG, ENDS_WITHIN, Rig
from tests.calls.telegram.netns import Netns
from tests.calls.test_outgoing import _ended
from tests.calls.test_recording_e2e import _level_at
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI, FakeMessage
from tests.fakes.telegram_calls import Behaviour, play_tone, tone
from tests.sip_integration.conftest import Cert, eventually, free_port, run_kamailio

# Every INVITE is challenged (password pw-<user>) and goes where its Request-URI's user is
# registered: an extension calls line 100, line 100 calls an extension.
SOFTPHONE_ROUTE = """request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (has_totag()) {
        if (loose_route()) {
            # linphone's Contact is the GRUU this registrar gave it (RFC 5627): resolve it
            if ($(ru{uri.param,gr}) != "") { lookup("location"); }
            t_relay();
            exit;
        }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    $var(pw) = "pw-" + $au;
    if (is_method("REGISTER")) {
        if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) { auth_challenge("$fd", "0"); exit; }
        if (!save("location")) { sl_reply_error(); }
        exit;
    }
    if (!is_method("INVITE")) { sl_send_reply("405", "Method Not Allowed"); exit; }
    if (!pv_auth_check("$fd", "$var(pw)", "0", "0")) { auth_challenge("$fd", "0"); exit; }
    consume_credentials();
    record_route();
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    t_relay();
}
"""

#: the softphone's tone (what Telegram must hear) and the person's (what the softphone records)
PHONE_HZ = 1000
PERSON_HZ = 440
#: the tones on a wideband codec (G.722, Opus): above G.711's 4 kHz, so they prove the band
WIDE_HZ = 6000
PERSON_WIDE_HZ = 5000
#: the rate the person's Telegram app hears and speaks at (ntgcalls' own: nothing cut there)
PERSON_RATE = 48000

Pcm = npt.NDArray[np.int16]
NO_WHERE = "192.0.2.1"  # linphone's "internet" address inside the test's namespace


@pytest.fixture
def calls_kamailio(
    netns: Netns,
    tmp_path: Path,
    tls_cert: Cert,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[sip_conftest.Kamailio, int]]:
    """The rig's Kamailio with the softphone route (overrides the SIPp one of conftest.py)."""
    base = sip_conftest.KAMAILIO_CFG
    cfg = base[: base.index("request_route")] + SOFTPHONE_ROUTE.replace("{", "{{").replace(
        "}", "}}"
    )
    monkeypatch.setattr(sip_conftest, "KAMAILIO_CFG", cfg)
    (tmp_path / "kam").mkdir()
    with run_kamailio(tmp_path / "kam", tls_cert) as kam:
        yield kam, 0  # no SIPp UAS here


def write_tone_wav(
    path: Path, hz: float, seconds: float, rate: int = 8000, channels: int = 1
) -> Path:
    """A 16-bit WAV of a sine, the same in every channel (the softphone's "microphone")."""
    samples = tone(hz, int(seconds * rate), rate=rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(samples, channels).tobytes())
    return path


def read_wav(path: Path) -> tuple[Pcm, int]:
    """The samples (first channel) and rate of a 16-bit WAV, also one still being written (its
    sizes not yet filled in): everything after the ``data`` chunk's header is taken."""
    raw = path.read_bytes()
    fmt = raw.index(b"fmt ")
    channels = int.from_bytes(raw[fmt + 10 : fmt + 12], "little")
    rate = int.from_bytes(raw[fmt + 12 : fmt + 16], "little")
    data = raw.index(b"data") + 8
    body = raw[data : data + (len(raw) - data) // (2 * channels) * 2 * channels]
    samples = np.frombuffer(body, dtype="<i2").reshape(-1, channels)[:, 0]
    return samples.astype(np.int16), rate


def need_softphone(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed: run bin/system-deps (Debian {package})")
    return path


class Softphone(abc.ABC):
    """One softphone process registered as extension ``ext`` at Kamailio."""

    name = ""

    def __init__(
        self,
        home: Path,
        ext: str,
        kam: sip_conftest.Kamailio,
        tls: Cert | None = None,
        codec: str | None = None,
    ) -> None:
        self.home = home
        self.codec = codec  # set: it offers (and prefers) this codec first: "G722" | "opus"
        self.ext = ext
        self.registrar_port = kam.port
        self.tls_port = kam.tls_port
        self.tls = tls  # set: registered over TLS with SRTP mandatory (the CA to trust)
        self.hz = WIDE_HZ if codec else PHONE_HZ  # what it plays
        self.person_hz = PERSON_WIDE_HZ if codec else PERSON_HZ  # what the person plays to it
        rate = {"G722": 16000, "opus": 48000}.get(codec or "", 8000)
        self.source = write_tone_wav(home / "tone.wav", self.hz, 120, rate)
        self.log = home / f"{self.name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []  # its console output (and, for baresip, its events)
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def start(self) -> None: ...

    def uri(self, user: str) -> str:
        """Where it calls ``user``: through Kamailio, on the transport it registered over."""
        if self.tls is None:
            return f"sip:{user}@127.0.0.1:{self.registrar_port}"
        return f"sip:{user}@127.0.0.1:{self.tls_port};transport=tls"

    @abc.abstractmethod
    async def dial(self, uri: str) -> None: ...

    @abc.abstractmethod
    async def hang_up(self) -> None: ...

    @abc.abstractmethod
    async def hold(self) -> None: ...

    @abc.abstractmethod
    async def resume(self) -> None: ...

    @abc.abstractmethod
    def recording(self) -> tuple[Pcm, int]:
        """What it heard in its current (or last) call, and the rate."""

    @abc.abstractmethod
    def digits(self) -> str:
        """The DTMF digits it reported receiving."""

    # the patterns of its output for a call that is up, on hold (our answer to its hold
    # re-INVITE has arrived: a new re-INVITE before that may be refused), and ended
    established: re.Pattern[str]
    held: re.Pattern[str]
    closed: re.Pattern[str]
    music_on_hold = False  # it sends audio while it holds the call

    def _saw(self, line: str) -> None:
        self.lines.append(line)
        with self.log.open("a") as log:
            log.write(line + "\n")
        self._changed.set()

    async def wait_for(
        self, pattern: re.Pattern[str], *, after: int = 0, within: float = 15
    ) -> int:
        """The index of the first output line from ``after`` on matching ``pattern``."""
        async with asyncio.timeout(within):
            while True:
                for i in range(after, len(self.lines)):
                    if pattern.search(self.lines[i]):
                        return i
                self._changed.clear()
                await self._changed.wait()

    def mark(self) -> int:
        return len(self.lines)

    def output(self) -> str:
        return "\n".join(self.lines[-80:])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read_lines(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self._saw(line.decode(errors="replace").rstrip())


class Baresip(Softphone):
    """baresip with ``aufile`` as its microphone, ``sndfile`` dumping what it decodes, answering
    by itself (``answermode=auto``), driven through ``ctrl_tcp``."""

    name = "baresip"
    established = re.compile(r'"type":"CALL_ESTABLISHED"')
    held = re.compile(r"^a=(recvonly|inactive)$")  # in its SIP trace (-s): our answer
    closed = re.compile(r'"type":"CALL_CLOSED"')

    def __init__(
        self,
        home: Path,
        ext: str,
        kam: sip_conftest.Kamailio,
        tls: Cert | None = None,
        codec: str | None = None,
    ) -> None:
        super().__init__(home, ext, kam, tls, codec)
        self.binary = need_softphone("baresip", "baresip")
        if codec is not None:  # 1.0.0's aufile takes only a WAV at the codec's rate and channels
            rate, channels = {"G722": (16000, 1), "opus": (48000, 2)}[codec]
            self.source = write_tone_wav(home / "tone.wav", self.hz, 120, rate, channels)
        self.dumps = home / "dumps"
        self.dumps.mkdir()
        self._ctrl: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._token = 0
        self._events: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sip_port, ctrl_port = free_port(), free_port()
        conf = self.home / "conf"
        conf.mkdir()
        if self.tls is None:
            aor = f"<sip:{self.ext}@127.0.0.1:{self.registrar_port};transport=udp>"
            secure: list[str] = []
        else:  # SIP over TLS (trusting the rig's CA), RTP/SAVP with SDES keys or no call
            aor = f"<sip:{self.ext}@127.0.0.1:{self.tls_port};transport=tls>;mediaenc=srtp-mand"
            both = self.home / "tls.pem"  # its own certificate for TLS it accepts
            both.write_bytes(self.tls.cert.read_bytes() + self.tls.key.read_bytes())
            secure = ["module\tsrtp.so", f"sip_cafile\t{self.tls.cert}",
                      f"sip_certificate\t{both}"]  # fmt: skip
        (conf / "accounts").write_text(
            f"{aor};auth_pass=pw-{self.ext};answermode=auto;regint=60;ptime=20\n"
        )
        (conf / "config").write_text(
            "\n".join(
                [
                    "poll_method\tepoll",
                    f"sip_listen\t127.0.0.1:{sip_port}",
                    "module_path\t/usr/lib/baresip/modules",
                    # its codec preference is the order its codec modules load in
                    *([f"module\t{self.codec.lower()}.so"] if self.codec else []),
                    "module\tg711.so",
                    "module\taufile.so",
                    "module\taubridge.so",
                    "module\tsndfile.so",
                    "module_app\taccount.so",
                    "module_app\tmenu.so",
                    "module_app\tctrl_tcp.so",
                    f"ctrl_tcp_listen\t127.0.0.1:{ctrl_port}",
                    f"audio_source\taufile,{self.source}",
                    "audio_player\taubridge,far",
                    "audio_alert\taubridge,alert",
                    f"snd_path\t{self.dumps}",
                    "rtp_ports\t32000-32099",
                    "audio_buffer\t20-160",
                    *secure,
                    "",
                ]
            )
        )
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "-f", str(conf), "-v", "-s",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self._reader = asyncio.create_task(self._read_lines(self.proc.stdout))
        async with asyncio.timeout(10):
            while True:
                try:
                    self._ctrl = await asyncio.open_connection("127.0.0.1", ctrl_port)
                    break
                except OSError:
                    assert self.proc.returncode is None, self.output()
                    await asyncio.sleep(0.05)  # the process is starting: poll its port
        self._events = asyncio.create_task(self._read_events(self._ctrl[0]))

    async def _read_events(self, reader: asyncio.StreamReader) -> None:
        while True:
            size = await reader.readuntil(b":")
            body = await reader.readexactly(int(size[:-1]) + 1)
            self._saw(body[:-1].decode(errors="replace"))

    async def command(self, command: str, params: str = "") -> None:
        assert self._ctrl is not None
        self._token += 1
        data = json.dumps(
            {"command": command, "params": params, "token": str(self._token)},
            separators=(",", ":"),
        ).encode()
        self._ctrl[1].write(f"{len(data)}:".encode() + data + b",")
        await self._ctrl[1].drain()
        await self.wait_for(re.compile(rf'"response":true.*"token":"{self._token}"'))

    async def dial(self, uri: str) -> None:
        await self.command("dial", uri)

    async def hang_up(self) -> None:
        await self.command("hangup")

    async def hold(self) -> None:
        await self.command("hold")

    async def resume(self) -> None:
        await self.command("resume")

    def recording(self) -> tuple[Pcm, int]:
        (dump,) = sorted(self.dumps.glob("*-dec.wav"), key=lambda p: p.stat().st_mtime)[-1:]
        return read_wav(dump)

    def digits(self) -> str:
        found = []
        for line in self.lines:
            if '"type":"CALL_DTMF_START"' in line:
                event: dict[str, Any] = json.loads(line)
                found.append(str(event.get("param", "")))
        return "".join(found)

    async def stop(self) -> None:
        if self._events is not None:
            self._events.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncio.IncompleteReadError):
                await self._events
        if self._ctrl is not None:
            self._ctrl[1].close()
        await super().stop()


class Linphone(Softphone):
    """linphonec in file mode (``soundcard use files``: ``play`` is its microphone, ``record``
    what it hears), answering by itself (``-a``), driven on stdin."""

    name = "linphone"
    established = re.compile(r"Call \d+ with .* connected|Media streams established")
    held = re.compile(r"Call \d+ with .* is now paused")
    music_on_hold = True  # its `play` file, while paused
    closed = re.compile(r"Call \d+ with .* ended|Call ended")

    def __init__(
        self,
        home: Path,
        ext: str,
        kam: sip_conftest.Kamailio,
        tls: Cert | None = None,
        codec: str | None = None,
    ) -> None:
        super().__init__(home, ext, kam, tls, codec)
        self.binary = need_softphone("linphonec", "linphone-cli")
        self.record_file = home / "heard.wav"

    async def start(self) -> None:
        rc = self.home / "linphonerc"
        if self.tls is None:
            ports = [f"sip_port={free_port()}", "sip_tls_port=0"]
            proxy = f"<sip:127.0.0.1:{self.registrar_port};transport=udp>"
        else:  # SIP over TLS (trusting the rig's CA), SRTP (SDES) mandatory
            ports = ["sip_port=0", f"sip_tls_port={free_port()}", f"root_ca={self.tls.cert}",
                     "verify_server_certs=1", "verify_server_cn=0", "media_encryption=srtp",
                     "media_encryption_mandatory=1"]  # fmt: skip
            proxy = f"<sip:127.0.0.1:{self.tls_port};transport=tls>"
        rc.write_text(
            "\n".join(
                [
                    "[sip]",
                    *ports,
                    "sip_tcp_port=0",
                    "default_proxy=0",
                    "[rtp]",
                    "audio_rtp_port=33000-33099",
                    "[sound]",
                    "echocancellation=0",
                    "[video]",
                    "enabled=0",
                    *self._codec_sections(),
                    "[proxy_0]",
                    f"reg_proxy={proxy}",
                    f"reg_identity=sip:{self.ext}@127.0.0.1",
                    "reg_expires=60",
                    "reg_sendregister=1",
                    "publish=0",
                    "[auth_info_0]",
                    f"username={self.ext}",
                    f"passwd=pw-{self.ext}",
                    "realm=127.0.0.1",
                    "domain=127.0.0.1",
                    "",
                ]
            )
        )
        # it keeps a database (call logs, chats) there, and will not start without one
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True)
        # it calls the network down (and so never registers) while it finds no route to the
        # internet, and, checking every 5 s, calls it down again when that route's source is
        # 127.0.0.1 (dropping its TLS connection mid-call); the test's namespace has no such
        # route, so one that goes nowhere is given, from an address of its own (TEST-NET-1)
        for args in (
            ("addr", "replace", f"{NO_WHERE}/32", "dev", "lo"),
            ("route", "replace", "default", "dev", "lo", "src", NO_WHERE),
        ):
            ip = await asyncio.create_subprocess_exec("ip", *args)
            assert await ip.wait() == 0, args
        env = {**os.environ, "HOME": str(self.home)}
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", str(rc), "-a", "-d", "4", "-l", str(self.home / "liblinphone.log"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self._reader = asyncio.create_task(self._read_lines(self.proc.stdout))
        await self.send("soundcard use files")
        await self.send(f"play {self.source}")
        await self.send(f"record {self.record_file}")

    def _codec_sections(self) -> list[str]:
        """With a codec asked for: sections enabling it, PCMA and PCMU (it still offers its
        other codecs, in its own order: opus, speex, then the rest)."""
        if self.codec is None:
            return []
        rate, channels = {"G722": (8000, 1), "opus": (48000, 2)}[self.codec]
        lines = []
        for i, (mime, r, ch) in enumerate(
            [(self.codec, rate, channels), ("PCMA", 8000, 1), ("PCMU", 8000, 1)]
        ):
            lines += [f"[audio_codec_{i}]", f"mime={mime}", f"rate={r}", f"channels={ch}",
                      "enabled=1"]  # fmt: skip
        return lines

    async def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def dial(self, uri: str) -> None:
        await self.send(f"call {uri} --audio-only")

    async def hang_up(self) -> None:
        await self.send("terminate")

    async def hold(self) -> None:
        await self.send("pause")

    async def resume(self) -> None:
        await self.send("resume")

    def recording(self) -> tuple[Pcm, int]:
        return read_wav(self.record_file)

    def digits(self) -> str:
        return "".join(
            m.group(1) for line in self.lines if (m := re.search(r"Receiving tone (\S)", line))
        )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ConnectionError):
                await self.send("quit")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    await self.proc.wait()
        await super().stop()


def check_media_security(rig: Rig, phone: Softphone) -> None:
    """The call's SIP media are SRTP when the phone is on TLS with SRTP mandatory (and in
    clear otherwise): the tones checked around this call crossed it encrypted."""
    (bridge,) = rig.calls._by_sip.values()
    assert bridge.stream is not None
    assert bridge.stream.encrypted is (phone.tls is not None), phone.output()
    codec = (phone.codec or "PCMA").upper()
    assert bridge.stream.params.codec == codec, phone.output()


def check_recording(rig: Rig, phone: Softphone, name: str | None) -> None:
    """A recording line's WAV is at the call's rate (16 kHz G.722, 48 kHz Opus) and holds both
    wideband tones (the lines of the wideband cases record; the others do not)."""
    if phone.codec is None:
        assert name is None
        return
    assert name is not None and rig.calls.recordings is not None
    with wave.open(str(rig.calls.recordings / name)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    assert rate == {"G722": 16000, "opus": 48000}[phone.codec]
    assert (
        _level_at(samples, phone.hz, rate) > 50 and _level_at(samples, phone.person_hz, rate) > 50
    )


def bridge_direction(rig: Rig) -> str | None:
    """Our media direction in the rig's one running call (None when there is none)."""
    bridges = list(rig.calls._by_sip.values())
    return bridges[0].direction if bridges else None


def heard_tone(samples: Pcm, rate: int, seconds: float = 1.0) -> tuple[float, float]:
    """The dominant frequency and level of the last ``seconds`` of sound in a recording."""
    loud = samples[np.abs(samples.astype(np.int32)) > 300]
    assert loud.size >= seconds * rate * 0.5, f"only {loud.size / rate:.2f} s of sound"
    window = _last_sound(samples, rate, seconds)
    return dominant_frequency(window, rate), rms_dbfs(window)


def _last_sound(samples: Pcm, rate: int, seconds: float) -> Pcm:
    """The last ``seconds`` before the last loud sample (a recording may end in silence)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    end = int(loud[-1]) + 1
    return samples[max(0, end - int(seconds * rate)) : end]


async def person_plays(rig: Rig, hz: float) -> None:
    """The person's voice: a tone at their app's rate, in real time, until cancelled."""
    await play_tone(rig.person.send_pcm, hz, rate=rig.person.sample_rate)


async def person_hears(rig: Rig, hz: float, phone: Softphone) -> Pcm:
    """Once a second of sound has reached the person's app: that second, checked to be the
    softphone's tone at its frequency (at 48 kHz: a band G.711 could not carry shows)."""
    rate = rig.person.sample_rate
    async with asyncio.timeout(10):
        heard = await rig.person.heard.sound(1.0, rate)
    assert abs(dominant_frequency(heard, rate) - hz) < 15, phone.output()
    assert rms_dbfs(heard) > -35, phone.output()
    return heard


async def register(rig: Rig, phone: Softphone) -> None:
    await phone.start()
    await eventually(lambda: bool(rig.kam.contacts(phone.ext)), 15, f"{phone.name} to register")


async def dial_the_line(rig: Rig, phone: Softphone) -> None:
    """The softphone registers and dials line 100; Alice answers, her app at 48 kHz."""
    await register(rig, phone)
    mark = phone.mark()
    rig.person.sample_rate = PERSON_RATE
    await phone.dial(phone.uri("100"))
    async with asyncio.timeout(20):
        await rig.person.connected.wait()
    await phone.wait_for(phone.established, after=mark)


async def phone_hangs_up(rig: Rig, phone: Softphone) -> None:
    """The softphone hangs up: the Telegram call ends, and so does the phone's."""
    mark = phone.mark()
    await phone.hang_up()
    async with asyncio.timeout(ENDS_WITHIN):
        await rig.person.ended.wait()
    await phone.wait_for(phone.closed, after=mark)


async def softphone_calls_the_line(rig: Rig, phone: Softphone) -> None:
    """The softphone dials line 100: Alice answers in Telegram, each hears the other's tone,
    the softphone's hold and resume keep the call up and the audio comes back, and its
    hang-up ends the Telegram call."""
    await dial_the_line(rig, phone)
    person_tone = asyncio.create_task(person_plays(rig, phone.person_hz))
    try:
        await person_hears(rig, phone.hz, phone)
        check_media_security(rig, phone)
        (call, *_) = await calls.recent_calls(rig.deps, ALICE, limit=1)
        assert (call.state, call.number) == (CallState.ANSWERED, phone.ext)
        # hold from the softphone (re-INVITE sendonly or inactive), then resume
        mark = phone.mark()
        await phone.hold()
        await phone.wait_for(phone.held, after=mark)
        await eventually(lambda: bridge_direction(rig) in ("recvonly", "inactive"), 10, "the hold")
        if phone.music_on_hold:  # what it plays while it holds us reaches Telegram
            rig.person.heard.clear()
            await person_hears(rig, phone.hz, phone)
        await phone.resume()
        await eventually(lambda: bridge_direction(rig) == "sendrecv", 10, "the resume")
        rig.person.heard.clear()
        await person_hears(rig, phone.hz, phone)
        assert (await calls.get_call(rig.deps, call.id)).state is CallState.ANSWERED
        await phone_hangs_up(rig, phone)
    finally:
        person_tone.cancel()
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.COMPLETED
    check_recording(rig, phone, ended.recording)
    hz, level = heard_tone(*phone.recording())
    assert abs(hz - phone.person_hz) < 15 and level > -35, (hz, level)


async def person_calls_the_softphone(rig: Rig, bot: FakeBotAPI, phone: Softphone) -> None:
    """Alice dials the softphone's extension in the bot: it answers by itself, audio flows
    both ways, keypad presses reach it as DTMF, her Hold and Resume re-INVITE it (the audio
    comes back), and her hang-up ends its call."""
    await register(rig, phone)
    mark = phone.mark()
    rig.person.behaviour = Behaviour.answer(0.3)
    rig.person.sample_rate = PERSON_RATE
    bot.send_text(ALICE_TG, phone.ext)
    await bot.next_message(ALICE_TG)
    async with asyncio.timeout(20):
        await rig.person.connected.wait()
    await phone.wait_for(phone.established, after=mark, within=20)
    (call, *_) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    person_tone = asyncio.create_task(person_plays(rig, phone.person_hz))
    try:
        rig.person.heard.clear()
        await person_hears(rig, phone.hz, phone)
        check_media_security(rig, phone)

        def keypads() -> list[FakeMessage]:
            return [m for m in bot.bot_messages(ALICE_TG) if m.content.startswith("☎️ In a call")]

        await bot.wait_for(lambda: bool(keypads()), timeout=10)
        (keypad,) = keypads()
        for key in "5#":
            assert (await bot.press_button(ALICE_TG, keypad, key)).text == f"Sent {key}"
        await eventually(lambda: phone.digits() == "5#", 10, f"DTMF at {phone.name}")
        # Hold and Resume from the keypad: the softphone answers each re-INVITE
        assert (await bot.press_button(ALICE_TG, keypad, "⏸ Hold")).text.startswith("On hold")
        await eventually(lambda: bridge_direction(rig) == "sendonly", 10, "its hold answer")
        await bot.wait_for(lambda: "▶️ Resume" in keypad.button_texts, timeout=5)
        # both sides on hold: the softphone's own hold offers a=sendonly, answered a=inactive
        mark = phone.mark()
        await phone.hold()
        await phone.wait_for(phone.held, after=mark)
        await eventually(lambda: bridge_direction(rig) == "inactive", 10, "both on hold")
        mark = phone.mark()
        await phone.resume()
        await eventually(lambda: bridge_direction(rig) == "sendonly", 10, "its resume answer")
        assert (await bot.press_button(ALICE_TG, keypad, "▶️ Resume")).text == "Resumed"
        await eventually(lambda: bridge_direction(rig) == "sendrecv", 10, "its resume answer")
        rig.person.heard.clear()
        await person_hears(rig, phone.hz, phone)
        mark = phone.mark()
        await rig.person.hangup()
        await phone.wait_for(phone.closed, after=mark, within=ENDS_WITHIN)
    finally:
        person_tone.cancel()
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.COMPLETED
    check_recording(rig, phone, ended.recording)
    hz, level = heard_tone(*phone.recording())
    assert abs(hz - phone.person_hz) < 15 and level > -35, (hz, level)
