"""SRTP end to end (in a namespace): a far phone offering RTP/SAVP with an SDES key calls a line
registered over TLS (whose default is optional SRTP) that records its calls; a person dials
out through a line that requires SRTP (our offer is RTP/SAVP only); a line that requires SRTP
refuses a call in clear with 488.

The far phone is SIPp for the signalling and, for the media, a raw socket pair of the test's
with libsrtp sessions of its own (not telesip's code): it sends a 1 kHz tone protected with its
key and keeps every datagram telesip sends it. Those datagrams must not carry the G.711 of the
person's 440 Hz tone, yet decrypted with the key of telesip's answer they are that tone; the
1 kHz tone reaches the person in Telegram, decrypted by telesip. SRTCP arrives too.
"""

from __future__ import annotations

import asyncio
import base64
import wave
from dataclasses import dataclass
from typing import Any

import numpy as np

from telesip.calls.rtp_ports import PortLease, PortPool
from telesip.domain.calls import EndReason
from telesip.domain.settings import AccountSettings, Secret
from telesip.media import (
    DtmfReceiver,
    RtpPacket,
    RtpSender,
    alaw_decode,
    alaw_encode,
    dominant_frequency,
)
from telesip.media.srtp import SrtpKeys, SrtpTransform
from telesip.services import accounts, calls
from telesip.sip import SessionDescription
from tests.calls.conftest import ALICE_TG, Rig
from tests.calls.sipp import far_answers, far_calls, run_sipp
from tests.calls.test_outgoing import _ended
from tests.calls.test_recording_e2e import _level_at
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI
from tests.fakes.telegram_calls import Behaviour, play_tone
from tests.sip_integration.conftest import eventually, free_port

SUITE = "AES_CM_128_HMAC_SHA1_80"
FAR_KEY = bytes(range(7, 37))  # the far phone's master key || salt (30 bytes)
SAVP = (
    "m=audio {port} RTP/SAVP 8 0 101\n"
    "a=rtpmap:8 PCMA/8000\n"
    "a=rtpmap:0 PCMU/8000\n"
    "a=rtpmap:101 telephone-event/8000\n"
    "a=fmtp:101 0-16\n"
    f"a=crypto:1 {SUITE} inline:{base64.b64encode(FAR_KEY).decode()}\n"
    "a=ptime:20"
)


def tone_share(samples: np.ndarray, hz: float) -> float:
    """The share of the signal's power within 20 Hz of `hz` (a tone: most; noise: ~1%)."""
    x = samples.astype(np.float64) * np.hanning(samples.size)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / 8000)
    return float(power[np.abs(freqs - hz) <= 20].sum() / power.sum())


class FarMedia(asyncio.DatagramProtocol):
    """The far phone's media: every datagram kept as it came off the wire."""

    def __init__(self) -> None:
        self.wire: list[bytes] = []
        self.arrived = asyncio.Event()
        self.transport: Any = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.wire.append(data)
        self.arrived.set()


async def _line(rig: Rig, login: str, **extra: object) -> int:
    line = await accounts.create_account(
        rig.deps,
        ALICE,
        AccountSettings(
            login=login,
            password=Secret(f"pw-{login}"),
            domain="127.0.0.1",
            port=rig.kam.tls_port,
            transport="tls",
            expires=60,
            **extra,  # type: ignore[arg-type]
        ),
    )
    await eventually(lambda: bool(rig.kam.contacts(login)), 15, f"line {login} to register")
    return line


@dataclass
class Far:
    """The far phone's media sockets (an RTP/RTCP pair) and what reached them."""

    lease: PortLease
    rtp: FarMedia
    rtcp: FarMedia
    rtp_t: Any
    rtcp_t: Any

    def close(self) -> None:
        self.rtp_t.close()
        self.rtcp_t.close()
        self.lease.release()


