"""Real softphones as far phones (tests/calls/softphones.py): baresip (extension 200) and
linphonec (extension 201) from Debian's packages, registered at the rig's Kamailio. Each calls
a line and is called through one, with audio checked by frequency both ways, DTMF, hold and
resume, and hang-ups from each side:

- ``clear``: the phone and line 100 on UDP, RTP in clear;
- ``G722``, ``opus``: line 100 puts that codec first and the phone has it enabled (baresip
  loads its module first; linphone gets codec sections naming it): the call runs on it (the
  line's order decides), tones both ways;
- ``srtp``: the phone on TLS with SRTP mandatory (baresip ``mediaenc srtp-mand``, linphone
  ``media_encryption=srtp`` + ``media_encryption_mandatory``), line 100 moved to TLS with
  ``media_encryption = required``: every call's media are SRTP (SDES keys) or there is no call.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telesip.services import accounts
from tests.calls.conftest import Rig
from tests.calls.softphones import (
    Baresip,
    Linphone,
    Softphone,
    calls_kamailio,  # noqa: F401 - the softphone route, in place of conftest's
    person_calls_the_softphone,
    softphone_calls_the_line,
)
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI
from tests.sip_integration.conftest import Cert, eventually

PHONES = {
    "baresip": (Baresip, "200", "baresip", "baresip"),
    "linphone": (Linphone, "201", "linphonec", "linphone-cli"),
}


@pytest.fixture(
    params=[
        pytest.param((name, media), id=f"{name}-{media}")
        for name in PHONES
        for media in ("clear", "srtp", "G722", "opus")
    ]
)
async def phone(
    request: pytest.FixtureRequest, rig: Rig, tmp_path: Path, tls_cert: Cert
) -> AsyncIterator[Softphone]:
    name, media = request.param
    cls, ext, tool, package = PHONES[name]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed: run bin/system-deps (Debian {package})")
    codec = None
    if media == "srtp":
        await secure_line(rig)
    elif media in ("G722", "opus"):
        pytest.importorskip("av", reason="G.722 and Opus need the codecs extra (PyAV)")
        codec = media
        await prefer(rig, codec)
    home = tmp_path / name
    home.mkdir()
    softphone = cls(home, ext, rig.kam, tls_cert if media == "srtp" else None, codec)
    try:
        yield softphone
    finally:
        await softphone.stop()


async def secure_line(rig: Rig) -> None:
    """Line 100 over TLS, SRTP required: it re-registers there before the phone starts."""
    await accounts.update_settings(
        rig.deps,
        ALICE,
        rig.line,
        transport="tls",
        port=rig.kam.tls_port,
        media_encryption="required",
    )
    await eventually(
        lambda: any("transport=tls" in c.lower() for c in rig.kam.contacts("100")),
        15,
        "line 100 to register over TLS",
    )


async def prefer(rig: Rig, codec: str) -> None:
    """Line 100 puts `codec` first (then PCMA): the worker has it before the phone calls."""
    await accounts.update_settings(
        rig.deps, ALICE, rig.line, codecs=(codec, "PCMA", "telephone-event")
    )
    manager = rig.worker.manager
    await eventually(
        lambda: getattr(manager.config(rig.line), "codecs", ())[:1] == (codec,),
        10,
        "the codec order to reach the worker",
    )


async def test_the_softphone_calls_a_line_holds_resumes_and_hangs_up(
    rig: Rig, phone: Softphone
) -> None:
    await softphone_calls_the_line(rig, phone)


async def test_the_softphone_answers_a_call_from_telegram_hears_keys_and_is_hung_up(
    rig: Rig, bot: FakeBotAPI, phone: Softphone
) -> None:
    await person_calls_the_softphone(rig, bot, phone)
