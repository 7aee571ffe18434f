"""A line registered over TCP or TLS takes its calls on that connection: the proxy relays the
far phone's INVITE over it, audio is bridged, and our BYE goes back the same way (end to end,
in a namespace)."""

from __future__ import annotations

import asyncio

import pytest

from telesip.domain.calls import EndReason
from telesip.domain.settings import AccountSettings, Secret
from telesip.media.analysis import dominant_frequency
from telesip.services import accounts, calls
from tests.calls.conftest import Rig, open_far
from tests.calls.sipp import far_calls, run_sipp
from tests.calls.test_outgoing import _ended
from tests.core.helpers import ALICE
from tests.fakes.telegram_calls import play_tone
from tests.sip_integration.conftest import eventually, free_port


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_a_line_over_tcp_or_tls_takes_a_call(rig: Rig, transport: str) -> None:
    port = rig.kam.tls_port if transport == "tls" else rig.kam.port
    line = await accounts.create_account(
        rig.deps,
        ALICE,
        AccountSettings(
            login="101",
            password=Secret("pw-101"),
            domain="127.0.0.1",
            port=port,
            transport=transport,
            expires=60,
        ),
    )
    await eventually(
        lambda: bool(rig.kam.contacts("101")), 15, f"line 101 to register ({transport})"
    )
    (contact,) = rig.kam.contacts("101")
    assert f"transport={transport}" in str(contact).lower()
    rig.person.set_behaviour(answer_after=0.2, hangup_after=3.0)
    far = await open_far(rig)
    sipp = await run_sipp(
        rig.sipp,
        rig.tmp,
        far_calls(far.local_port, "hung-up"),
        port=free_port(),
        remote=f"127.0.0.1:{rig.kam.port}",
        service="101",
    )
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    tone = asyncio.create_task(play_tone(far.send_pcm, 1000, seconds=2.0))
    async with asyncio.timeout(10):
        heard = await rig.person.heard.sound(1.0)
    assert abs(dominant_frequency(heard) - 1000) < 15
    assert await sipp.done() == 0, sipp.errors()  # the person hung up: our BYE reached it
    await tone
    (call,) = await calls.recent_calls(rig.deps, ALICE, limit=1)
    assert call.account_id == line
    ended = await _ended(rig, call.id)
    assert ended.end_reason is EndReason.COMPLETED and ended.duration is not None
