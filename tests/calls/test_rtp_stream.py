"""Two RtpStreams on 127.0.0.1: audio, symmetric latching, DTMF, RTCP, recording, ports.

No sleeps: each test waits on a future that a callback completes, with a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from telesip.calls.rtp_ports import PortPool
from telesip.calls.rtp_stream import RtpStream
from telesip.media import (
    Bye,
    CallRecorder,
    MediaParams,
    NoTelephoneEvent,
    RtpPacket,
    SineGenerator,
    dominant_frequency,
    parse_rtcp,
    rms_dbfs,
)

HOST = "127.0.0.1"
TIMEOUT = 5.0


@pytest.fixture
def pool() -> PortPool:
    return PortPool("42000-42199")


async def _open(pool: PortPool, codec: str = "PCMA", *, rtcp_interval: float = 5.0) -> RtpStream:
    params = MediaParams(codec, {"PCMA": 8, "PCMU": 0}[codec], dtmf_payload_type=101)
    return await RtpStream.open(pool, HOST, params, rtcp_interval=rtcp_interval)


@pytest.fixture
async def pair(pool: PortPool) -> AsyncIterator[tuple[RtpStream, RtpStream]]:
    a = await _open(pool)
    b = await _open(pool)
    a.set_remote(HOST, b.local_port)
    b.set_remote(HOST, a.local_port)
    yield a, b
    await a.close()
    await b.close()
    assert pool.in_use == 0


def play(stream: RtpStream, freq: float, level: float = -10.0) -> None:
    """Send a tone on the stream's own playout clock (one 20 ms frame per tick)."""
    gen = SineGenerator(freq, level)
    stream.on_pcm(lambda _frame: stream.send_pcm(gen.frame()))


def until(
    count: int, predicate: Callable[[np.ndarray], bool]
) -> tuple[Callable[[np.ndarray], None], list[np.ndarray], asyncio.Future[None]]:
    """A frame callback collecting the frames after the first that matches, until `count`."""
    frames: list[np.ndarray] = []
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_frame(frame: np.ndarray) -> None:
        if frames or predicate(frame):
            frames.append(frame)
        if len(frames) >= count and not done.done():
            done.set_result(None)

    return on_frame, frames, done


def audible(frame: np.ndarray) -> bool:
    return bool(np.any(frame))


@pytest.mark.parametrize("codec", ["PCMA", "PCMU"])
async def test_a_1khz_tone_arrives_at_1khz_with_its_level(pool: PortPool, codec: str) -> None:
    a = await _open(pool, codec)
    b = await _open(pool, codec)
    try:
        a.set_remote(HOST, b.local_port)
        b.set_remote(HOST, a.local_port)
        play(a, 1000, -10)
        on_frame, frames, done = until(50, audible)
        b.on_pcm(on_frame)
        await asyncio.wait_for(done, TIMEOUT)
        x = np.concatenate(frames[5:])
        assert dominant_frequency(x) == pytest.approx(1000, abs=2)
        assert rms_dbfs(x) == pytest.approx(-10, abs=0.5)
        assert all(len(f) == 160 and f.dtype == np.int16 for f in frames)
        s = b.stats
        assert s.packets_received >= 50 and s.remote_ssrc == a.ssrc
        assert s.lost == 0 and s.late == 0 and s.invalid == 0
    finally:
        await a.close()
        await b.close()


async def test_both_directions_at_once(pair: tuple[RtpStream, RtpStream]) -> None:
    a, b = pair
    got: dict[str, list[np.ndarray]] = {"a": [], "b": []}
    done = asyncio.get_running_loop().create_future()
    gens = {"a": SineGenerator(1000), "b": SineGenerator(440)}

    def make(name: str, stream: RtpStream) -> Callable[[np.ndarray], None]:
        def on_frame(frame: np.ndarray) -> None:
            stream.send_pcm(gens[name].frame())
            if got[name] or audible(frame):
                got[name].append(frame)
            if min(len(v) for v in got.values()) >= 40 and not done.done():
                done.set_result(None)

        return on_frame

    a.on_pcm(make("a", a))
    b.on_pcm(make("b", b))
    await asyncio.wait_for(done, TIMEOUT)
    assert dominant_frequency(np.concatenate(got["a"][5:])) == pytest.approx(440, abs=2)
    assert dominant_frequency(np.concatenate(got["b"][5:])) == pytest.approx(1000, abs=2)


