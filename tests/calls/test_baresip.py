"""baresip (Debian's package) as the far phone, registered at the rig's Kamailio as extension
200: it calls a line and is called through one, with audio checked by frequency both ways,
DTMF, hold and resume, and hang-ups from each side (tests/calls/softphones.py)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.calls.conftest import Rig
from tests.calls.softphones import (
    Baresip,
    calls_kamailio,  # noqa: F401 - the softphone route, in place of conftest's
    person_calls_the_softphone,
    softphone_calls_the_line,
)
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.skipif(
    shutil.which("baresip") is None,
    reason="baresip is not installed: run bin/system-deps (Debian baresip)",
)


@pytest.fixture
async def phone(rig: Rig, tmp_path: Path) -> AsyncIterator[Baresip]:
    home = tmp_path / "baresip"
    home.mkdir()
    softphone = Baresip(home, "200", rig.kam.port)
    try:
        yield softphone
    finally:
        await softphone.stop()


async def test_baresip_calls_a_line_holds_resumes_and_hangs_up(rig: Rig, phone: Baresip) -> None:
    await softphone_calls_the_line(rig, phone)


async def test_baresip_answers_a_call_from_telegram_hears_keys_and_is_hung_up(
    rig: Rig, bot: FakeBotAPI, phone: Baresip
) -> None:
    await person_calls_the_softphone(rig, bot, phone)