async def _far() -> Far:
    lease = PortPool("31100-31199").allocate("127.0.0.1")
    loop = asyncio.get_running_loop()
    rtp, rtcp = FarMedia(), FarMedia()
    rtp_t, _ = await loop.create_datagram_endpoint(lambda: rtp, sock=lease.rtp_socket)
    rtcp_t, _ = await loop.create_datagram_endpoint(lambda: rtcp, sock=lease.rtcp_socket)
    return Far(lease, rtp, rtcp, rtp_t, rtcp_t)


async def _talk_and_check_the_wire(rig: Rig, far: Far, keys: SrtpTransform, to: Any) -> None:
    """The far phone sends 1 kHz (protected with its key) to `to`, the person 440 Hz: the
    person hears 1 kHz; what reached the far phone is SRTP whose clear payload is nowhere on
    the wire and which, decrypted, is 440 Hz; an SRTCP report authenticates."""
    sender = RtpSender()

    def far_send(pcm: np.ndarray) -> None:
        packet = sender.audio(8, alaw_encode(pcm), pcm.size)
        far.rtp_t.sendto(keys.protect(packet), to)

    far_tone = asyncio.create_task(play_tone(far_send, 1000, seconds=3.0))
    tg_tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440, seconds=3.0))
    async with asyncio.timeout(10):
        in_telegram = await rig.person.heard.sound(1.0)
        while sum(1 for d in far.rtp.wire if len(d) > 100) < 60:  # 1.2 s of 20 ms packets
            far.rtp.arrived.clear()
            await far.rtp.arrived.wait()
        while not far.rtcp.wire:  # the first report is due within 3.75 s of the call
            far.rtcp.arrived.clear()
            await far.rtcp.arrived.wait()
    assert abs(dominant_frequency(in_telegram) - 1000) < 15
    on_wire, decrypted = [], []
    for data in list(far.rtp.wire):
        packet = RtpPacket.parse(keys.unprotect(data))
        assert packet.payload not in data  # the clear payload is nowhere in the datagram
        if packet.payload_type == 8:
            on_wire.append(data[12 : 12 + len(packet.payload)])
            decrypted.append(packet.payload)
    far.rtp.wire.clear()
    heard = alaw_decode(b"".join(decrypted))[-8000:]
    assert abs(dominant_frequency(heard) - 440) < 15  # decrypted: the person's tone
    assert tone_share(heard, 440) > 0.5
    noise = alaw_decode(b"".join(on_wire))[-8000:]
    assert tone_share(noise, 440) < 0.1  # as sent, read as G.711: noise, not the tone
    keys.unprotect_rtcp(far.rtcp.wire[0])  # SRTCP under telesip's key: authentic
    await asyncio.gather(far_tone, tg_tone)


