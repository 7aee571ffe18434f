"""The SIP side's codecs (`telesip.media.codecs`): a tone through each encoder and decoder
arrives at its frequency and level at the codec's own audio rate (6 kHz through G.722 and
Opus: wideband), payload sizes and RTP clocks are the ones the RFCs fix, each direction keeps
its own state, `MediaParams` takes each codec only at its clock, and `Resampler` converts
between two rates in exact proportion."""

from __future__ import annotations

import numpy as np
import pytest

from telesip.media import MediaParams, UnsupportedCodec, dominant_frequency, rms_dbfs
from telesip.media.codecs import PCM_RATE, RTP_CLOCK, available, open_codec
from telesip.media.resample import Resampler

av = pytest.importorskip("av", reason="G.722 and Opus need the codecs extra (PyAV)")


def tone(hz: float, seconds: float, rate: int = 8000, level: float = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def through(name: str, pcm: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """`pcm` (at the codec's rate) in 20 ms packets through an encoder and a decoder."""
    enc, dec = open_codec(name), open_codec(name)
    frame = enc.rate // 50
    payloads = [enc.encode(pcm[i : i + frame]) for i in range(0, pcm.size, frame)]
    out = np.concatenate([dec.decode(p) for p in payloads])
    return out, payloads


@pytest.mark.parametrize(
    ("name", "hz"),
    [
        (name, hz)
        for name in ("PCMA", "PCMU", "G722", "OPUS")
        for hz in (300, 440, 1000, 3000, 6000)
        if hz < PCM_RATE[name] / 2  # 6 kHz through the wideband codecs only
    ],
)
def test_a_tone_arrives_at_its_frequency_and_level(name: str, hz: int) -> None:
    rate = PCM_RATE[name]
    pcm = tone(hz, 1.0, rate)
    out, _ = through(name, pcm)
    assert out.dtype == np.int16 and out.size == pcm.size  # 20 ms in, 20 ms out, every packet
    last = out[-rate // 2 :]
    assert abs(dominant_frequency(last, rate) - hz) < 5
    assert abs(rms_dbfs(last) - rms_dbfs(pcm[-rate // 2 :])) < 1.5


def test_g722_is_64_kbit_per_second_on_an_8000_clock() -> None:
    _, payloads = through("G722", tone(1000, 0.2, 16000))
    assert {len(p) for p in payloads} == {160}  # 320 samples at 16 kHz -> 160 bytes
    assert RTP_CLOCK["G722"] == 8000  # RFC 3551: 160 timestamp units per 20 ms


def test_opus_runs_on_a_48000_clock_and_compresses() -> None:
    _, payloads = through("OPUS", tone(1000, 0.5, 48000))
    assert RTP_CLOCK["OPUS"] == 48000
    assert max(len(p) for p in payloads) < 120  # 24 kbit/s: ~60 bytes a packet, not 160


def test_opus_decodes_a_stereo_48k_stream_from_a_peer_to_our_mono_48k() -> None:
    enc: av.AudioCodecContext = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "stereo", "s16"
    wide = tone(440, 1.0, 48000)
    stereo = np.repeat(wide, 2).reshape(1, -1)
    dec = open_codec("OPUS")
    out = []
    for i in range(0, wide.size, 960):  # 20 ms packets, as baresip and linphone send
        frame = av.AudioFrame.from_ndarray(stereo[:, 2 * i : 2 * (i + 960)], "s16", "stereo")
        frame.sample_rate, frame.pts = 48000, i
        out += [dec.decode(bytes(p)) for p in enc.encode(frame)]
    pcm = np.concatenate(out)
    assert all(o.size == 960 for o in out)
    assert abs(dominant_frequency(pcm[-24000:], 48000) - 440) < 5


def test_each_direction_keeps_its_own_state() -> None:
    """Two streams through two codec pairs do not bleed into each other (ADPCM predicts)."""
    a, _ = through("G722", tone(440, 0.5, 16000))
    b, _ = through("G722", tone(3000, 0.5, 16000))
    assert abs(dominant_frequency(a[-4000:], 16000) - 440) < 5
    assert abs(dominant_frequency(b[-4000:], 16000) - 3000) < 5


@pytest.mark.parametrize(
    ("src", "dst"), [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 16000)]
)
def test_a_resampler_keeps_the_time_and_the_tone(src: int, dst: int) -> None:
    """10 ms in, 10 ms out, every frame (zeros first while the filter fills); the tone stays
    at its frequency and level."""
    resampler = Resampler(src, dst)
    pcm = tone(1000, 1.0, src)
    out = [resampler.convert(pcm[i : i + src // 100]) for i in range(0, pcm.size, src // 100)]
    assert {o.size for o in out} == {dst // 100}
    last = np.concatenate(out)[-dst // 2 :]
    assert abs(dominant_frequency(last, dst) - 1000) < 5
    assert abs(rms_dbfs(last) - rms_dbfs(pcm[-src // 2 :])) < 1


def test_available_and_the_clocks_media_params_take() -> None:
    assert available() == {"PCMA", "PCMU", "G722", "OPUS"}
    assert MediaParams("G722", 9).clock_rate == 8000
    assert MediaParams("OPUS", 111, clock_rate=48000).codec == "OPUS"
    with pytest.raises(UnsupportedCodec):
        MediaParams("OPUS", 111)  # opus on an 8000 clock: not what RFC 7587 says
    with pytest.raises(UnsupportedCodec):
        MediaParams("G722", 9, clock_rate=16000)  # the quirk is the rule
    with pytest.raises(UnsupportedCodec):
        open_codec("GSM")


def test_a_process_without_the_extra_offers_only_what_it_can_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without PyAV, G.722 and Opus leave the line's list (its order kept); a line naming
    only them falls back to G.711 rather than offering nothing."""
    from telesip.calls import bridge
    from telesip.media import codecs

    monkeypatch.setattr(codecs, "av", None)
    assert codecs.available() == {"PCMA", "PCMU"}
    with pytest.raises(UnsupportedCodec):
        open_codec("G722")
    assert bridge.runnable(("G722", "PCMU", "telephone-event")) == ("PCMU", "telephone-event")
    assert bridge.runnable(("opus", "telephone-event")) == ("PCMA", "PCMU", "telephone-event")
    monkeypatch.undo()
    assert bridge.runnable(("opus", "G722", "telephone-event")) == (
        "opus",
        "G722",
        "telephone-event",
    )