async def test_playout_clock_runs_with_silence_at_a_steady_rate(pool: PortPool) -> None:
    loop = asyncio.get_running_loop()
    stream = await _open(pool)  # no remote, nothing arrives
    try:
        times: list[float] = []
        on_frame, frames, done = until(51, lambda f: True)

        def tick(frame: np.ndarray) -> None:
            times.append(loop.time())
            on_frame(frame)

        stream.on_pcm(tick)
        await asyncio.wait_for(done, TIMEOUT)
        assert not any(np.any(f) for f in frames)
        # 50 intervals of 20 ms: the clock does not drift (deadlines are t0 + n x 20 ms).
        assert times[-1] - times[0] == pytest.approx(1.0, abs=0.03)
    finally:
        await stream.close()


async def test_send_pcm_accepts_any_frame_size(pair: tuple[RtpStream, RtpStream]) -> None:
    a, b = pair
    gen = SineGenerator(1000)
    tone = np.concatenate([gen.frame() for _ in range(50)])
    on_frame, frames, done = until(30, audible)
    b.on_pcm(on_frame)
    for chunk in np.array_split(tone, 37):  # odd sizes: buffered into 160-sample packets
        a.send_pcm(chunk)
    await asyncio.wait_for(done, TIMEOUT)
    assert a.stats.packets_sent == 50
    assert dominant_frequency(np.concatenate(frames[2:28])) == pytest.approx(1000, abs=2)


async def test_symmetric_rtp_latches_to_the_real_source(pool: PortPool) -> None:
    a = await _open(pool)
    b = await _open(pool)
    c = await _open(pool)
    try:
        # a was told (SDP behind a NAT) to send to a port where nobody listens
        nowhere = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        nowhere.bind((HOST, 0))
        a.set_remote(HOST, nowhere.getsockname()[1])
        nowhere.close()
        on_frame, _frames, done = until(20, audible)
        b_heard = asyncio.get_running_loop().create_future()

        def a_frame(frame: np.ndarray) -> None:
            on_frame(frame)
            a.send_pcm(SineGenerator(1000).frame())

        def b_frame(frame: np.ndarray) -> None:
            if audible(frame) and not b_heard.done():
                b_heard.set_result(None)

        a.on_pcm(a_frame)
        b.set_remote(HOST, a.local_port)
        gen = SineGenerator(440)
        b.on_pcm(lambda f: (b.send_pcm(gen.frame()), b_frame(f)))
        await asyncio.wait_for(done, TIMEOUT)
        assert a.stats.remote == (HOST, b.local_port)
        assert a.stats.latched and a.stats.relatches == 1
        await asyncio.wait_for(b_heard, TIMEOUT)  # a's audio now reaches b

        # Once latched, another source (c, its own SSRC) cannot take the stream over.
        c.set_remote(HOST, a.local_port)
        c_sent = asyncio.get_running_loop().create_future()

        def c_frame(_frame: np.ndarray) -> None:
            c.send_pcm(SineGenerator(3000).frame())
            if c.stats.packets_sent >= 10 and not c_sent.done():
                c_sent.set_result(None)

        c.on_pcm(c_frame)
        await asyncio.wait_for(c_sent, TIMEOUT)
        foreign = asyncio.get_running_loop().create_future()
        a.on_pcm(lambda f: foreign.done() or (a.stats.foreign >= 5 and foreign.set_result(None)))
        await asyncio.wait_for(foreign, TIMEOUT)
        assert a.stats.remote == (HOST, b.local_port)
    finally:
        for s in (a, b, c):
            await s.close()


