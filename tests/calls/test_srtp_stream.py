"""Two RtpStreams speaking SRTP on 127.0.0.1 through a tap that records every datagram: what
crosses the wire is not the G.711 payload, and yet a tone arrives at its frequency, RFC 4733
digits arrive, SRTCP reports give a round-trip time, and new keys (a re-INVITE re-keying)
take over. A stream with another key hears nothing and counts the packets as invalid.

No sleeps: each wait is on a future a callback completes, with a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from telesip.calls.rtp_ports import PortPool
from telesip.calls.rtp_stream import RtpStream
from telesip.media import MediaParams, RtpPacket, SineGenerator, alaw_decode, dominant_frequency
from telesip.media.srtp import SrtpKeys, SrtpTransform
from tests.calls.test_srtp_e2e import tone_share

HOST = "127.0.0.1"
TIMEOUT = 5.0
SUITE = "AES_CM_128_HMAC_SHA1_80"
KEY_A, KEY_B = bytes(range(30)), bytes(range(100, 130))


def params(local: bytes, remote: bytes, suite: str = SUITE) -> MediaParams:
    return MediaParams("PCMA", 8, dtmf_payload_type=101, srtp=SrtpKeys(suite, local, remote))


@dataclass
class Tap(asyncio.DatagramProtocol):
    """A relay between two streams' ports that keeps what each side sent (RTP and RTCP)."""

    a: int
    b: int
    wire: list[tuple[int, bytes]] = field(default_factory=list)  # (destination port, bytes)
    transport: Any = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        to = self.b if addr[1] == self.a else self.a
        self.wire.append((to, data))
        self.transport.sendto(data, (HOST, to))


async def _tap(a: int, b: int) -> Tap:
    tap = Tap(a, b)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: tap, local_addr=(HOST, 0))
    tap.transport = transport
    return tap


@pytest.fixture
async def srtp_pair() -> AsyncIterator[tuple[RtpStream, RtpStream, Tap]]:
    pool = PortPool("42200-42299")
    a = await RtpStream.open(pool, HOST, params(KEY_A, KEY_B), rtcp_interval=0.2)
    b = await RtpStream.open(pool, HOST, params(KEY_B, KEY_A), rtcp_interval=0.2)
    tap = await _tap(a.local_port, b.local_port)
    rtcp_tap = await _tap(a.local_port + 1, b.local_port + 1)
    port = tap.transport.get_extra_info("sockname")[1]
    rtcp_port = rtcp_tap.transport.get_extra_info("sockname")[1]
    a.set_remote(HOST, port, rtcp_port)
    b.set_remote(HOST, port, rtcp_port)
    tap.wire = rtcp_tap.wire  # one record of both
    yield a, b, tap
    await a.close()
    await b.close()
    tap.transport.close()
    rtcp_tap.transport.close()


async def _tone(stream: RtpStream, freq: float, seconds: float = 0.6) -> np.ndarray:
    """Play `freq` from the peer of `stream` until `stream` has heard `seconds` of it."""
    got: list[np.ndarray] = []
    done = asyncio.get_running_loop().create_future()

    def hear(frame: np.ndarray) -> None:
        if got or np.any(frame):
            got.append(frame.copy())
        if len(got) * 160 >= seconds * 8000 and not done.done():
            done.set_result(None)

    stream.on_pcm(hear)
    await asyncio.wait_for(done, TIMEOUT)
    stream.on_pcm(None)
    return np.concatenate(got)[800:]  # past the first frames of the jitter buffer


def play(stream: RtpStream, freq: float) -> None:
    gen = SineGenerator(freq, -10.0)
    stream.on_pcm(lambda _frame: stream.send_pcm(gen.frame()))


async def test_the_wire_carries_no_clear_audio_yet_the_tone_digits_and_reports_arrive(
    srtp_pair: tuple[RtpStream, RtpStream, Tap],
) -> None:
    a, b, tap = srtp_pair
    assert a.encrypted and b.encrypted
    play(a, 1000)
    heard = await _tone(b, 1000)
    assert abs(dominant_frequency(heard) - 1000) < 15
    # RFC 4733 digits are RTP packets too: protected, and still understood
    digits: list[str] = []
    got = asyncio.get_running_loop().create_future()

    def on_digit(d: str) -> None:
        digits.append(d)
        if len(digits) == 3 and not got.done():
            got.set_result(None)

    b.on_dtmf(on_digit)
    for d in "5#9":
        a.send_dtmf(d)
    await asyncio.wait_for(got, TIMEOUT)
    assert digits == ["5", "#", "9"]
    # SRTCP: both sides read the other's reports (a round-trip time needs both directions)
    play(b, 440)
    reports = asyncio.get_running_loop().create_future()
    a.on_pcm(
        lambda _f: None if reports.done() or b.stats.rtt_ms is None else reports.set_result(None)
    )
    await asyncio.wait_for(reports, TIMEOUT)
    assert a.stats.rtcp_received >= 1 and b.stats.rtcp_received >= 1 and b.stats.invalid == 0

    to_b = [data for port, data in tap.wire if port == b.local_port]
    assert len(to_b) > 30
    clear = SrtpTransform(SrtpKeys(SUITE, bytes(30), KEY_A))
    encrypted_audio = []
    for data in to_b:
        plain = RtpPacket.parse(clear.unprotect(data))
        assert len(data) == len(plain.to_bytes()) + 10  # the 80-bit tag
        assert plain.payload not in data  # the payload is not on the wire
        if plain.payload_type == 8:
            encrypted_audio.append(data[12 : 12 + len(plain.payload)])
    # read as G.711, what crossed the wire is noise, not the 1 kHz tone
    noise = alaw_decode(b"".join(encrypted_audio))
    assert tone_share(noise, 1000) < 0.1
    rtcp_to_b = [data for port, data in tap.wire if port == b.local_port + 1]
    assert rtcp_to_b and all(len(d) > 8 and d[-14] & 0x80 for d in rtcp_to_b)  # E flag: SRTCP


async def test_new_keys_take_over_and_a_stranger_key_hears_nothing(
    srtp_pair: tuple[RtpStream, RtpStream, Tap],
) -> None:
    a, b, _tap = srtp_pair
    play(a, 1000)
    assert abs(dominant_frequency(await _tone(b, 1000, 0.3)) - 1000) < 15
    # re-keying (a re-INVITE with new a=crypto): both sides' new keys, and the tone goes on
    new_a, new_b = bytes(range(50, 80)), bytes(range(150, 180))
    a.update(replace(params(new_a, new_b), remote_addr=None))
    b.update(replace(params(new_b, new_a), remote_addr=None))
    assert abs(dominant_frequency(await _tone(b, 1000, 0.3)) - 1000) < 15
    # a receiver with another key: every packet refused, nothing played
    invalid = b.stats.invalid
    b.update(params(new_b, KEY_B))
    silent = asyncio.get_running_loop().create_future()

    def count(_frame: np.ndarray) -> None:
        if b.stats.invalid >= invalid + 20 and not silent.done():
            silent.set_result(None)

    b.on_pcm(count)
    received = b.stats.packets_received
    await asyncio.wait_for(silent, TIMEOUT)
    assert b.stats.packets_received == received  # none of them got through
