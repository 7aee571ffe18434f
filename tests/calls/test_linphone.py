"""linphone (linphonec, Debian's linphone-cli) as the far phone, registered at the rig's
Kamailio as extension 201: it calls a line and is called through one, with audio checked by
frequency both ways, DTMF, hold and resume, and hang-ups from each side
(tests/calls/softphones.py)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.calls.conftest import Rig
from tests.calls.softphones import (
    Linphone,
    calls_kamailio,  # noqa: F401 - the softphone route, in place of conftest's
    person_calls_the_softphone,
    softphone_calls_the_line,
)
from tests.fakes import FakeBotAPI

pytestmark = pytest.mark.skipif(
    shutil.which("linphonec") is None,
    reason="linphonec is not installed: run bin/system-deps (Debian linphone-cli)",
)


@pytest.fixture
async def phone(rig: Rig, tmp_path: Path) -> AsyncIterator[Linphone]:
    home = tmp_path / "linphone"
    home.mkdir()
    softphone = Linphone(home, "201", rig.kam.port)
    try:
        yield softphone
    finally:
        await softphone.stop()


async def test_linphone_calls_a_line_holds_resumes_and_hangs_up(rig: Rig, phone: Linphone) -> None:
    await softphone_calls_the_line(rig, phone)


async def test_linphone_answers_a_call_from_telegram_hears_keys_and_is_hung_up(
    rig: Rig, bot: FakeBotAPI, phone: Linphone
) -> None:
    await person_calls_the_softphone(rig, bot, phone)
