"""A line that records: both directions of a bridged call mixed into one WAV for the owner
(end to end, in a namespace)."""

from __future__ import annotations

import asyncio
import wave

import numpy as np

from telesip.services import accounts, outbox
from tests.calls.conftest import Rig, dial_line, eventually, open_far
from tests.calls.sipp import far_calls
from tests.calls.test_incoming import _ended
from tests.core.helpers import ALICE
from tests.fakes.telegram_calls import play_tone


def _level_at(samples: np.ndarray, hz: float, rate: int = 8000) -> float:  # type: ignore[type-arg]
    """The spectrum's magnitude near ``hz`` relative to its median (a tone stands out)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = (freqs > hz - 10) & (freqs < hz + 10)
    return float(spectrum[band].max() / (np.median(spectrum) + 1e-9))


async def test_a_recording_holds_both_tones_for_the_calls_length(rig: Rig) -> None:
    rig.calls.recordings = rig.tmp / "recordings"
    await accounts.update_settings(rig.deps, ALICE, rig.line, record=True)
    await eventually(
        lambda: bool(getattr(rig.calls.manager.config(rig.line), "record", False)),
        10,
        "the worker to learn the line records",
    )
    far = await open_far(rig)
    sipp = await dial_line(rig, far_calls(far.local_port, "hangs-up", talk_ms=4000))
    async with asyncio.timeout(15):
        await rig.person.connected.wait()
    await asyncio.gather(
        play_tone(far.send_pcm, 1000, seconds=3.0),
        play_tone(rig.person.send_pcm, 440, seconds=3.0),
    )
    assert await sipp.done() == 0, sipp.errors()
    call = await _ended(rig)
    assert call.recording == f"call-{call.id}.wav"
    with wave.open(str(rig.calls.recordings / call.recording)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    seconds = samples.size / 8000
    assert call.duration is not None and abs(seconds - call.duration) < 1.0
    assert _level_at(samples, 1000) > 50 and _level_at(samples, 440) > 50  # both directions
    box = [m for m in await outbox.due(rig.deps, limit=100) if m.kind == "document"]
    assert [(m.chat_id, m.payload["file"]) for m in box] == [(ALICE.id, call.recording)]
