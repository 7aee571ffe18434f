"""One bridged call: a SIP leg (a sans-I/O call machine plus an RTP stream) and a Telegram leg
(a caller account's private call), joined frame by frame.

`InboundBridge` runs a call that reached a line (INVITE -> 180 -> the Telegram call rings the
line's user -> 200 when their media connects); `OutboundBridge` a call the user dialled (the
Telegram call first, then the INVITE through the line). Both end through `_finish`, which runs
once whatever ends the call (either side hanging up, a timeout, an error): both legs end, the
ports and the caller account are freed, the history row is closed and the person is told.
A bridge reaches the worker's calls through `CallHost` only (the manager provides it).
While the person holds the call (the keypad's Hold: re-INVITE sendonly) the SIP side gets
silence in place of their voice, and whatever the far side still sends (music on hold) goes
on to Telegram; Resume re-INVITEs sendrecv.

A call's audio runs at its SIP codec's rate end to end (`Bridge.rate`): 8 kHz for G.711,
16 kHz for G.722, 48 kHz for Opus, which is the rate the Telegram leg is opened at and the
recording is written at, so a wideband codec's band reaches Telegram and ntgcalls resamples
once. An incoming call knows its codec before it rings the person; an outgoing call opens its
leg at the line's first codec's rate, and only when the far phone answers with a codec of
another rate (or a re-INVITE changes it) does the bridge resample between the two
(`media.resample`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from telesip.calls.telegram.adapter import TelegramCalls
from telesip.calls.telegram.errors import CallPrivacyRestricted, NoFreeCaller, TelegramError
from telesip.calls.telegram.leg import LegState, TelegramLeg
from telesip.calls.telegram.pool import CallerPool
from telesip.domain.calls import CallRecord, EndReason
from telesip.logs import bind_log_context
from telesip.media import CallRecorder, MediaParams
from telesip.media.codecs import available, rate_of
from telesip.media.errors import MediaError
from telesip.media.resample import Resampler
from telesip.media.srtp import SrtpKeys
from telesip.media.tone import Ringback, dtmf
from telesip.sip import Request, SessionDescription
from telesip.sip.call import (
    Answered,
    CallEvent,
    CallParams,
    Cancelled,
    Ended,
    Failed,
    IncomingCall,
    Info,
    MediaChanged,
    OutgoingCall,
    Progress,
    ReinviteFailed,
)
from telesip.sip.errors import StateError
from telesip.sip.negotiation import Negotiated, NoCommonCodec, accept_answer, answer, make_offer
from telesip.sip.sdp import SdpError
from telesip.workers.lines import AccountConfig, split_host_port
from telesip.workers.transport import Addr, Target

from .rtp_ports import PortPool
from .rtp_stream import RtpStream
from .store import CallStore

log = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]

# what the Telegram leg's end means for an incoming SIP call that was not answered yet
_LEG_TO_SIP: dict[str, tuple[int, EndReason, str | None]] = {
    "declined": (603, EndReason.DECLINED, None),
    "busy": (486, EndReason.BUSY, "call.missed_busy"),
    "no-answer": (480, EndReason.MISSED, "call.missed"),
}


def runnable(codecs: tuple[str, ...]) -> tuple[str, ...]:
    """The line's codecs this process can run, in the line's order (G.722 and Opus need the
    `codecs` extra); G.711 when none of its audio codecs is left."""
    can = available()
    kept = tuple(c for c in codecs if c.lower() == "telephone-event" or c.upper() in can)
    if any(c.upper() in can for c in kept):
        return kept
    log.warning("none of the line's codecs %s can run here: offering G.711", codecs)
    return ("PCMA", "PCMU", *kept)


def media_params(neg: Negotiated) -> MediaParams:
    hold = neg.direction in ("recvonly", "inactive")
    srtp = neg.srtp
    keys = None
    if srtp is not None:
        keys = SrtpKeys(srtp.suite, srtp.local_key.reveal(), srtp.remote_key.reveal())
    return MediaParams(
        neg.codec,
        neg.payload_type,
        None if hold else neg.remote_addr,
        None if hold else neg.remote_port,
        dtmf_payload_type=neg.dtmf_pt,
        ptime=neg.ptime,
        clock_rate=neg.clock_rate,
        srtp=keys,
    )


def hop(uri: str | None, transport: str) -> Target | None:
    """Where an in-dialog request goes: the next hop's address when it is an IP literal."""
    if not uri:
        return None
    try:
        host, port = split_host_port(uri)
    except ValueError:
        return None
    host = host.strip("[]")
    parts = [p.split("=", 1) for p in uri.split(";")[1:]]
    params = {p[0].lower(): (p[1] if len(p) > 1 else "") for p in parts}
    t = params.get("transport", transport).upper()
    try:
        import ipaddress

        ipaddress.ip_address(host)
    except ValueError:
        return None
    return Target(host, port or (5061 if t == "TLS" else 5060), t)


