"""`RtpStream`: one call's RTP and RTCP sockets on the event loop, audio both ways through the
negotiated codec (`telesip.media.codecs`: G.711, G.722, Opus), as PCM at the codec's own
audio rate (`RtpStream.rate`: 8 kHz for G.711, 16 kHz for G.722, 48 kHz for Opus).

Receiving: datagrams are parsed, checked (payload type, source) and decoded into the jitter
buffer; a playout clock pulls one 20 ms frame per tick and hands it to the `on_pcm` callback,
silence included, so the consumer sees a constant rate. One clock per event loop serves every
stream; its deadlines are computed from its start (t0 + n x 20 ms), so it does not drift; if
the loop stalls, the missed frames are delivered at once.

Symmetric RTP (RFC 4961 style latching): until a packet confirms the remote, the first valid
packet (our audio or event payload type, the known SSRC if any) from another address moves the
remote there; after that, other sources are dropped. `set_remote` (a new negotiation) opens
the latch again, for any SSRC.

Sending: `send_pcm` cuts samples into packets of the negotiated ptime; RFC 4733 digits queued by
`send_dtmf` go out on the playout tick and replace the audio while they last. RTCP SR/RR with
SDES CNAME go out every ~5 s (randomised 0.5-1.5x) and a BYE on `close()`, which frees the ports.

RTP timestamps (and RFC 4733 events) count in the codec's clock, `MediaParams.clock_rate`: the
sample count times `clock_rate / rate` (1 for G.711 and Opus, 1/2 for G.722). A re-INVITE that
moves to a codec of another rate changes `rate` (the jitter buffer starts again at it).

SRTP (`MediaParams.srtp`): every RTP packet we send (audio and RFC 4733 events alike) and every
RTCP compound is protected just before the socket, every datagram is unprotected right after
it, before parsing; a datagram that fails authentication counts as invalid. New keys in
`update` (a re-INVITE that re-keys) replace the transform; the same keys keep it (and its
rollover counters).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from telesip.media.codecs import AudioCodec, open_codec, rate_of
from telesip.media.dtmf import DtmfReceiver, DtmfSender
from telesip.media.errors import InvalidDigit, MalformedPacket, NoTelephoneEvent
from telesip.media.g711 import Pcm
from telesip.media.jitter import JitterBuffer
from telesip.media.params import MediaParams, StreamStats
from telesip.media.rtcp import (
    Bye,
    ReceiverReport,
    ReceptionStats,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    build_rtcp,
    ntp_timestamp,
    parse_rtcp,
)
from telesip.media.rtp import RtpPacket, RtpSender
from telesip.media.srtp import SrtpTransform

from .rtp_ports import PortLease, PortPool

__all__ = ["RtpStream"]

log = logging.getLogger(__name__)

TICK = 0.02  # seconds of one playout tick (20 ms), at every rate
TICKS_PER_SECOND = 50
_MAX_CATCH_UP = 10  # frames delivered at once after a stall; beyond that the clock restarts
_PAUSE = 0.2  # seconds without audio that make the next packet start a talkspurt
_DIGIT_GAP = 3  # ticks of audio between two queued digits

PcmCallback = Callable[[Pcm], None]
DigitCallback = Callable[[str], None]
Address = tuple[str, int]


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, receive: Callable[[bytes, Any], None]) -> None:
        self._receive = receive
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._receive(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable before the peer listens) are routine for RTP.
        log.debug("RTP socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _PlayoutClock:
    """One 20 ms timer per event loop for all streams: a call adds no loop wake-ups of its own.

    Deadlines are t0 + n x 20 ms, so the clock does not drift; after a stall the missed ticks
    run at once (up to `_MAX_CATCH_UP`, beyond that the clock restarts from now).
    """

    _clocks: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _PlayoutClock]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._streams: dict[RtpStream, None] = {}  # insertion-ordered set
        self._handle: asyncio.TimerHandle | None = None
        self._t0 = 0.0
        self._ticks = 0

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _PlayoutClock:
        clock = cls._clocks.get(loop)
        if clock is None:
            clock = cls._clocks[loop] = cls(loop)
        return clock

    def add(self, stream: RtpStream) -> None:
        self._streams[stream] = None
        if self._handle is None:
            self._t0 = self._loop.time()
            self._ticks = 1
            self._handle = self._loop.call_at(self._t0 + TICK, self._tick)

    def remove(self, stream: RtpStream) -> None:
        self._streams.pop(stream, None)
        if not self._streams and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        loop = self._loop
        due = int((loop.time() - self._t0) / TICK) + 1 - self._ticks
        if due > _MAX_CATCH_UP:
            self._t0 = loop.time() - (self._ticks + _MAX_CATCH_UP - 1) * TICK
            due = _MAX_CATCH_UP
        for _ in range(max(1, due)):
            self._ticks += 1
            for stream in tuple(self._streams):
                if not stream.closed:
                    stream._play_tick()
        if self._streams:
            self._handle = loop.call_at(self._t0 + self._ticks * TICK, self._tick)
        else:
            self._handle = None


class RtpStream:
    """Use `await RtpStream.open(...)`; the constructor takes already-bound endpoints."""

    def __init__(
        self,
        lease: PortLease,
        params: MediaParams,
        *,
        jitter_delay_ms: int = 40,
        rtcp_interval: float = 5.0,
        cname: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._lease = lease
        self._rng = rng or random.Random()
        self._sender = RtpSender(rng=self._rng)
        self.cname = cname or f"telesip-{self._sender.ssrc:08x}@{lease.host}"
        self._jitter_delay = max(1, round(jitter_delay_ms / 20))
        self.rate = rate_of(params.codec)
        self._jitter = JitterBuffer(frame_samples=self.rate // TICKS_PER_SECOND,
                                    delay=self._jitter_delay)  # fmt: skip
        self._dtmf_rx = DtmfReceiver()
        self._rtcp_interval = rtcp_interval
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._rtp_ep = _Endpoint(self._on_rtp)
        self._rtcp_ep = _Endpoint(self._on_rtcp)
        self._on_pcm: PcmCallback | None = None
        self._on_dtmf: DigitCallback | None = None
        self._pending: Pcm | None = None
        self._last_sent_at: float | None = None
        self._digits: deque[tuple[str, int]] = deque()
        self._dtmf: DtmfSender | None = None
        self._digit_gap = 0
        self._rx: ReceptionStats | None = None
        self._remote_ssrc: int | None = None
        self._expected_ssrc: int | None = None  # the source a re-latch must come from
        self._latched = False
        self._rtcp_latched = False
        self._remote: Address | None = None
        self._rtcp_remote: Address | None = None
        self._counts = dict.fromkeys(
            ("invalid", "foreign", "relatches", "dtmf_sent", "dtmf_received"), 0
        ) | dict.fromkeys(("rtcp_sent", "rtcp_received", "received", "sent_at_report"), 0)
        self._last_received_at: float | None = None
        self._last_sr: tuple[int, float] | None = None  # (middle 32 bits of its NTP, arrival)
        self._rtt: float | None = None
        self._remote_fraction_lost: float | None = None
        self._clock: _PlayoutClock | None = None
        self._rtcp_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._srtp: SrtpTransform | None = None
        self._codec: AudioCodec | None = None
        self._apply(params)
        self.set_remote(params.remote_addr, params.remote_port, params.remote_rtcp_port)

    @classmethod
    async def open(
        cls,
        pool: PortPool,
        bind_host: str,
        negotiated: MediaParams,
        *,
        jitter_delay_ms: int = 40,
        rtcp_interval: float = 5.0,
        cname: str | None = None,
        rng: random.Random | None = None,
    ) -> RtpStream:
        """Bind a port pair from `pool` on `bind_host` and start the playout and RTCP clocks."""
        lease = pool.allocate(bind_host)
        try:
            stream = cls(
                lease,
                negotiated,
                jitter_delay_ms=jitter_delay_ms,
                rtcp_interval=rtcp_interval,
                cname=cname,
                rng=rng,
            )
            await stream._start()
        except BaseException:
            lease.release()
            raise
        return stream

    async def _start(self) -> None:
        loop = self._loop
        rtp, _ = await loop.create_datagram_endpoint(
            lambda: self._rtp_ep, sock=self._lease.rtp_socket
        )
        rtcp, _ = await loop.create_datagram_endpoint(
            lambda: self._rtcp_ep, sock=self._lease.rtcp_socket
        )
        self._rtp, self._rtcp = rtp, rtcp
        self._clock = _PlayoutClock.of(loop)
        self._clock.add(self)
        self._schedule_rtcp(initial=True)

    # -- configuration ---------------------------------------------------------------------

    def _apply(self, params: MediaParams) -> None:
        self.params = params
        self._pt = params.payload_type
        self._dtmf_pt = params.dtmf_payload_type
        if self._codec is None or self._codec.name != params.codec.upper():
            self._codec = open_codec(params.codec)  # a codec keeps its state while it stays
            if self._codec.rate != self.rate:  # another rate: the buffered audio is void
                self.rate = self._codec.rate
                self._pending = None
                self._jitter = JitterBuffer(frame_samples=self.rate // TICKS_PER_SECOND,
                                            delay=self._jitter_delay)  # fmt: skip
        self._encode = self._codec.encode
        self._decode = self._codec.decode
        self._tick_units = params.clock_rate // TICKS_PER_SECOND  # RTP clock units per tick
        self._samples_per_packet = params.ptime * self.rate // 1000
        keys = params.srtp
        if keys is None:
            self._srtp = None
        elif self._srtp is None or self._srtp.keys != keys:
            self._srtp = SrtpTransform(keys)  # new keys: new sessions (re-keying)

    @property
    def encrypted(self) -> bool:
        """Whether RTP and RTCP go through SRTP."""
        return self._srtp is not None

    def update(self, params: MediaParams) -> None:
        """New negotiation (re-INVITE): codec, payload types, ptime, remote address."""
        self._apply(params)
        if params.remote_addr is not None and params.remote_port is not None:
            current = self._remote
            if current is None or current != (params.remote_addr, params.remote_port):
                self.set_remote(params.remote_addr, params.remote_port, params.remote_rtcp_port)

    def set_remote(self, addr: str | None, port: int | None, rtcp_port: int | None = None) -> None:
        """Send to `addr:port` from now on; the next valid packet from elsewhere may re-latch."""
        if addr is None or port is None or addr in ("0.0.0.0", "::") or port == 0:
            self._remote = self._rtcp_remote = None  # no address yet (or on hold, RFC 3264)
        else:
            self._remote = (addr, port)
            self._rtcp_remote = (addr, rtcp_port or port + 1)
        self._latched = self._rtcp_latched = False
        self._expected_ssrc = None  # a new negotiation may bring a new source

    def on_pcm(self, callback: PcmCallback | None) -> None:
        """Receive one 20 ms int16 frame at `rate` (read-only) per tick; silence when nothing
        arrived."""
        self._on_pcm = callback

    def on_dtmf(self, callback: DigitCallback | None) -> None:
        """Receive each RFC 4733 digit once, when its first packet arrives."""
        self._on_dtmf = callback

    @property
    def local_port(self) -> int:
        return self._lease.rtp_port

    @property
    def local_host(self) -> str:
        return self._lease.host

    @property
    def closed(self) -> bool:
        return self._closed

    # -- receiving -------------------------------------------------------------------------

    def _on_rtp(self, data: bytes, addr: Any) -> None:
        try:
            if self._srtp is not None:
                data = self._srtp.unprotect(data)
            packet = RtpPacket.parse(data)
        except MalformedPacket:
            self._counts["invalid"] += 1
            return
        pt = packet.payload_type
        if pt != self._pt and (pt != self._dtmf_pt or pt is None):
            self._counts["invalid"] += 1  # comfort noise, a codec we did not agree, junk
            return
        remote = self._remote
        if remote is None or addr[0] != remote[0] or addr[1] != remote[1]:
            if self._latched or (
                self._expected_ssrc is not None and packet.ssrc != self._expected_ssrc
            ):
                self._counts["foreign"] += 1
                return
            self._remote = (addr[0], addr[1])
            if not self._rtcp_latched:
                self._rtcp_remote = (addr[0], addr[1] + 1)
            self._counts["relatches"] += 1
        self._latched = True
        ssrc = self._expected_ssrc = packet.ssrc
        if ssrc != self._remote_ssrc:  # a new source (first packet, or the peer switched)
            self._remote_ssrc = ssrc
            self._rx = ReceptionStats(ssrc, packet.sequence)
            self._jitter.reset()
        rx = self._rx
        assert rx is not None
        if not rx.update_seq(packet.sequence):
            return
        self._counts["received"] += 1
        now = self._loop.time()
        self._last_received_at = now
        if pt == self._pt:
            rx.update_jitter(packet.timestamp, int(now * self.params.clock_rate))
            self._jitter.put(packet.sequence, self._decode(packet.payload))
            return
        # A telephone event holds the place of its audio: silence in the timeline.
        self._jitter.put(packet.sequence, np.zeros(self._samples_per_packet, np.int16))
        try:
            digit = self._dtmf_rx.feed(packet.timestamp, packet.payload)
        except MalformedPacket:
            self._counts["invalid"] += 1
            return
        if digit is not None:
            self._counts["dtmf_received"] += 1
            if self._on_dtmf is not None:
                self._call(self._on_dtmf, digit)

    def _call(self, callback: Callable[[Any], None], value: object) -> None:
        try:
            callback(value)
        except Exception:
            log.exception("media callback failed")

    def _play_tick(self) -> None:
        """One 20 ms tick of the shared clock: a frame to the consumer, a DTMF packet out."""
        frame = self._jitter.pull()
        if self._on_pcm is not None:
            self._call(self._on_pcm, frame)
        if self._dtmf is not None or self._digits or self._digit_gap:
            self._dtmf_tick()

    # -- sending ---------------------------------------------------------------------------

    def send_pcm(self, frame: npt.NDArray[np.int16]) -> None:
        """Queue int16 samples at `rate`; every full packet (ptime) goes out at once."""
        if self._closed:
            return
        n = self._samples_per_packet
        pending = self._pending
        if pending is None and len(frame) == n:
            self._send_audio(frame)
            return
        samples = frame if pending is None else np.concatenate((pending, frame))
        start = 0
        while len(samples) - start >= n:
            self._send_audio(samples[start : start + n])
            start += n
        self._pending = samples[start:] if start < len(samples) else None

    def _send_audio(self, samples: npt.NDArray[np.int16]) -> None:
        sender = self._sender
        n = len(samples)
        if self._dtmf is not None:
            return  # the event replaces the audio; the tick runs the clock meanwhile
        now = self._loop.time()
        last = self._last_sent_at
        if last is not None and now - last > _PAUSE:
            skipped = round((now - last) * self.rate) - n
            sender.skip(self._units(max(0, skipped - skipped % n)))
        self._last_sent_at = now
        data = sender.audio(self._pt, self._encode(samples), self._units(n))
        self._send_rtp(data)

    def _units(self, samples: int) -> int:
        """RTP clock units of `samples` at `rate`."""
        return samples * self.params.clock_rate // self.rate

    def _send_rtp(self, data: bytes) -> None:
        if self._remote is None or self._rtp is None:
            return
        if self._srtp is not None:
            try:
                data = self._srtp.protect(data)
            except MalformedPacket:  # never sent in clear; never breaks the shared clock
                log.warning("SRTP refused an outgoing packet; dropped")
                return
        self._rtp.sendto(data, self._remote)

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Queue an RFC 4733 digit; digits go out one after another with a short gap."""
        if self._dtmf_pt is None:
            raise NoTelephoneEvent()
        if len(digit) != 1 or digit.upper() not in "0123456789*#ABCD":
            raise InvalidDigit(digit=digit)
        self._digits.append((digit.upper(), max(40, duration_ms) * self.params.clock_rate // 1000))

    def _dtmf_tick(self) -> None:
        sender = self._sender
        if self._dtmf is None:
            if self._digit_gap > 0:
                self._digit_gap -= 1
                return
            if not self._digits or self._dtmf_pt is None:
                return
            digit, duration = self._digits.popleft()
            step = self._tick_units
            self._dtmf = DtmfSender(digit, sender.timestamp, duration=duration, step=step)
            self._counts["dtmf_sent"] += 1
        dtmf = self._dtmf
        packet = dtmf.next_packet()
        sender.timestamp = (sender.timestamp + self._tick_units) & 0xFFFFFFFF
        if packet is not None and self._dtmf_pt is not None:
            data = sender.event(self._dtmf_pt, packet.timestamp, packet.payload, packet.marker)
            self._send_rtp(data)
        if dtmf.done:
            self._dtmf = None
            self._digit_gap = _DIGIT_GAP
            sender.talkspurt()
            self._last_sent_at = self._loop.time()

    # -- RTCP ------------------------------------------------------------------------------

    def _schedule_rtcp(self, initial: bool = False) -> None:
        interval = self._rtcp_interval * self._rng.uniform(0.5, 1.5)
        if initial:
            interval /= 2
        self._rtcp_handle = self._loop.call_later(interval, self._send_report)

    def _report(self) -> list[RtcpPacket]:
        sender = self._sender
        blocks: tuple[ReportBlock, ...] = ()
        if self._rx is not None:
            lsr = dlsr = 0
            if self._last_sr is not None:
                lsr = self._last_sr[0]
                dlsr = int((self._loop.time() - self._last_sr[1]) * 65536)
            blocks = (self._rx.report_block(lsr=lsr, dlsr=dlsr),)
        packets: list[RtcpPacket] = []
        if sender.packets_sent > self._counts["sent_at_report"]:
            self._counts["sent_at_report"] = sender.packets_sent
            packets.append(
                SenderReport(
                    sender.ssrc,
                    ntp_timestamp(time.time()),
                    sender.timestamp,
                    sender.packets_sent,
                    sender.octets_sent,
                    blocks,
                )
            )
        else:
            packets.append(ReceiverReport(sender.ssrc, blocks))
        packets.append(SourceDescription(((sender.ssrc, self.cname),)))
        return packets

    def _send_rtcp(self, packets: list[RtcpPacket]) -> None:
        if self._rtcp is None or self._rtcp_remote is None:
            return
        data = build_rtcp(*packets)
        if self._srtp is not None:
            try:
                data = self._srtp.protect_rtcp(data)
            except MalformedPacket:
                log.warning("SRTCP refused an outgoing report; dropped")
                return
        self._rtcp.sendto(data, self._rtcp_remote)
        self._counts["rtcp_sent"] += 1

    def _send_report(self) -> None:
        if self._closed:
            return
        self._send_rtcp(self._report())
        self._schedule_rtcp()

    def _on_rtcp(self, data: bytes, addr: Any) -> None:
        try:
            if self._srtp is not None:
                data = self._srtp.unprotect_rtcp(data)
            packets = parse_rtcp(data)
        except MalformedPacket:
            self._counts["invalid"] += 1
            return
        first = packets[0]
        assert isinstance(first, SenderReport | ReceiverReport)
        if self._remote_ssrc is not None and first.ssrc != self._remote_ssrc:
            self._counts["foreign"] += 1
            return
        self._counts["rtcp_received"] += 1
        remote = self._rtcp_remote
        moved = remote is None or addr[0] != remote[0] or addr[1] != remote[1]
        if moved and not self._rtcp_latched:
            self._rtcp_remote = (addr[0], addr[1])
        self._rtcp_latched = True
        now = self._loop.time()
        for packet in packets:
            if isinstance(packet, SenderReport):
                self._last_sr = ((packet.ntp_timestamp >> 16) & 0xFFFFFFFF, now)
            if isinstance(packet, SenderReport | ReceiverReport):
                for block in packet.reports:
                    if block.ssrc != self._sender.ssrc:
                        continue
                    self._remote_fraction_lost = block.fraction_lost / 256
                    if block.lsr:
                        middle = (ntp_timestamp(time.time()) >> 16) & 0xFFFFFFFF
                        rtt = ((middle - block.lsr - block.dlsr) & 0xFFFFFFFF) / 65536
                        if rtt < 60:
                            self._rtt = rtt

    # -- state -----------------------------------------------------------------------------

    @property
    def stats(self) -> StreamStats:
        c = self._counts
        jb = self._jitter
        rx = self._rx
        return StreamStats(
            local_port=self._lease.rtp_port,
            remote=self._remote,
            latched=self._latched,
            relatches=c["relatches"],
            packets_sent=self._sender.packets_sent,
            octets_sent=self._sender.octets_sent,
            packets_received=c["received"],
            lost=jb.lost,
            late=jb.late,
            duplicates=jb.duplicates,
            concealed=jb.concealed,
            invalid=c["invalid"],
            foreign=c["foreign"],
            jitter_ms=(rx.jitter * 1000 / self.params.clock_rate) if rx is not None else 0.0,
            remote_ssrc=self._remote_ssrc,
            rtt_ms=None if self._rtt is None else self._rtt * 1000,
            remote_fraction_lost=self._remote_fraction_lost,
            dtmf_sent=c["dtmf_sent"],
            dtmf_received=c["dtmf_received"],
            rtcp_sent=c["rtcp_sent"],
            rtcp_received=c["rtcp_received"],
            last_received_at=self._last_received_at,
        )

    @property
    def ssrc(self) -> int:
        return self._sender.ssrc

    async def close(self, reason: str | None = None) -> None:
        """Send an RTCP BYE, close both sockets and give the ports back. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._clock is not None:
            self._clock.remove(self)
        if self._rtcp_handle is not None:
            self._rtcp_handle.cancel()
        with contextlib.suppress(OSError):
            self._send_rtcp([*self._report(), Bye((self._sender.ssrc,), reason)])
        for transport in (self._rtp, self._rtcp):
            if transport is not None:
                transport.close()
        waits = [
            endpoint.closed
            for endpoint, transport in ((self._rtp_ep, self._rtp), (self._rtcp_ep, self._rtcp))
            if transport is not None
        ]
        if waits:
            await asyncio.wait(waits, timeout=1.0)
        self._lease.release()

    async def __aenter__(self) -> RtpStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
