"""Calls that go wrong never disturb another call and leave nothing behind: the worker's call
limit, an offer with no codec in common, the Telegram side failing, a SIP peer that vanishes
without a BYE (end to end, in a namespace)."""

from __future__ import annotations

import asyncio

from telesip.calls.rtp_ports import PortPool
from telesip.calls.rtp_stream import RtpStream
from telesip.calls.telegram.errors import CallerUnavailable
from telesip.domain.calls import EndReason
from telesip.media import MediaParams
from telesip.media.analysis import dominant_frequency
from telesip.services import calls
from tests.calls.conftest import ENDS_WITHIN, Rig, dial_line, open_far
from tests.calls.sipp import far_calls
from tests.calls.test_incoming import _ended, _outbox_keys
from tests.calls.test_outgoing import _ended as ended_call
from tests.core.helpers import ALICE
from tests.fakes.telegram_calls import Behaviour, play_tone


async def _far_call(rig: Rig, ending: str, **kw: object) -> int:
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, ending, **kw))  # type: ignore[arg-type]
    code = await sipp.done()
    assert code == 0, sipp.errors()
    await far.close()
    rig.far.stream = None
    return code


async def _clean(rig: Rig) -> None:
    async with asyncio.timeout(2):
        await rig.calls.settled()
    assert rig.calls.active == 0
    assert rig.calls.ports.in_use == 0
    assert rig.pool.free == 1


async def test_past_the_call_limit_503_and_a_message(rig: Rig) -> None:
    rig.calls.max_calls = 0
    await _far_call(rig, "refused:500")  # our 503; a proxy turns a 503 into 500 (RFC 3261 16.7)
    call = await _ended(rig)
    assert call.end_reason is EndReason.LIMIT and call.sip_status == 503
    assert "call.limit" in await _outbox_keys(rig)
    assert not rig.person.rang.is_set()
    await _clean(rig)


async def test_no_common_codec_is_488(rig: Rig) -> None:
    await _far_call(rig, "refused:488", media="m=audio {port} RTP/AVP 18\na=rtpmap:18 G729/8000")
    call = await _ended(rig)
    assert call.end_reason is EndReason.FAILED and call.sip_status == 488
    assert not rig.person.rang.is_set()
    await _clean(rig)


async def test_a_telegram_failure_is_480_and_frees_everything(rig: Rig) -> None:
    (caller,) = rig.pool.accounts

    async def refuse(*args: object) -> object:
        raise CallerUnavailable(reason="the session was revoked")

    caller.request_call = refuse  # type: ignore[method-assign]
    await _far_call(rig, "refused:480")
    call = await _ended(rig)
    assert call.end_reason is EndReason.UNAVAILABLE
    assert "call.unavailable" in await _outbox_keys(rig)
    await _clean(rig)


async def test_a_vanished_sip_peer_ends_the_call(rig: Rig) -> None:
    """The far phone stops sending RTP and never hangs up: after the media timeout the
    Telegram call ends and the far phone gets a BYE (which this SIPp scenario waits for)."""
    rig.calls.media_timeout = 2.0
    rig.person.behaviour = Behaviour.answer(0.2)
    pool = PortPool("31100-31109")
    far = await RtpStream.open(pool, "127.0.0.1", MediaParams("PCMA", 8))
    sipp = await dial_line(rig, far_calls(far.local_port, "hung-up"))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    await play_tone(far.send_pcm, 1000, seconds=1.0)
    await far.close()  # gone: no more RTP, no BYE
    started = asyncio.get_running_loop().time()
    assert await sipp.done() == 0, sipp.errors()
    async with asyncio.timeout(ENDS_WITHIN):
        await rig.person.ended.wait()
    assert asyncio.get_running_loop().time() - started < 6
    call = await _ended(rig)
    assert call.end_reason is EndReason.FAILED
    await _clean(rig)


async def test_one_broken_call_does_not_disturb_another(rig: Rig) -> None:
    """While a call is up, a second INVITE with an unusable offer is refused; the first call
    keeps its audio and ends normally."""
    rig.person.behaviour = Behaviour.answer(0.2)
    far = await open_far(rig)
    first = await dial_line(rig, far_calls(far.local_port, "hangs-up", talk_ms=4000))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    second = await dial_line(
        rig, far_calls(9, "refused:486", media="m=audio {port} RTP/AVP 18\na=rtpmap:18 G729/8000")
    )
    tone = asyncio.create_task(play_tone(far.send_pcm, 1000, seconds=2.5))
    assert await second.done() == 0, second.errors()
    rig.person.heard.clear()
    async with asyncio.timeout(10):
        heard = await rig.person.heard.sound(1.0)
    assert abs(dominant_frequency(heard) - 1000) < 15
    assert await first.done() == 0, first.errors()
    await tone
    busy, answered = await calls.recent_calls(rig.deps, ALICE, limit=2)
    assert busy.end_reason is EndReason.BUSY
    assert (await ended_call(rig, answered.id)).end_reason is EndReason.COMPLETED
    await _clean(rig)  # the refused call held nothing: it stops counting at once
