"""Any bytes give a message or a ParseError, never another exception."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telesip.sip import Keepalive, ParseError, StreamFramer, parse_message

from .helpers import mutate

SEEDS = [
    p.read_bytes() for p in sorted((Path(__file__).parent / "data" / "torture").rglob("*.sip"))
]


def _parse(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_message(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _parse(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_torture_messages(seed: bytes, data: st.DataObject) -> None:
    _parse(mutate(seed, data, [b"\r\n", b" ", b";", b",", b"<", b'"', b":"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=6))
def test_stream_framer_never_raises_anything_else(chunks: list[bytes]) -> None:
    framer = StreamFramer()
    try:
        for chunk in chunks:
            for frame in framer.feed(chunk):
                if not isinstance(frame, Keepalive):
                    _parse_stream(frame)
    except ParseError:
        pass


def _parse_stream(frame: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_message(frame, is_stream=True)