async def test_srtp_call_over_tls_encrypts_the_wire_and_the_tones_and_keys_arrive(
    rig: Rig,
) -> None:
    rig.calls.recordings = rig.tmp / "recordings"
    await _line(rig, "101", record=True)  # over TLS, media_encryption left to its default
    far = await _far()
    try:
        rig.person.set_behaviour(answer_after=0.2, hangup_after=6.0)
        sipp = await run_sipp(
            rig.sipp,
            rig.tmp,
            far_calls(far.lease.rtp_port, "hung-up", media=SAVP),
            port=free_port(),
            remote=f"127.0.0.1:{rig.kam.port}",
            service="101",
        )
        async with asyncio.timeout(15):
            await rig.person.connected.wait()
        (bridge,) = [b for b in rig.calls._by_sip.values() if getattr(b, "answer_sdp", None)]
        answer = SessionDescription.parse(bridge.answer_sdp)  # what the 200 OK carried
        (m,) = answer.media
        assert m.proto == "RTP/SAVP"
        (crypto,) = m.crypto()
        assert (crypto.tag, crypto.suite) == (1, SUITE) and crypto.key.reveal() != FAR_KEY
        conn = answer.media_connection(m)
        assert conn is not None
        keys = SrtpTransform(SrtpKeys(SUITE, FAR_KEY, crypto.key.reveal()))
        await _talk_and_check_the_wire(rig, far, keys, (conn.address, m.port))
        # a key pressed in the bot goes out as RFC 4733 events, protected like the audio
        (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
        await calls.press_key(rig.deps, ALICE, call.id, "7")
        digits = DtmfReceiver()
        got: list[str] = []
        async with asyncio.timeout(5):
            while not got:
                far.rtp.arrived.clear()
                await far.rtp.arrived.wait()
                while far.rtp.wire:
                    packet = RtpPacket.parse(keys.unprotect(far.rtp.wire.pop(0)))
                    if packet.payload_type == 101:
                        digit = digits.feed(packet.timestamp, packet.payload)
                        got += [digit] if digit else []
        assert got == ["7"]
        assert await sipp.done() == 0, sipp.errors()  # the person hung up: our BYE reached it
        ended = await _ended(rig, call.id)
        assert ended.end_reason is EndReason.COMPLETED
        # the recording is of the decrypted audio: both tones in it
        assert ended.recording == f"call-{call.id}.wav"
        with wave.open(str(rig.calls.recordings / ended.recording)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
        assert _level_at(samples, 1000) > 50 and _level_at(samples, 440) > 50
    finally:
        far.close()


async def test_a_dialled_call_on_a_line_that_requires_srtp_offers_only_srtp(
    rig: Rig, bot: FakeBotAPI
) -> None:
    await accounts.update_settings(rig.deps, ALICE, rig.line, media_encryption="required")
    manager = rig.worker.manager
    await eventually(
        lambda: getattr(manager.config(rig.line), "media_encryption", None) == "required",
        5,
        "the setting to reach the worker",
    )
    far = await _far()
    try:
        sipp = await run_sipp(
            rig.sipp,
            rig.tmp,
            far_answers(far.lease.rtp_port, media=SAVP.replace(" 8 0 101", " 8 101")),
            port=rig.uas_port,
            remote=None,
        )
        rig.person.behaviour = Behaviour.answer(0.3)
        bot.send_text(ALICE_TG, "+1 555 0100")
        await bot.next_message(ALICE_TG)
        async with asyncio.timeout(15):
            await rig.person.connected.wait()
        bridge = None
        async with asyncio.timeout(10):
            while bridge is None:
                bridge = next((b for b in rig.calls._by_sip.values() if b.sip_answered), None)
                await asyncio.sleep(0.05)  # polls the manager's index: the worker's task fills it
        offer = bridge.offer
        assert offer is not None
        (m,) = offer.media
        assert m.proto == "RTP/SAVP"  # never plain RTP on a line that requires SRTP
        ours = {c.tag: c for c in m.crypto()}
        assert [c.suite for c in ours.values()] == [SUITE, "AES_CM_128_HMAC_SHA1_32"]
        conn = offer.media_connection(m)
        assert conn is not None
        keys = SrtpTransform(SrtpKeys(SUITE, FAR_KEY, ours[1].key.reveal()))
        await _talk_and_check_the_wire(rig, far, keys, (conn.address, m.port))
        await rig.person.hangup()
        assert await sipp.done() == 0, sipp.errors()
    finally:
        far.close()


async def test_a_line_that_requires_srtp_refuses_a_call_in_clear_with_488(rig: Rig) -> None:
    await _line(rig, "102", media_encryption="required")
    sipp = await run_sipp(
        rig.sipp,
        rig.tmp,
        far_calls(31198, "refused:488"),  # the usual RTP/AVP offer: nothing to encrypt with
        port=free_port(),
        remote=f"127.0.0.1:{rig.kam.port}",
        service="102",
    )
    assert await sipp.done() == 0, sipp.errors()
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.FAILED and ended.sip_status == 488
    assert not rig.person.connected.is_set()  # the person's phone never rang
