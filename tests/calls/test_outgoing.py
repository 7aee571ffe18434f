"""A person dials from Telegram: they send a number to the bot, the caller account calls them,
and once they answer the worker dials through the line (challenged by the proxy), the far
phone answers, audio flows both ways, keypad presses arrive as RFC 4733 events, and hanging up
in Telegram sends BYE (end to end, in a namespace). The first case's line prefers G.722, which
the far phone (G.711 only) does not take: the Telegram leg, opened at the line's first codec's
16 kHz before the far phone answered, runs at 16 kHz and the bridge resamples both ways."""

from __future__ import annotations

import asyncio

from telesip.domain.calls import CallState, EndReason
from telesip.media.analysis import dominant_frequency, rms_dbfs
from telesip.media.codecs import available
from telesip.services import accounts, calls
from tests.calls.conftest import ALICE_TG, ENDS_WITHIN, Keys, Rig, open_far
from tests.calls.sipp import far_answers, run_sipp
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI
from tests.fakes.telegram_calls import Behaviour, play_tone
from tests.sip_integration.conftest import eventually


async def _ended(rig: Rig, call_id: int) -> calls.CallRecord:  # type: ignore[name-defined]
    deadline = asyncio.get_running_loop().time() + 5
    while True:  # polls the database: the row's writer is the worker's task
        call = await calls.get_call(rig.deps, call_id)
        if call.state is CallState.ENDED:
            return call
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"call {call.id} is still {call.state}")
        await asyncio.sleep(0.05)


async def test_dialled_from_telegram_bridged_keypad_and_bye(rig: Rig, bot: FakeBotAPI) -> None:
    wideband = "G722" in available()  # the codecs extra: the leg opens at 16 kHz
    if wideband:
        await accounts.update_settings(
            rig.deps, ALICE, rig.line, codecs=("G722", "PCMA", "telephone-event")
        )
        manager = rig.worker.manager
        await eventually(
            lambda: getattr(manager.config(rig.line), "codecs", ())[:1] == ("G722",),
            10,
            "the codec order to reach the worker",
        )
    far = await open_far(rig)
    keys = Keys()
    far.on_dtmf(keys)
    sipp = await run_sipp(
        rig.sipp, rig.tmp, far_answers(far.local_port), port=rig.uas_port, remote=None
    )
    rig.person.behaviour = Behaviour.answer(0.3)
    bot.send_text(ALICE_TG, "+1 555 0100")
    reply = await bot.next_message(ALICE_TG)
    assert reply.content.startswith("Calling +15550100 from SIP account #")
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    async with asyncio.timeout(15):
        await rig.person.connected.wait()  # the caller account called Alice; she answered
        calling = await bot.next_message(ALICE_TG)
    assert "is calling you now for your call to +15550100" in calling.content
    far_tone = asyncio.create_task(play_tone(far.send_pcm, 1000, seconds=4.0))
    tg_tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440, seconds=4.0))
    async with asyncio.timeout(15):
        on_sip = await rig.far.sound_of(1.0)
        rig.person.heard.clear()
        in_telegram = await rig.person.heard.sound(1.0)
    assert abs(dominant_frequency(on_sip) - 440) < 15 and rms_dbfs(on_sip) > -30
    assert abs(dominant_frequency(in_telegram) - 1000) < 15 and rms_dbfs(in_telegram) > -30
    assert (await calls.get_call(rig.deps, call.id)).state is CallState.ANSWERED
    (bridge,) = rig.calls._by_sip.values()
    assert bridge.stream is not None and bridge.leg is not None
    assert (bridge.stream.rate, bridge.leg.sample_rate) == (8000, 16000 if wideband else 8000)
    # the keypad: a press in the bot reaches the far phone as an RFC 4733 event
    async with asyncio.timeout(10):
        keypad = await bot.next_message(ALICE_TG)
    assert keypad.content.startswith("☎️ In a call with +15550100")
    answer = await bot.press_button(ALICE_TG, keypad, "5")
    assert answer.text == "Sent 5"
    async with asyncio.timeout(5):
        await keys.got.wait()
    assert keys.digits == ["5"]
    # Alice hangs up in Telegram: the far phone gets BYE
    await rig.person.hangup()
    assert await sipp.done() == 0, sipp.errors()
    await asyncio.gather(far_tone, tg_tone, return_exceptions=True)
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.COMPLETED and ended.duration is not None
    async with asyncio.timeout(5):
        await bot.wait_for(lambda: "is over" in keypad.content)
    assert rig.pool.free == 1 and rig.calls.ports.in_use == 0


async def test_local_ringback_then_far_end_hangs_up(rig: Rig, bot: FakeBotAPI) -> None:
    """While the far phone rings (180 without SDP) the person hears telesip's ringback (425 Hz);
    the far phone's BYE ends the Telegram call within a second."""
    far = await open_far(rig)
    sipp = await run_sipp(
        rig.sipp,
        rig.tmp,
        far_answers(far.local_port, hang_up_after_ms=1500, ring_ms=2500),
        port=rig.uas_port,
        remote=None,
    )
    bot.send_text(ALICE_TG, "/call 5550101")
    await bot.next_message(ALICE_TG)
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
        ringback = await rig.person.heard.sound(0.5)
    assert abs(dominant_frequency(ringback) - 425) < 15
    assert await sipp.done() == 0, sipp.errors()
    async with asyncio.timeout(ENDS_WITHIN):
        await rig.person.ended.wait()  # after the BYE
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    assert (await _ended(rig, call.id)).end_reason is EndReason.COMPLETED
