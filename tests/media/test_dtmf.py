"""RFC 4733 telephone events: payload, the sender's packet series, the receiver's de-duplication."""

from __future__ import annotations

import pytest

from telesip.media import (
    DtmfEvent,
    DtmfReceiver,
    DtmfSender,
    InvalidDigit,
    MalformedPacket,
    decode_event,
    encode_event,
)


def test_payload_layout() -> None:
    # event 5, E=1, volume 10, duration 800 (RFC 4733 §2.3)
    assert encode_event("5", end=True, volume=10, duration=800) == bytes.fromhex("058a0320")
    assert encode_event("*") == bytes.fromhex("0a0a0000")
    assert encode_event("#")[0] == 11 and encode_event("d")[0] == 15
    assert decode_event(bytes.fromhex("0b8a0640")) == DtmfEvent("#", True, 10, 1600)


@pytest.mark.parametrize("digit", ["", "E", "55", "+", " "])
def test_invalid_digits(digit: str) -> None:
    with pytest.raises(InvalidDigit):
        encode_event(digit)


@pytest.mark.parametrize("payload", [b"", b"\x05\x8a\x03", bytes.fromhex("108a0320")])
def test_invalid_payloads(payload: bytes) -> None:
    with pytest.raises(MalformedPacket):  # short, or event 16 (flash) which is not a digit
        decode_event(payload)


def test_sender_packet_series() -> None:
    packets = DtmfSender("7", 5000, duration=800, step=160).packets()
    events = [decode_event(p.payload) for p in packets]
    assert [p.timestamp for p in packets] == [5000] * 7
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert {e.digit for e in events} == {"7"}


def test_sender_one_packet_per_call_then_none() -> None:
    sender = DtmfSender("1", 0, duration=320)
    assert not sender.done
    got = [sender.next_packet() for _ in range(5)]
    assert [p is not None for p in got] == [True, True, True, True, False]
    assert sender.done


def _series(digit: str, ts: int) -> list[bytes]:
    return [p.payload for p in DtmfSender(digit, ts).packets()]


def test_receiver_reports_each_event_once() -> None:
    rx = DtmfReceiver()
    assert [rx.feed(100, p) for p in _series("3", 100)] == ["3"] + [None] * 6


def test_receiver_tolerates_a_lost_start() -> None:
    rx = DtmfReceiver()
    series = _series("9", 100)[2:]  # start and first update lost
    assert [rx.feed(100, p) for p in series] == ["9"] + [None] * (len(series) - 1)


def test_receiver_only_the_end_packets_arrive() -> None:
    rx = DtmfReceiver()
    ends = _series("A", 7)[-3:]
    assert [rx.feed(7, p) for p in ends] == ["A", None, None]


def test_receiver_two_same_digits_in_a_row() -> None:
    rx = DtmfReceiver()
    got = [rx.feed(1000, p) for p in _series("5", 1000)]
    got += [rx.feed(3000, p) for p in _series("5", 3000)]
    assert [d for d in got if d] == ["5", "5"]


def test_receiver_ignores_a_late_packet_of_the_previous_event() -> None:
    rx = DtmfReceiver()
    first, second = _series("1", 1000), _series("2", 2000)
    assert rx.feed(1000, first[0]) == "1"
    assert rx.feed(2000, second[0]) == "2"
    assert rx.feed(1000, first[-1]) is None  # its end arrives late, after the next digit


def test_receiver_timestamp_wraparound() -> None:
    rx = DtmfReceiver()
    assert rx.feed(0xFFFFFF00, _series("1", 0)[0]) == "1"
    assert rx.feed(0x00000060, _series("1", 0)[0]) == "1"
