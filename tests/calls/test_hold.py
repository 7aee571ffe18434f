"""Hold and Resume from the Telegram side: the keypad's Hold button re-INVITEs the far phone
with a=sendonly (the button then reads Resume), the far phone hears silence in place of the
person while whatever it sends (music on hold) still reaches Telegram, and Resume re-INVITEs
with a=sendrecv and brings the person's voice back (end to end, in a namespace)."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from telesip.domain.calls import CallState
from telesip.media.analysis import dominant_frequency, rms_dbfs
from telesip.services import calls
from tests.calls.conftest import ALICE_TG, Rig, open_far
from tests.calls.sipp import far_answers, run_sipp
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI, FakeMessage
from tests.fakes.telegram_calls import Behaviour, play_tone
from tests.sip_integration.conftest import eventually


def _keypad(bot: FakeBotAPI) -> FakeMessage | None:
    return next(
        (m for m in bot.bot_messages(ALICE_TG) if m.content.startswith("☎️ In a call")), None
    )


def _hears(rig: Rig, hz: float) -> bool:
    """Whether the far phone's last half second is a tone at ``hz``."""
    frames = rig.far.heard[-25:]
    if len(frames) < 25:
        return False
    last = np.concatenate(frames)
    return rms_dbfs(last) > -30 and abs(dominant_frequency(last) - hz) < 15


async def test_hold_and_resume_from_the_keypad(rig: Rig, bot: FakeBotAPI) -> None:
    far = await open_far(rig)
    sipp = await run_sipp(
        rig.sipp,
        rig.tmp,
        far_answers(far.local_port, held_and_resumed=True),
        port=rig.uas_port,
        remote=None,
    )
    rig.person.behaviour = Behaviour.answer(0.3)
    bot.send_text(ALICE_TG, "+1 555 0100")
    await bot.next_message(ALICE_TG)
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    far_tone = asyncio.create_task(play_tone(far.send_pcm, 1000))  # the far side never stops
    tg_tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440))
    try:
        async with asyncio.timeout(15):
            on_sip = await rig.far.sound_of(1.0)
        assert abs(dominant_frequency(on_sip) - 440) < 15
        keypad = await bot.wait_for(lambda: _keypad(bot), timeout=10)
        answer = await bot.press_button(ALICE_TG, keypad, "⏸ Hold")
        assert answer.text == "On hold: they hear silence"
        await bot.wait_for(lambda: "▶️ Resume" in keypad.button_texts, timeout=5)
        (bridge,) = rig.calls._by_sip.values()
        await eventually(lambda: bridge.direction == "sendonly", 10, "the far phone's answer")
        # on hold: the far side's sound (its music on hold) still reaches Telegram, and the
        # far side hears silence while the person goes on talking
        rig.person.heard.clear()
        async with asyncio.timeout(10):
            held_music = await rig.person.heard.sound(1.0)
        assert abs(dominant_frequency(held_music) - 1000) < 15
        await asyncio.sleep(0.3)  # frames already in the far side's jitter buffer play out
        window = len(rig.far.heard)
        await asyncio.sleep(1.0)  # a window to measure silence in, not a race guard
        assert rms_dbfs(np.concatenate(rig.far.heard[window:])) < -45, "the person was heard"
        assert (await calls.get_call(rig.deps, call.id)).state is CallState.ANSWERED
        # Resume: the re-INVITE says sendrecv and the person is heard again
        answer = await bot.press_button(ALICE_TG, keypad, "▶️ Resume")
        assert answer.text == "Resumed"
        await eventually(lambda: bridge.direction == "sendrecv", 10, "the resume")
        await eventually(lambda: _hears(rig, 440), 10, "the person's voice after the resume")
        assert "⏸ Hold" in keypad.button_texts
        await rig.person.hangup()
        assert await sipp.done() == 0, sipp.errors()
    finally:
        far_tone.cancel()
        tg_tone.cancel()


async def test_a_refused_hold_leaves_the_call_as_it_was(
    rig: Rig, bot: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telesip.calls.bridge")
    far = await open_far(rig)
    sipp = await run_sipp(
        rig.sipp, rig.tmp, far_answers(far.local_port, refuses_hold=True), port=rig.uas_port,
        remote=None,
    )  # fmt: skip
    rig.person.behaviour = Behaviour.answer(0.3)
    bot.send_text(ALICE_TG, "+1 555 0100")
    await bot.next_message(ALICE_TG)
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    tg_tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440))
    try:
        keypad = await bot.wait_for(lambda: _keypad(bot), timeout=15)
        (bridge,) = rig.calls._by_sip.values()
        await bot.press_button(ALICE_TG, keypad, "⏸ Hold")
        await eventually(lambda: "re-INVITE refused: 488" in caplog.text, 10, "the 488")
        assert not bridge.holding
        told = await bot.wait_for(
            lambda: any("did not accept the hold" in m.content for m in bot.messages(ALICE_TG)),
            timeout=10,
        )
        assert told
        assert bridge.direction == "sendrecv" and not bridge.ended
        await eventually(lambda: _hears(rig, 440), 10, "the person's voice after the 488")
        await rig.person.hangup()
        assert await sipp.done() == 0, sipp.errors()
    finally:
        tg_tone.cancel()