async def test_set_remote_then_packets_from_a_new_port_relatch(pool: PortPool) -> None:
    a = await _open(pool)
    b = await _open(pool)
    b2 = await _open(pool)
    try:
        a.set_remote(HOST, b.local_port)
        b.set_remote(HOST, a.local_port)
        play(b, 440)
        on_frame, _frames, done = until(5, audible)
        a.on_pcm(on_frame)
        await asyncio.wait_for(done, TIMEOUT)
        assert a.stats.remote == (HOST, b.local_port) and a.stats.relatches == 0
        # Re-INVITE: the peer moved. Its media now comes from yet another port (b2) than the
        # one it announced (b's); a follows the packets. Same SSRC is not required: the remote
        # SSRC is reset only by a new source from the remote.
        b.on_pcm(None)
        a.set_remote(HOST, b.local_port + 100)
        b2.set_remote(HOST, a.local_port)
        play(b2, 1000)
        on_frame, _frames, done = until(20, lambda f: dominant_frequency(f) > 800)
        a.on_pcm(on_frame)
        await asyncio.wait_for(done, TIMEOUT)
        assert a.stats.remote == (HOST, b2.local_port) and a.stats.relatches == 1
        assert a.stats.remote_ssrc == b2.ssrc
    finally:
        for s in (a, b, b2):
            await s.close()


async def test_dtmf_end_to_end(pair: tuple[RtpStream, RtpStream]) -> None:
    a, b = pair
    play(a, 1000)
    digits: list[str] = []
    done = asyncio.get_running_loop().create_future()

    def on_digit(d: str) -> None:
        digits.append(d)
        if len(digits) == 4 and not done.done():
            done.set_result(None)

    b.on_dtmf(on_digit)
    for d in "1#1A":
        a.send_dtmf(d)
    await asyncio.wait_for(done, TIMEOUT)
    assert digits == ["1", "#", "1", "A"]
    assert a.stats.dtmf_sent == 4 and b.stats.dtmf_received == 4
    # Audio resumes after the digits, and nothing more arrives.
    on_frame, _frames, heard = until(10, audible)
    b.on_pcm(on_frame)
    await asyncio.wait_for(heard, TIMEOUT)
    assert digits == ["1", "#", "1", "A"]


async def test_dtmf_needs_telephone_event(pool: PortPool) -> None:
    stream = await RtpStream.open(pool, HOST, MediaParams("PCMU", 0))
    try:
        with pytest.raises(NoTelephoneEvent):
            stream.send_dtmf("1")
    finally:
        await stream.close()


async def test_rtcp_reports_and_round_trip_time(pool: PortPool) -> None:
    a = await _open(pool, rtcp_interval=0.1)
    b = await _open(pool, rtcp_interval=0.1)
    try:
        a.set_remote(HOST, b.local_port)
        b.set_remote(HOST, a.local_port)
        play(a, 1000)
        play(b, 440)
        done = asyncio.get_running_loop().create_future()

        def check(_frame: np.ndarray) -> None:
            if a.stats.rtt_ms is not None and b.stats.rtt_ms is not None and not done.done():
                done.set_result(None)

        sender = SineGenerator(440)
        b.on_pcm(lambda f: (b.send_pcm(sender.frame()), check(f)))
        await asyncio.wait_for(done, TIMEOUT)
        sa, sb = a.stats, b.stats
        assert sa.rtcp_sent >= 1 and sb.rtcp_received >= 1
        assert sa.rtt_ms is not None and 0 <= sa.rtt_ms < 100
        assert sa.remote_fraction_lost == 0.0
    finally:
        await a.close()
        await b.close()


async def test_close_sends_bye_and_frees_ports(pool: PortPool) -> None:
    stream = await _open(pool)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((HOST, 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    stream.set_remote(HOST, port, rtcp_port=port)
    loop = asyncio.get_running_loop()
    port_before = stream.local_port
    assert pool.in_use == 1
    await stream.close()
    await stream.close()
    assert pool.in_use == 0
    data = await asyncio.wait_for(loop.sock_recv(listener, 2048), TIMEOUT)
    listener.close()
    assert any(isinstance(p, Bye) and p.ssrcs == (stream.ssrc,) for p in parse_rtcp(data))
    # The ports can be bound again at once.
    again = await _open(pool)
    assert again.local_port != port_before  # the pool rotates...
    await again.close()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, port_before))  # ...and the closed stream's port is really free
    sock.close()


