"""Real softphones as far phones (tests/calls/softphones.py): baresip (extension 200) and
linphonec (extension 201) from Debian's packages, registered at the rig's Kamailio. Each calls
a line and is called through one, with audio checked by frequency both ways, DTMF, hold and
resume, and hang-ups from each side:

- ``clear``: the phone and line 100 on UDP, RTP in clear;
- ``G722``, ``opus``: line 100 puts that codec first and the phone has it enabled (baresip
  loads its module first; linphone gets codec sections naming it): the call runs on it (the
  line's order decides), 6 kHz from the phone and 5 kHz from the person, heard at 48 kHz by
  the person: wideband reaches Telegram and comes back (G.711 cannot carry them: the control
  below); the line records, and its WAV at the call's rate holds both tones;
- ``srtp``: the phone on TLS with SRTP mandatory (baresip ``mediaenc srtp-mand``, linphone
  ``media_encryption=srtp`` + ``media_encryption_mandatory``), line 100 moved to TLS with
  ``media_encryption = required``: every call's media are SRTP (SDES keys) or there is no call.

In CI each phone runs G.711 in clear both ways and every other medium one way, the two phones
in opposite directions (so each medium is tested both ways, by one phone or the other);
``SOFTPHONES_ALL=1`` runs every medium both ways on both phones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from telesip.media import rms_dbfs
from telesip.services import accounts
from tests.calls.conftest import Rig
from tests.calls.softphones import (
    PERSON_RATE,
    PHONE_HZ,
    WIDE_HZ,
    Baresip,
    Linphone,
    Softphone,
    calls_kamailio,  # noqa: F401 - the softphone route, in place of conftest's
    dial_the_line,
    person_calls_the_softphone,
    person_hears,
    person_plays,
    phone_hangs_up,
    softphone_calls_the_line,
)
from tests.core.helpers import ALICE
from tests.fakes import FakeBotAPI
from tests.sip_integration.conftest import Cert, eventually

PHONES = {
    "baresip": (Baresip, "200", "baresip", "baresip"),
    "linphone": (Linphone, "201", "linphonec", "linphone-cli"),
}


MEDIA = ("clear", "srtp", "G722", "opus")
ALL = os.environ.get("SOFTPHONES_ALL") == "1"


def cases(direction: str) -> Iterator[object]:
    """The (phone, medium) pairs run in ``direction``: "in" (the phone calls the line) or
    "out" (the person calls the phone)."""
    for turn, name in enumerate(PHONES):
        for i, media in enumerate(MEDIA):
            one_way = (direction == "in") == ((i + turn) % 2 == 1)
            if ALL or media == "clear" or one_way:
                yield pytest.param((name, media), id=f"{name}-{media}")


@pytest.fixture
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
    """Line 100 puts `codec` first (then PCMA) and records its calls: the worker has both
    before the phone calls."""
    rig.calls.recordings = rig.tmp / "recordings"
    await accounts.update_settings(
        rig.deps, ALICE, rig.line, codecs=(codec, "PCMA", "telephone-event"), record=True
    )
    manager = rig.worker.manager

    def ready() -> bool:
        config = manager.config(rig.line)
        return getattr(config, "codecs", ())[:1] == (codec,) and getattr(config, "record", False)

    await eventually(ready, 10, "the codec order and the recording to reach the worker")


@pytest.mark.parametrize("phone", list(cases("in")), indirect=True)
async def test_the_softphone_calls_a_line_holds_resumes_and_hangs_up(
    rig: Rig, phone: Softphone
) -> None:
    await softphone_calls_the_line(rig, phone)


@pytest.mark.parametrize("phone", list(cases("out")), indirect=True)
async def test_the_softphone_answers_a_call_from_telegram_hears_keys_and_is_hung_up(
    rig: Rig, bot: FakeBotAPI, phone: Softphone
) -> None:
    await person_calls_the_softphone(rig, bot, phone)


@pytest.mark.parametrize("phone", [("baresip", "clear")], indirect=True, ids=["baresip-PCMA"])
async def test_g711_does_not_carry_what_wideband_does(rig: Rig, phone: Softphone) -> None:
    """The control of the wideband cases: on G.711 the call's path is 8 kHz, so the person's
    6 kHz tone does not reach the phone (nothing arrives, not even an alias), and the phone's
    1 kHz reaches the person's 48 kHz app with nothing above 4 kHz."""
    await dial_the_line(rig, phone)
    person_tone = asyncio.create_task(person_plays(rig, WIDE_HZ))
    try:
        heard = await person_hears(rig, PHONE_HZ, phone)
        assert share_above(heard, PERSON_RATE, 4000) < 0.01
        await phone_hangs_up(rig, phone)
    finally:
        person_tone.cancel()
    recording, rate = phone.recording()
    assert rate == 8000 and recording.size > rate // 2  # it recorded the call, at G.711 rate
    assert rms_dbfs(recording) < -50, rms_dbfs(recording)


def share_above(samples: np.ndarray, rate: int, hz: float) -> float:  # type: ignore[type-arg]
    """The share of the signal's energy above ``hz``."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(spectrum[freqs > hz].sum() / spectrum.sum())