class CallHost(Protocol):
    """What a bridge needs from the worker's calls (``manager.CallManager`` provides it): their
    settings, ports and caller accounts, SIP out through the line's flow, and the index of
    which bridge a SIP Call-ID belongs to. Bridges know this protocol, not the manager, so the
    manager imports the bridges and nothing here imports the manager."""

    store: CallStore | None  # set before the manager hands a call to a bridge
    callers: CallerPool
    ports: PortPool
    media_bind: str
    recordings: Path | None
    ring_timeout: float
    media_timeout: float
    user_agent: str

    def adopt(self, call_id: str, bridge: Bridge) -> None:
        """Messages with this SIP Call-ID go to ``bridge`` from now on."""

    def forget(self, bridge: Bridge) -> None:
        """The bridge is done: no message reaches it any more."""

    def stream_ended(self, stream: RtpStream) -> None:
        """Count a closed stream's losses in the worker's figures."""

    def route(self, account_id: int) -> tuple[Target, Addr] | None:
        """Where the line's requests go, and our address on that flow (None: not registered)."""

    def send_to(self, target: Target, data: bytes) -> None: ...

    def local_for(self, account_id: int, src: Addr) -> Addr:
        """Our address for a call's Contact."""

    def sdp_host(self, peer: Addr) -> str:
        """The address we put in SDP for this peer."""


