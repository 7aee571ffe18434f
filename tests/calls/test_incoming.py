"""A far phone calls a telesip line: it rings the line's user in Telegram, audio is bridged both
ways once they answer, and every way of ending is handled (end to end, in a namespace)."""

from __future__ import annotations

import asyncio

import numpy as np

from telesip.domain.calls import CallState, EndReason
from telesip.media.analysis import dominant_frequency, dtmf_keys, rms_dbfs
from telesip.services import accounts, calls, outbox
from tests.calls.conftest import ENDS_WITHIN, Rig, dial_line, open_far
from tests.calls.sipp import far_calls
from tests.core.helpers import ALICE
from tests.fakes.telegram_calls import Behaviour, play_tone
from tests.sip_integration.conftest import eventually


async def _last_call(rig: Rig) -> calls.CallRecord:  # type: ignore[name-defined]
    (call, *_) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    return call


async def _ended(rig: Rig) -> calls.CallRecord:  # type: ignore[name-defined]
    """The last call once its history row is closed (written after both legs ended)."""
    deadline = asyncio.get_running_loop().time() + 5
    while True:  # polls the database: the row's writer is the worker's task
        call = await _last_call(rig)
        if call.state is CallState.ENDED:
            return call
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"call {call.id} is still {call.state}")
        await asyncio.sleep(0.05)


async def _outbox_keys(rig: Rig) -> list[str]:
    return [
        str(m.payload.get("key")) for m in await outbox.due(rig.deps, limit=100) if m.kind == "text"
    ]


async def test_answered_call_bridges_audio_both_ways_and_far_hangup_ends_it(rig: Rig) -> None:
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, "hangs-up", talk_ms=5000))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    # both sides talk: 1 kHz from the SIP side, 440 Hz from Telegram
    far_tone = asyncio.create_task(play_tone(far.send_pcm, 1000, seconds=3.0))
    tg_tone = asyncio.create_task(play_tone(rig.person.send_pcm, 440, seconds=3.0))
    async with asyncio.timeout(10):
        in_telegram = await rig.person.heard.sound(1.0)
        on_sip = await rig.far.sound_of(1.0)
    assert abs(dominant_frequency(in_telegram) - 1000) < 15
    assert abs(dominant_frequency(on_sip) - 440) < 15
    assert rms_dbfs(in_telegram) > -30 and rms_dbfs(on_sip) > -30
    call = await _last_call(rig)
    assert (call.state, call.number) == (CallState.ANSWERED, "sipp")
    assert "call.incoming" in await _outbox_keys(rig)
    # the far phone hangs up: the Telegram call ends
    assert await sipp.done() == 0, sipp.errors()
    async with asyncio.timeout(ENDS_WITHIN):
        await rig.person.ended.wait()
    await asyncio.gather(far_tone, tg_tone, return_exceptions=True)
    call = await _ended(rig)
    assert call.end_reason is EndReason.COMPLETED and call.duration is not None
    async with asyncio.timeout(2):
        await rig.calls.settled()
    assert rig.calls.active == 0 and rig.calls.ports.in_use == 0


async def test_telegram_hangup_sends_bye(rig: Rig) -> None:
    rig.person.set_behaviour(answer_after=0.2, hangup_after=1.5)
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, "hung-up"))
    assert await sipp.done() == 0, sipp.errors()
    call = await _ended(rig)
    assert call.end_reason is EndReason.COMPLETED
    assert call.duration is not None and 1.0 <= call.duration < 5


async def test_busy_declined_and_unanswered_calls(rig: Rig) -> None:
    for behaviour, status, reason, told in (
        (Behaviour.decline(0.2), 603, EndReason.DECLINED, None),
        (Behaviour.busy_line(), 486, EndReason.BUSY, "call.missed_busy"),
        (Behaviour.no_answer(), 480, EndReason.MISSED, "call.missed"),
        (Behaviour.privacy(), 480, EndReason.PRIVACY, "call.privacy"),
    ):
        rig.person.behaviour = behaviour
        far = await open_far(rig)
        sipp = await dial_line(rig, far_calls(far.local_port, f"refused:{status}"))
        assert await sipp.done() == 0, (behaviour, sipp.errors())
        call = await _ended(rig)
        assert call.end_reason is reason, behaviour
        if told:
            assert told in await _outbox_keys(rig), behaviour
        await far.close()
        rig.far.stream = None
        assert rig.pool.free == 1


async def test_cancel_before_answer_is_a_missed_call(rig: Rig) -> None:
    rig.person.behaviour = Behaviour.no_answer()
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, "cancels"))
    assert await sipp.done() == 0, sipp.errors()
    call = await _ended(rig)
    assert call.end_reason is EndReason.CANCELLED
    if rig.person.rang.is_set():  # the CANCEL may come before the Telegram call was placed
        async with asyncio.timeout(ENDS_WITHIN):
            await rig.person.ended.wait()
    assert "call.missed" in await _outbox_keys(rig)


async def test_keys_go_in_band_when_the_line_says_so(rig: Rig) -> None:
    """A line whose DTMF mode is in-band: keys pressed in the bot reach the far phone as the
    two tones of each key in the audio, not as RFC 4733 events."""
    await accounts.update_settings(rig.deps, ALICE, rig.line, dtmf_mode="inband")
    manager = rig.worker.manager
    await eventually(
        lambda: getattr(manager.config(rig.line), "dtmf_mode", None) == "inband", 5, "applied"
    )
    far = await open_far(rig)
    events: list[str] = []
    far.on_dtmf(events.append)
    sipp = await dial_line(rig, far_calls(far.local_port, "hangs-up", talk_ms=4000))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    call = await _last_call(rig)
    deadline = asyncio.get_running_loop().time() + 5
    while call.state is not CallState.ANSWERED:  # the bridge answers the SIP side
        assert asyncio.get_running_loop().time() < deadline, call.state
        await asyncio.sleep(0.05)
        call = await _last_call(rig)
    await calls.press_key(rig.deps, ALICE, call.id, "5")
    await calls.press_key(rig.deps, ALICE, call.id, "#")
    deadline = asyncio.get_running_loop().time() + 5
    while (heard := dtmf_keys(np.concatenate(rig.far.heard))) != "5#":
        assert asyncio.get_running_loop().time() < deadline, f"heard {heard!r}"
        await asyncio.sleep(0.1)
    assert events == []
    assert await sipp.done() == 0, sipp.errors()
