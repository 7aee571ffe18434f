"""A TelegramLeg calls FakeTelegramUsers: two real ntgcalls instances in a network namespace.

The fake plays Telegram's call servers (DH values, signaling, discards); the media is real:
a 1 kHz tone pushed by the leg is heard by the person at 1 kHz, and their 440 Hz tone by us.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.errors import CallPrivacyRestricted
from telesip.calls.telegram.leg import LegState, TelegramLeg
from telesip.calls.telegram.p2p import Pcm
from tests.calls.telegram.netns import Netns
from tests.fakes.telegram_calls import (
    Behaviour,
    FakeTelegram,
    PcmRecorder,
    play_tone,
)

CALLER = TgUser(100, "Telesip")
ALICE = 1001
CONNECT = 10.0  # seconds; a call connects in well under one second here


@pytest.fixture
async def tg(netns: Netns) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def tone_of(pcm: Pcm, rate: int = 8000, window: int = 1600) -> tuple[float, float]:
    """(frequency, RMS) of a tone: the median over 200 ms windows of the strongest FFT bin
    (5 Hz apart) and of the level, so that one concealed or stretched packet under a loaded
    machine does not decide."""
    freqs, levels = [], []
    for start in range(0, pcm.size - window + 1, window):
        chunk = pcm[start : start + window].astype(np.float64)
        spectrum = np.abs(np.fft.rfft(chunk * np.hanning(window)))
        freqs.append(np.argmax(spectrum) * rate / window)
        levels.append(np.sqrt(np.mean(chunk**2)))
    return float(np.median(freqs)), float(np.median(levels))


SENT_RMS = 0.3 * 32767 / np.sqrt(2)


async def test_answered_call_carries_audio_both_ways(tg: FakeTelegram) -> None:
    alice = tg.user(ALICE, Behaviour.answer(after=0.05), tone_hz=440)
    states: list[LegState] = []
    leg = TelegramLeg(tg.account(CALLER), on_state=states.append)
    heard = PcmRecorder()
    leg.on_pcm(heard)
    await leg.start(ALICE)
    async with asyncio.timeout(CONNECT):
        assert await leg.wait_until("connected")
        await alice.connected.wait()
    tone = asyncio.create_task(play_tone(leg.send_pcm, 1000, level=0.3))
    try:
        async with asyncio.timeout(CONNECT):
            alice_hears = await alice.heard.sound(1.0)
            we_hear = await heard.sound(1.0)
    finally:
        tone.cancel()
    freq, level = tone_of(alice_hears)
    assert freq == 1000 and 0.8 * SENT_RMS < level < 1.2 * SENT_RMS
    freq, level = tone_of(we_hear)
    assert freq == 440 and 0.8 * SENT_RMS < level < 1.2 * SENT_RMS
    assert all(f.dtype == np.int16 and f.size == 160 for f in heard.frames)  # 20 ms at 8 kHz

    await leg.hangup()
    async with asyncio.timeout(5):
        await alice.ended.wait()
    assert states == ["calling", "ringing", "answered", "connected", "ended"]
    assert leg.end_reason == "hangup" and alice.end_reason == "hangup"
    (call,) = tg.calls
    assert (call.discard_reason, call.discarded_by) == ("hangup", CALLER.id)
    assert [m for who, m in tg.rpcs if who == CALLER.id][:3] == [
        "getDhConfig",
        "requestCall",
        "confirmCall",
    ]


async def test_person_hangs_up(tg: FakeTelegram) -> None:
    alice = tg.user(ALICE, Behaviour.answer(after=0.01, hangup_after=0.2))
    leg = TelegramLeg(tg.account(CALLER))
    await leg.start(ALICE)
    async with asyncio.timeout(CONNECT):
        assert await leg.wait_until("connected")
        assert await leg.wait_until("ended")
        await alice.ended.wait()
    assert leg.end_reason == "remote-hangup" and tg.calls[0].discarded_by == ALICE


async def test_caller_hangs_up_before_the_answer(tg: FakeTelegram) -> None:
    alice = tg.user(ALICE, Behaviour.no_answer())
    leg = TelegramLeg(tg.account(CALLER))
    await leg.start(ALICE)
    async with asyncio.timeout(5):
        assert await leg.wait_until("ringing")
        await leg.hangup()
        await alice.ended.wait()
    assert leg.end_reason == "hangup"
    assert alice.end_reason == "missed"  # the person sees a missed call


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (Behaviour.decline(after=0.05), "declined"),
        (Behaviour.decline(after=0.05, reason="busy"), "busy"),
        (Behaviour.busy_line(), "busy"),
    ],
)
async def test_refused_calls(tg: FakeTelegram, behaviour: Behaviour, reason: str) -> None:
    alice = tg.user(ALICE, behaviour)
    leg = TelegramLeg(tg.account(CALLER))
    await leg.start(ALICE)
    async with asyncio.timeout(5):
        assert not await leg.wait_until("answered")
    assert leg.end_reason == reason
    assert alice.rang.is_set() == (not behaviour.busy)


async def test_no_answer_ends_at_the_ring_timeout(tg: FakeTelegram) -> None:
    alice = tg.user(ALICE, Behaviour.no_answer())
    timed_out: list[bool] = []
    leg = TelegramLeg(
        tg.account(CALLER), ring_timeout=0.3, on_ring_timeout=lambda: timed_out.append(True)
    )
    await leg.start(ALICE)
    async with asyncio.timeout(5):
        assert not await leg.wait_until("answered")
        await alice.ended.wait()
    assert leg.end_reason == "no-answer" and timed_out == [True]
    assert tg.calls[0].discard_reason == "missed" and alice.end_reason == "missed"


async def test_telegram_gives_up_ringing_first(netns: Netns) -> None:
    async with FakeTelegram(server_ring_timeout=0.2) as tg:
        tg.user(ALICE, Behaviour.no_answer())
        leg = TelegramLeg(tg.account(CALLER), ring_timeout=None)
        await leg.start(ALICE)
        async with asyncio.timeout(5):
            assert await leg.wait_until("ended")
        assert leg.end_reason == "no-answer" and tg.calls[0].discarded_by is None


async def test_privacy_refusal_is_raised_by_start(tg: FakeTelegram) -> None:
    tg.user(ALICE, Behaviour.privacy())
    leg = TelegramLeg(tg.account(CALLER))
    with pytest.raises(CallPrivacyRestricted):
        await leg.start(ALICE)
    assert leg.state == "ended" and leg.end_reason == "failed" and tg.calls == []


async def test_second_caller_finds_the_person_busy(tg: FakeTelegram) -> None:
    tg.user(ALICE, Behaviour.answer(after=0.01))
    first = TelegramLeg(tg.account(CALLER))
    second = TelegramLeg(tg.account(TgUser(101, "Telesip 2")))
    await first.start(ALICE)
    async with asyncio.timeout(CONNECT):
        assert await first.wait_until("connected")
        await second.start(ALICE)
        assert await second.wait_until("ended")
    assert second.end_reason == "busy" and first.state == "connected"
    await first.hangup()


async def test_two_calls_at_once(tg: FakeTelegram) -> None:
    people = [tg.user(ALICE + i, Behaviour.answer(after=0.01), tone_hz=440) for i in range(2)]
    legs = [TelegramLeg(tg.account(TgUser(100 + i, f"Caller {i}"))) for i in range(2)]
    for leg, person in zip(legs, people, strict=True):
        await leg.start(person.id)
    async with asyncio.timeout(CONNECT):
        for leg in legs:
            assert await leg.wait_until("connected")
    await legs[0].hangup()
    assert legs[1].state == "connected"  # one call ending leaves the other alone
    await legs[1].hangup()