async def test_junk_and_unexpected_payload_types_are_counted_not_played(
    pair: tuple[RtpStream, RtpStream],
) -> None:
    a, _b = pair
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    try:
        junk = [b"hello", RtpPacket(13, 1, 1, 1, b"\x40").to_bytes()]  # text; comfort noise
        for data in junk:
            await loop.sock_sendto(sock, data, (HOST, a.local_port))
        done = loop.create_future()
        a.on_pcm(lambda f: a.stats.invalid >= 2 and not done.done() and done.set_result(None))
        await asyncio.wait_for(done, TIMEOUT)
        assert a.stats.packets_received == 0 and not a.stats.latched
    finally:
        sock.close()


async def test_recording_of_a_call_holds_both_tones(
    pair: tuple[RtpStream, RtpStream], tmp_path: Path
) -> None:
    a, b = pair
    loop = asyncio.get_running_loop()
    path = tmp_path / "call.wav"
    recorder = CallRecorder(path)
    play(a, 1000)  # the far end
    ours = SineGenerator(440)
    frames = 0
    done = loop.create_future()
    arrivals: list[float] = []

    def on_frame(frame: np.ndarray) -> None:  # what a bridge does: record both directions
        nonlocal frames
        now = loop.time()
        arrivals.append(now)
        out = ours.frame()
        b.send_pcm(out)
        recorder.add("rx", frame, at=now)
        recorder.add("tx", out, at=now)
        frames += 1
        if frames == 100 and not done.done():
            done.set_result(None)

    b.on_pcm(on_frame)
    await asyncio.wait_for(done, TIMEOUT)
    duration = recorder.close()
    # the recording follows the clock the frames arrived by (a frame is 20 ms): on an idle
    # machine that is 2.0 s; under load the arrivals bunch up and the recording says so
    assert duration == pytest.approx(arrivals[-1] - arrivals[0] + 0.02, abs=0.1)
    assert duration >= 1.0
    with wave.open(str(path), "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    tail = x[-8000:].astype(float)
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    assert sorted(np.argsort(spectrum)[-2:]) == [440, 1000]


async def test_loss_and_reordering_from_a_raw_peer(pool: PortPool) -> None:
    """Packets paced by the stream's own clock, two lost and two swapped: counted, concealed."""
    from telesip.media import RtpSender, alaw_encode

    loop = asyncio.get_running_loop()
    stream = await _open(pool)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((HOST, 0))
    peer.setblocking(False)
    try:
        stream.set_remote(*peer.getsockname())
        sender = RtpSender()
        gen = SineGenerator(1000)
        packets = [sender.audio(8, alaw_encode(gen.frame()), 160) for _ in range(40)]
        order = [i for i in range(40) if i not in (10, 11)]  # 10 and 11 lost
        order[20], order[21] = order[21], order[20]  # one pair swapped
        done = loop.create_future()
        ticks = 0

        def tick(_frame: np.ndarray) -> None:
            nonlocal ticks
            if ticks < len(order):
                peer.sendto(packets[order[ticks]], (HOST, stream.local_port))
            ticks += 1
            if ticks == len(order) + 5 and not done.done():
                done.set_result(None)

        stream.on_pcm(tick)
        await asyncio.wait_for(done, TIMEOUT)
        s = stream.stats
        assert (s.packets_received, s.lost, s.late, s.concealed) == (38, 2, 0, 1)
        assert s.latched and s.relatches == 0 and s.remote_ssrc == sender.ssrc
    finally:
        peer.close()
        await stream.close()


async def test_a_failing_callback_does_not_stop_the_clock(
    pool: PortPool, caplog: pytest.LogCaptureFixture
) -> None:
    stream = await _open(pool)
    try:
        done = asyncio.get_running_loop().create_future()
        calls = 0

        def broken(_frame: np.ndarray) -> None:
            nonlocal calls
            calls += 1
            if calls == 3 and not done.done():
                done.set_result(None)
            raise RuntimeError("consumer bug")

        stream.on_pcm(broken)
        await asyncio.wait_for(done, TIMEOUT)
        assert "media callback failed" in caplog.text
    finally:
        await stream.close()


async def test_update_switches_the_codec(pair: tuple[RtpStream, RtpStream]) -> None:
    a, b = pair
    ulaw = MediaParams("PCMU", 0, HOST, b.local_port, dtmf_payload_type=101)
    a.update(ulaw)
    b.update(MediaParams("PCMU", 0, HOST, a.local_port, dtmf_payload_type=101))
    play(a, 1000)
    on_frame, frames, done = until(20, audible)
    b.on_pcm(on_frame)
    await asyncio.wait_for(done, TIMEOUT)
    assert dominant_frequency(np.concatenate(frames[3:])) == pytest.approx(1000, abs=2)
    assert b.stats.invalid == 0 and a.params.codec == "PCMU"


@pytest.mark.parametrize(
    ("codec", "pt", "clock"), [("G722", 9, 8000), ("OPUS", 111, 48000)], ids=["G722", "opus"]
)
async def test_wideband_codecs_carry_a_tone_and_count_time_in_their_clock(
    pool: PortPool, codec: str, pt: int, clock: int
) -> None:
    """A tone through G.722 or Opus arrives at its frequency, wideband (6 kHz: the stream's
    PCM is at the codec's own rate, 16 or 48 kHz); on the wire each 20 ms packet
    moves the timestamp by its codec's clock (G.722: 160, RFC 3551's 8000 Hz; Opus: 960), and
    RFC 4733 events count in the same clock (a 100 ms digit ends at duration clock / 10)."""
    pytest.importorskip("av", reason="G.722 and Opus need the codecs extra (PyAV)")
    params = MediaParams(codec, pt, dtmf_payload_type=101, clock_rate=clock)
    a = await RtpStream.open(pool, HOST, params)
    b = await RtpStream.open(pool, HOST, params)
    tap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tap.bind((HOST, 0))
    tap.setblocking(False)
    try:
        a.set_remote(HOST, b.local_port)
        b.set_remote(HOST, a.local_port)
        on_a, heard_a, done_a = until(50, audible)
        on_b, heard_b, done_b = until(50, audible)
        # each side sends its tone on its playout tick and keeps what it hears
        rate = {"G722": 16000, "OPUS": 48000}[codec]
        assert a.rate == b.rate == rate
        gen_a = SineGenerator(6000, -10, rate=rate, frame_samples=rate // 50)
        gen_b = SineGenerator(440, -10, rate=rate, frame_samples=rate // 50)
        a.on_pcm(lambda f: (a.send_pcm(gen_a.frame()), on_a(f)))
        b.on_pcm(lambda f: (b.send_pcm(gen_b.frame()), on_b(f)))
        await asyncio.wait_for(asyncio.gather(done_a, done_b), TIMEOUT)
        at_b, at_a = np.concatenate(heard_b[10:]), np.concatenate(heard_a[10:])
        assert {f.size for f in heard_b} == {rate // 50}
        assert dominant_frequency(at_b, rate) == pytest.approx(6000, abs=3)
        assert dominant_frequency(at_a, rate) == pytest.approx(440, abs=3)
        assert rms_dbfs(at_b) == pytest.approx(-10, abs=1.5)
        # what a sends, seen by a raw socket: timestamps and events in the codec's clock
        await b.close()  # else its packets would latch a back to it
        a.set_remote(*tap.getsockname())
        loop = asyncio.get_running_loop()
        audio: list[RtpPacket] = []
        events: list[RtpPacket] = []
        async with asyncio.timeout(TIMEOUT):
            while len(audio) < 10:
                audio.append(RtpPacket.parse(await loop.sock_recv(tap, 2048)))
            a.send_dtmf("5", 100)
            while not (events and events[-1].payload[1] & 0x80):  # until its end bit
                packet = RtpPacket.parse(await loop.sock_recv(tap, 2048))
                if packet.payload_type == 101:
                    events.append(packet)
        assert {p.payload_type for p in audio} == {pt}
        steps = {(q.timestamp - p.timestamp) & 0xFFFFFFFF for p, q in itertools.pairwise(audio)}
        assert steps == {clock // 50}
        end = events[-1]
        assert int.from_bytes(end.payload[2:4], "big") == clock // 10
    finally:
        tap.close()
        await a.close()
        await b.close()