class Bridge:
    """What both directions share: the machine pump, the media joint, the single ending."""

    machine: IncomingCall | OutgoingCall | None

    def __init__(self, mgr: CallHost, cfg: AccountConfig) -> None:
        assert mgr.store is not None  # the manager takes calls only once it has a store
        self.mgr = mgr
        self.store: CallStore = mgr.store
        self.cfg = cfg
        self.codecs = runnable(cfg.codecs)
        self.loop = asyncio.get_running_loop()
        self.record: CallRecord | None = None
        self.machine = None
        self.stream: RtpStream | None = None
        self.leg: TelegramLeg | None = None
        self.caller: TelegramCalls | None = None
        self.bridged = False
        self.direction = "sendrecv"  # ours, from the last negotiation
        self.leg_placed = False
        self.sip_answered = False
        self.ended = False
        self._timer: asyncio.TimerHandle | None = None
        self._ringback: Ringback | None = None
        self._keys: Pcm | None = None  # in-band DTMF still to play toward the SIP side
        self.holding = False  # the person put the far party on hold (from the keypad)
        self._hold_asked: bool | None = None  # a hold/resume re-INVITE still unanswered
        self.recorder: CallRecorder | None = None
        self._resamplers: dict[str, Resampler] = {}  # only where the two sides' rates differ
        self.released = asyncio.Event()  # set once both legs, ports and the row are done
        self._tasks: set[asyncio.Task[None]] = set()

    # -- plumbing ---------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` for this call; an error in it ends this call only."""

        async def guarded() -> None:
            record = self.record.id if self.record is not None else None
            bind_log_context(account_id=self.cfg.account_id, call_id=record)
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("call %s: %s failed", self.label, name)
                await self.finish(EndReason.FAILED, status=500)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def label(self) -> str:
        return f"#{self.record.id}" if self.record else f"line {self.cfg.account_id}"

    def now(self) -> float:
        return self.loop.time()

    def receive(self, msg: Any, reply: Callable[[bytes], None] | None = None) -> None:
        machine = self.machine
        if machine is None:
            return
        if reply is not None and isinstance(msg, Request):
            self.reply = reply  # the flow requests arrive on (NAT, TCP)
        machine.receive(msg, self.now())
        self.pump()

    def pump(self) -> None:
        """Events first (they may make the machine say more), then bytes, then the timer."""
        machine = self.machine
        if machine is None:
            return
        while (event := machine.next_event()) is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("call %s: handling %r failed", self.label, event)
                self.spawn(self.finish(EndReason.FAILED, status=500), "finish")
        for data in machine.data_to_send():
            self.send(data)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = machine.get_timer()
        if when is not None:
            self._timer = self.loop.call_at(when, self._on_timer)
        elif machine.done and self.ended:
            self.mgr.forget(self)

    def _on_timer(self) -> None:
        self._timer = None
        if self.machine is not None:
            self.machine.handle_timer(self.now())
            self.pump()

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def on_event(self, event: CallEvent) -> None:
        raise NotImplementedError

    # -- media ------------------------------------------------------------------------------
    async def open_stream(self, params: MediaParams) -> RtpStream:
        self.stream = await RtpStream.open(self.mgr.ports, self.mgr.media_bind, params)
        self.stream.on_pcm(self._from_sip)
        self.stream.on_dtmf(self._dtmf_from_sip)
        return self.stream

    @property
    def rate(self) -> int:
        """The call's audio rate on our side: the Telegram leg's (and the recording's); before
        the leg, the SIP stream's, or the rate of the line's first codec."""
        if self.leg is not None:
            return self.leg.sample_rate
        if self.stream is not None:
            return self.stream.rate
        return rate_of(next((c for c in self.codecs if c.lower() != "telephone-event"), "PCMA"))

    def _at(self, frame: Pcm, src: int, dst: int, side: str) -> Pcm:
        """``frame`` at ``src`` Hz as ``dst`` Hz: itself when the rates agree (nearly always)."""
        if src == dst:
            return frame
        resampler = self._resamplers.get(side)
        if resampler is None or (resampler.src, resampler.dst) != (src, dst):
            resampler = self._resamplers[side] = Resampler(src, dst)
        return resampler.convert(frame)

    def _from_sip(self, frame: Pcm) -> None:
        leg, stream = self.leg, self.stream
        if leg is None or stream is None:
            return
        if self._ringback is not None:
            leg.send_pcm(self._ringback.frame())
        elif self.bridged:
            frame = self._at(frame, stream.rate, leg.sample_rate, "sip")
            leg.send_pcm(frame)
            if self.recorder is not None:
                self.recorder.add("sip", frame, self.loop.time())

    def _from_telegram(self, frame: Pcm) -> None:
        leg, stream = self.leg, self.stream
        if self.bridged and stream is not None and leg is not None:
            if self.holding:  # the held party must not hear the person
                frame = np.zeros_like(frame)
            elif self._keys is not None:  # in-band keys play instead of the person's voice
                frame = self._key_audio(frame.size)
            stream.send_pcm(self._at(frame, leg.sample_rate, stream.rate, "telegram"))
            if self.recorder is not None:
                self.recorder.add("telegram", frame, self.loop.time())

    def _dtmf_from_sip(self, digit: str) -> None:
        log.debug("call %s: DTMF %s from the SIP side", self.label, digit)

    def ring_back(self, on: bool) -> None:
        rate = self.rate
        self._ringback = Ringback(rate=rate, frame_samples=rate // 50) if on else None

    def join(self) -> None:
        """Audio flows both ways from now on; a SIP peer that stops sending for longer than the
        media timeout (gone without a BYE) ends the call."""
        self._ringback = None
        if not self.bridged:
            self.bridged = True
            self.spawn(self._watch_media(), "media watchdog")
            self._start_recording()

    def _start_recording(self) -> None:
        """The line records its calls: both directions mixed into DATA_DIR/recordings."""
        folder = self.mgr.recordings
        if not self.cfg.record or folder is None or self.record is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.recorder = CallRecorder(folder / f"call-{self.record.id}.wav", rate=self.rate)
        except OSError as exc:  # a full disk must not break the call
            log.warning("call %s: cannot record: %s", self.label, exc)

    async def _watch_media(self) -> None:
        timeout = self.mgr.media_timeout
        since = self.now()
        while not self.ended:
            await asyncio.sleep(min(1.0, timeout / 4))  # a periodic check, not a race guard
            stream = self.stream
            if stream is None or self.ended:
                return
            last = stream.stats.last_received_at
            if not self.receiving:
                since = self.now()  # on hold: silence is expected
            elif self.now() - max(last or since, since) > timeout:
                log.warning("call %s: no RTP for %.0f s; the peer is gone", self.label, timeout)
                await self.finish(EndReason.FAILED, tell="call.ended")
                return

    @property
    def receiving(self) -> bool:
        """Whether the SIP peer is meant to send us audio now (not on hold)."""
        return self.direction in ("sendrecv", "recvonly")

    def media_changed(self, neg: Negotiated) -> None:
        self.direction = neg.direction
        self._hold_asked = None
        if self.stream is not None:
            self.stream.update(media_params(neg))

    def _key_audio(self, size: int) -> Pcm:
        keys = self._keys
        assert keys is not None
        out, rest = keys[:size], keys[size:]
        self._keys = rest if rest.size else None
        if out.size < size:
            out = np.concatenate((out, np.zeros(size - out.size, np.int16)))
        return out

    def send_digit(self, digit: str) -> None:
        if self.machine is None or not self.sip_answered:
            return
        stream = self.stream
        if self.cfg.dtmf_mode == "inband" and stream is not None:
            key = dtmf(digit, rate=self.rate)  # queued after any key still playing
            self._keys = key if self._keys is None else np.concatenate((self._keys, key))
            return
        if self.cfg.dtmf_mode != "info" and stream is not None:
            with contextlib.suppress(MediaError):
                stream.send_dtmf(digit)
                return
        self.machine.send_info(digit, self.now())  # the account asks for INFO, or no 4733
        self.pump()

    def hold(self, on: bool) -> None:
        """The keypad's Hold (``on``) or Resume: re-INVITE sendonly or sendrecv. A press while
        a re-INVITE is still out, or that changes nothing, is dropped (the person presses
        again); a refused re-INVITE (`ReinviteFailed`) leaves the call as it was."""
        machine = self.machine
        if machine is None or not self.sip_answered or self.ended or on == self.holding:
            return
        try:
            if on:
                machine.hold(self.now())
            else:
                machine.resume(self.now())
        except StateError as exc:
            log.info("call %s: %s not sent: %s", self.label, "hold" if on else "resume", exc)
            return
        self.holding = self._hold_asked = on
        self.pump()

    def hold_refused(self, event: ReinviteFailed) -> None:
        log.info("call %s: re-INVITE refused: %s %s", self.label, event.status, event.reason)
        if self._hold_asked is not None:  # (not a session refresh's)
            if self._hold_asked and self.record is not None:
                self.spawn(self._tell_hold_refused(self.record), "hold refused")
            self.holding = not self._hold_asked
            self._hold_asked = None

    async def _tell_hold_refused(self, record: CallRecord) -> None:
        try:
            await self.store.tell(record, "call.hold_refused")
        except Exception:  # a notice lost must not end a call that goes on
            log.exception("call %s: telling the refused hold failed", self.label)

    # -- the Telegram leg --------------------------------------------------------------------
    async def call_person(self, user_id: int) -> bool:
        """Ring the person in Telegram from a free caller account; False when it cannot."""
        record = self.record
        assert record is not None
        try:
            self.caller = self.mgr.callers.acquire(user_id)
        except NoFreeCaller as exc:
            log.warning("call %s: %s", self.label, exc.message)
            await self.refuse(480, EndReason.UNAVAILABLE, "call.unavailable")
            return False
        name = self.caller.me.name
        log.info("call %s: %s calls Telegram user %s", self.label, name, user_id)
        self.leg = TelegramLeg(
            self.caller,
            ring_timeout=self.mgr.ring_timeout,
            sample_rate=self.rate,
            on_state=self._leg_state,
        )
        self.leg.on_pcm(self._from_telegram)
        await self.announce(name)
        try:
            await self.leg.start(user_id)
        except CallPrivacyRestricted:
            await self.refuse(480, EndReason.PRIVACY, "call.privacy", caller=name)
            return False
        except TelegramError as exc:
            log.warning("call %s: Telegram refused the call: %s", self.label, exc.message)
            await self.refuse(480, EndReason.UNAVAILABLE, "call.unavailable")
            return False
        self.leg_placed = True
        if self.leg.state == "ended":  # it ended before we listened: end the call now
            self._leg_state("ended")
        return True

    async def announce(self, caller: str) -> None:
        raise NotImplementedError

    async def refuse(self, status: int, reason: EndReason, tell: str | None, **extra: Any) -> None:
        raise NotImplementedError

    def _leg_state(self, state: LegState) -> None:
        if self.ended or not self.leg_placed:  # a failing start is handled where it is raised
            return
        if state == "connected":
            self.spawn(self.on_connected(), "connected")
        elif state == "ended":
            self.spawn(self.on_leg_ended(), "leg ended")

    async def on_connected(self) -> None:
        raise NotImplementedError

    async def on_leg_ended(self) -> None:
        raise NotImplementedError

    async def answered(self) -> None:
        """Both legs are up: history, and the keypad for the person."""
        assert self.record is not None
        caller = self.caller.me.name if self.caller else None
        await self.store.mark_answered(self.record.id, caller)
        await self.store.show_keypad(self.record)

    # -- the end ----------------------------------------------------------------------------
    async def finish(
        self,
        reason: EndReason,
        *,
        status: int | None = None,
        tell: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """End the call once: SIP leg, Telegram leg, media, caller account, history row."""
        if self.ended:
            return
        log.info("call %s: ending (%s, SIP status %s)", self.label, reason.value, status)
        self.ended = True
        self.bridged = False
        self._ringback = None
        machine = self.machine
        try:
            if machine is not None and not machine.done:
                try:
                    self.end_sip(status)
                except StateError:
                    log.debug("call %s: the SIP leg had ended by itself", self.label)
                self.pump()
            await self._release(reason, status, tell, extra)
        finally:
            self.released.set()  # the call no longer counts against the limit
            if machine is None or machine.done:
                self.mgr.forget(self)

    async def _release(
        self,
        reason: EndReason,
        status: int | None,
        tell: str | None,
        extra: dict[str, Any] | None,
    ) -> None:
        leg, self.leg = self.leg, None
        if leg is not None and leg.state != "ended":
            with contextlib.suppress(Exception):
                await leg.hangup()
        if self.caller is not None:
            self.mgr.callers.release(self.caller)
            self.caller = None
        stream, self.stream = self.stream, None
        if stream is not None:
            self.mgr.stream_ended(stream)
            await stream.close()
        recording = self._stop_recording()
        if self.record is None:
            return
        ended = await self.store.mark_ended(
            self.record.id, reason, sip_status=status, tell=tell, recording=recording
        )
        if ended is not None and extra:
            await self.store.tell(ended, "call.ended", **extra)

    def _stop_recording(self) -> str | None:
        """Close the recording; its file name, or None when there is nothing worth keeping."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        try:
            seconds = recorder.close()
        except OSError as exc:
            log.warning("call %s: the recording failed: %s", self.label, exc)
            return None
        if seconds < 0.5:
            recorder.path.unlink(missing_ok=True)
            return None
        return recorder.path.name

    def end_sip(self, status: int | None) -> None:
        raise NotImplementedError


class InboundBridge(Bridge):
    """A call to a line: it rings the line's user in Telegram."""

    machine: IncomingCall

    def __init__(
        self,
        mgr: CallHost,
        cfg: AccountConfig,
        invite: Request,
        src: Addr,
        transport: str,
        reply: Callable[[bytes], None],
    ) -> None:
        super().__init__(mgr, cfg)
        self.reply = reply
        self.src = src
        self.transport = transport
        self.number = _caller_number(invite)
        self.machine = IncomingCall(
            invite,
            local_addr=mgr.local_for(cfg.account_id, src),
            tag=f"{random.getrandbits(48):012x}",
            now=self.now(),
            codecs=self.codecs,
            contact_user=cfg.login,
            user_agent=mgr.user_agent,
            media_encryption=cfg.media_encryption,
        )
        self.answer_sdp: bytes | None = None
        self.offer: SessionDescription | None = None

    def send(self, data: bytes) -> None:
        if data.startswith(b"SIP/2.0"):
            self.reply(data)
            return
        target = hop(self.machine.next_hop, self.transport)
        if target is not None and target.transport == "UDP":
            self.mgr.send_to(target, data)
        else:
            self.reply(data)

    async def start(self, *, over_limit: bool) -> None:
        """Record the call, negotiate the media, ring the person."""
        self.record = await self.store.start_incoming(self.cfg.account_id, self.number)
        if over_limit:
            await self.refuse(503, EndReason.LIMIT, "call.limit")
            return
        if self.record.end_reason is not None:  # disabled line, or the person is in a call
            self.ended = True
            self.released.set()  # its row was closed as it was written; nothing else is held
            self.machine.reject(
                486 if self.record.end_reason is EndReason.BUSY else 480, self.now()
            )
            self.pump()
            return
        try:
            await self._media()
        except NoCommonCodec:
            await self.refuse(488, EndReason.FAILED, None)
            return
        self.machine.ringing(self.now())
        self.pump()
        await self.call_person(self.record.user_id)

    async def _media(self) -> None:
        host = self.mgr.sdp_host(self.src)
        body = self.machine.offer
        sid = random.getrandbits(31)
        encryption = self.cfg.media_encryption
        if body:
            self.offer = SessionDescription.parse(body)
            # refuses (488) before taking ports: no codec in common, or SRTP the line requires
            _, neg = answer(self.offer, host, 9, self.codecs, encryption=encryption)
            self.direction = neg.direction
            stream = await self.open_stream(media_params(neg))
            sdp, neg = answer(self.offer, host, stream.local_port, self.codecs,
                              session_id=sid, encryption=encryption)  # fmt: skip
            stream.update(media_params(neg))  # the keys of the answer we send
        else:  # a late offer: ours goes in the 200, theirs comes in the ACK
            codec = next((c for c in self.codecs if c in ("PCMA", "PCMU")), "PCMA")
            stream = await self.open_stream(MediaParams(codec, 8 if codec == "PCMA" else 0))
            sdp = make_offer(host, stream.local_port, self.codecs, session_id=sid,
                             encryption=encryption)  # fmt: skip
            self.offer = sdp
        self.answer_sdp = sdp.to_bytes()

    async def announce(self, caller: str) -> None:
        assert self.record is not None
        await self.store.tell(self.record, "call.incoming", caller=caller)

    async def refuse(self, status: int, reason: EndReason, tell: str | None, **extra: Any) -> None:
        if tell is not None and extra and self.record is not None:
            await self.store.tell(self.record, tell, **extra)
            tell = None
        await self.finish(reason, status=status, tell=tell)

    def end_sip(self, status: int | None) -> None:
        if self.sip_answered:
            self.machine.hangup(self.now())
        elif status is not None:
            self.machine.reject(status, self.now())
        else:
            self.machine.hangup(self.now())

    async def on_connected(self) -> None:
        if self.ended or self.answer_sdp is None:
            return
        self.machine.answer(self.answer_sdp, self.now())
        self.sip_answered = True
        self.join()
        self.pump()
        await self.answered()

    async def on_leg_ended(self) -> None:
        leg = self.leg
        reason = leg.end_reason if leg is not None else None
        if self.sip_answered:
            await self.finish(EndReason.COMPLETED)
            return
        status, why, tell = _LEG_TO_SIP.get(reason or "", (480, EndReason.FAILED, None))
        await self.finish(why, status=status, tell=tell)

    def on_event(self, event: CallEvent) -> None:
        if isinstance(event, Cancelled):
            self.spawn(self.finish(EndReason.CANCELLED, tell="call.missed"), "cancelled")
        elif isinstance(event, Ended):
            why = EndReason.COMPLETED if event.reason != "no-ack" else EndReason.FAILED
            self.spawn(self.finish(why), "ended")
        elif isinstance(event, Failed):
            self.spawn(self.finish(EndReason.FAILED, status=event.status), "failed")
        elif isinstance(event, Answered) and event.sdp and self.stream is not None:
            assert self.offer is not None
            self.stream.update(
                media_params(accept_answer(self.offer, SessionDescription.parse(event.sdp)))
            )
        elif isinstance(event, MediaChanged):
            self.media_changed(event.negotiated)
        elif isinstance(event, ReinviteFailed):
            self.hold_refused(event)
        elif isinstance(event, Info):
            self._dtmf_from_sip(event.digit)


class OutboundBridge(Bridge):
    """A call the person dialled: Telegram first, then the INVITE through the line."""

    machine: OutgoingCall | None

    def __init__(self, mgr: CallHost, cfg: AccountConfig, record: CallRecord) -> None:
        super().__init__(mgr, cfg)
        self.record = record
        self.target: Target | None = None
        self.offer: SessionDescription | None = None

    def send(self, data: bytes) -> None:
        if self.target is None or self.machine is None:
            return
        dest = hop(self.machine.next_hop, self.target.transport) if self.sip_answered else None
        self.mgr.send_to(dest or self.target, data)

    async def start(self) -> None:
        assert self.record is not None
        await self.call_person(self.record.user_id)

    async def announce(self, caller: str) -> None:
        assert self.record is not None
        await self.store.tell(self.record, "call.calling_you", caller=caller)

    async def refuse(self, status: int, reason: EndReason, tell: str | None, **extra: Any) -> None:
        if tell is not None and extra and self.record is not None:
            await self.store.tell(self.record, tell, **extra)
            tell = None
        await self.finish(reason, tell=tell)

    async def on_connected(self) -> None:
        """The person answered their Telegram call: dial the number through the line."""
        if self.ended:
            return
        assert self.record is not None
        route = self.mgr.route(self.cfg.account_id)
        if route is None:  # the line is not registered here (any more)
            await self.finish(EndReason.UNAVAILABLE, tell="call.unavailable")
            return
        self.target, local = route
        host = self.mgr.sdp_host((self.target.host, self.target.port))
        codec = next((c for c in self.codecs if c in ("PCMA", "PCMU")), "PCMA")
        stream = await self.open_stream(MediaParams(codec, 8 if codec == "PCMA" else 0))
        self.offer = make_offer(
            host,
            stream.local_port,
            self.codecs,
            session_id=random.getrandbits(31),
            encryption=self.cfg.media_encryption,
        )
        cfg = self.cfg
        self.machine = OutgoingCall(
            CallParams(
                cfg.login,
                cfg.domain,
                cfg.password,
                auth_username=cfg.auth_username,
                display_name=cfg.display_name,
                transport=self.target.transport,
                user_agent=self.mgr.user_agent,
            ),
            f"sip:{self.record.number}@{cfg.domain}",
            self.offer.to_bytes(),
            local_addr=local,
            now=self.now(),
            codecs=self.codecs,
            media_encryption=cfg.media_encryption,
        )
        self.mgr.adopt(self.machine.call_id, self)
        self.ring_back(True)
        self.pump()

    def _media_from(self, sdp: bytes | None) -> bool:
        """Take the media of the far end's SDP; False when it is unusable (no codec of ours,
        or no SRTP where our offer required it)."""
        if sdp and self.offer is not None:
            try:
                neg = accept_answer(self.offer, SessionDescription.parse(sdp))
            except (NoCommonCodec, SdpError) as exc:
                log.warning("call %s: unusable SDP from the far end: %s", self.label, exc)
                return False
            self.media_changed(neg)
        return True

    def on_event(self, event: CallEvent) -> None:
        if isinstance(event, Progress):
            if event.sdp and self._media_from(event.sdp):  # early media: ringback, announcements
                self.join()
        elif isinstance(event, Answered):
            self.sip_answered = True
            if not self._media_from(event.sdp):  # e.g. in clear where the line requires SRTP
                self.spawn(self.finish(EndReason.FAILED, tell="call.failed"), "unusable answer")
                return
            self.join()
            self.spawn(self.answered(), "answered")
        elif isinstance(event, Failed):
            busy = event.status in (486, 600)
            tell: str | None = "call.far_busy" if busy else "call.failed"
            if event.status in (408, 480):
                tell = "call.not_answered"
            why = EndReason.BUSY if busy else EndReason.FAILED
            if event.status == 487:
                why, tell = EndReason.CANCELLED, None
            self.spawn(self.finish(why, status=event.status, tell=tell), "failed")
        elif isinstance(event, Ended | Cancelled):
            self.spawn(self._ended_by_sip(), "ended")
        elif isinstance(event, MediaChanged):
            self.media_changed(event.negotiated)
        elif isinstance(event, ReinviteFailed):
            self.hold_refused(event)

    async def _ended_by_sip(self) -> None:
        await self.finish(EndReason.COMPLETED if self.sip_answered else EndReason.CANCELLED)

    async def on_leg_ended(self) -> None:
        leg = self.leg
        if self.machine is None:  # they did not take their own call
            reason = leg.end_reason if leg is not None else None
            why = EndReason.MISSED if reason in ("no-answer", None) else EndReason.CANCELLED
            await self.finish(why)
            return
        await self.finish(EndReason.COMPLETED if self.sip_answered else EndReason.CANCELLED)

    def end_sip(self, status: int | None) -> None:
        if self.machine is None:
            return
        if self.sip_answered:
            self.machine.hangup(self.now())
        else:
            self.machine.cancel(self.now())


def _caller_number(invite: Request) -> str:
    """Who is calling, as a person reads it: the From URI's user part (or host)."""
    value = invite.headers.get("P-Asserted-Identity") or invite.headers.get("From") or ""
    uri = value.split("<", 1)[1].split(">", 1)[0] if "<" in value else value.split(";", 1)[0]
    uri = uri.strip()
    for scheme in ("sip:", "sips:", "tel:"):
        if uri.lower().startswith(scheme):
            uri = uri[len(scheme) :]
    user = uri.split("@", 1)[0] if "@" in uri else uri
    user = user.split(";", 1)[0]
    return "".join(c for c in user if c.isprintable())[:64] or "unknown"
