"""G.711 against the ITU-T G.711 tables (1a/1b A-law, 2a/2b μ-law) and the reference code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from telesip.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

# ITU-T G.711 Table 1a: A-law decoder output per segment (chord), in the table's units (4096 =
# full scale): the value of step 0 and the distance between steps. 16-bit linear = units x 8.
ALAW_SEGMENTS = [(1, 2), (33, 2), (66, 4), (132, 8), (264, 16), (528, 32), (1056, 64), (2112, 128)]
# Table 2a: μ-law decoder output per segment, units of 8159 full scale; 16-bit = units x 4.
ULAW_SEGMENTS = [
    (0, 2),
    (33, 4),
    (99, 8),
    (231, 16),
    (495, 32),
    (1023, 64),
    (2079, 128),
    (4191, 256),
]


def _alaw_table() -> dict[int, int]:
    """Transmitted code -> 16-bit value, from Table 1a (character, then even-bit inversion)."""
    out = {}
    for seg, (first, step) in enumerate(ALAW_SEGMENTS):
        for k in range(16):
            value = (first + k * step) * 8
            character = (seg << 4) | k
            out[(0x80 | character) ^ 0x55] = value  # positive: sign bit 1
            out[character ^ 0x55] = -value
    return out


def _ulaw_table() -> dict[int, int]:
    """Transmitted code -> 16-bit value, from Table 2a (magnitude bits inverted)."""
    out = {}
    for seg, (first, step) in enumerate(ULAW_SEGMENTS):
        for k in range(16):
            value = (first + k * step) * 4
            inverted = 0x7F - ((seg << 4) | k)
            out[0x80 | inverted] = value
            out[inverted] = -value
    return out


def test_alaw_decoder_matches_table_1a() -> None:
    table = _alaw_table()
    assert len(table) == 256
    decoded = alaw_decode(bytes(range(256)))
    assert decoded.dtype == np.int16
    assert {c: int(decoded[c]) for c in range(256)} == table


def test_ulaw_decoder_matches_table_2a() -> None:
    table = _ulaw_table()
    assert len(table) == 256  # +0 (0xFF) and -0 (0x7F) are both present
    decoded = ulaw_decode(bytes(range(256)))
    assert {c: int(decoded[c]) for c in range(256)} == table


@pytest.mark.parametrize(
    ("linear", "code"),
    [
        (0, 0xD5),  # the A-law "zero": 1000 0000 before the even-bit inversion
        (15, 0xD5),
        (16, 0xD4),
        (-1, 0x55),
        (255, 0xDA),
        (256, 0xC5),
        (32767, 0xAA),
        (-32768, 0x2A),
        (1000, 0xFA),
    ],
)
def test_alaw_known_code_words(linear: int, code: int) -> None:
    assert alaw_encode(np.array([linear], np.int16)) == bytes([code])


@pytest.mark.parametrize(
    ("linear", "code"),
    [(0, 0xFF), (3, 0xFF), (8, 0xFE), (1000, 0xCE), (32767, 0x80), (-32768, 0x00), (-9, 0x7D)],
)
def test_ulaw_known_code_words(linear: int, code: int) -> None:
    assert ulaw_encode(np.array([linear], np.int16)) == bytes([code])


def test_alaw_even_bit_inversion() -> None:
    codes = np.frombuffer(alaw_encode(np.arange(-32768, 32768, dtype=np.int16)), np.uint8)
    characters = codes ^ 0x55
    # Before the inversion, the sign bit is 1 for positive and the magnitude grows with the value.
    positive = characters[32768:]
    assert np.all(positive & 0x80)
    assert np.all(np.diff(positive.astype(int) & 0x7F) >= 0)
    assert positive[0] == 0x80 and positive[-1] == 0xFF


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_all_256_codes_round_trip(law: str) -> None:
    encode, decode = (alaw_encode, alaw_decode) if law == "alaw" else (ulaw_encode, ulaw_decode)
    codes = bytes(range(256))
    again = encode(decode(codes))
    expected = bytearray(codes)
    if law == "ulaw":
        expected[0x7F] = 0xFF  # μ-law's negative zero decodes to 0, which encodes as +0
    assert again == bytes(expected)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_sign_symmetry(law: str) -> None:
    decode = alaw_decode if law == "alaw" else ulaw_decode
    values = decode(bytes(range(256))).astype(int)
    assert np.array_equal(values[:128], -values[128:])


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_quantisation_error_is_logarithmic(law: str) -> None:
    encode, decode = (alaw_encode, alaw_decode) if law == "alaw" else (ulaw_encode, ulaw_decode)
    x = np.arange(-32768, 32768, dtype=np.int16)
    y = decode(encode(x)).astype(int)
    error = np.abs(y - x.astype(int))
    # A logarithmic quantiser: half a step is at most ~1/32 of the value (1/28 with μ-law's
    # bias), and near zero the steps are small and linear.
    small = np.abs(x.astype(int)) < 1024
    assert error[small].max() <= (16 if law == "alaw" else 35)
    assert np.all(error[~small] <= np.abs(x[~small].astype(int)) / 28)


def test_bit_exact_with_the_reference_implementation() -> None:
    """Python's audioop (removed in 3.13) is the ITU/Sun reference code; compare every input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    x = np.arange(-32768, 32768, dtype=np.int16)
    assert alaw_encode(x) == audioop.lin2alaw(x.tobytes(), 2)
    assert ulaw_encode(x) == audioop.lin2ulaw(x.tobytes(), 2)
    codes = bytes(range(256))
    assert alaw_decode(codes).tobytes() == audioop.alaw2lin(codes, 2)
    assert ulaw_decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)


def test_a_frame_is_one_byte_per_sample_and_accepts_other_int_types() -> None:
    frame = (np.arange(160) * 100).astype(np.int32)
    assert len(alaw_encode(frame)) == 160
    assert np.array_equal(alaw_decode(alaw_encode(frame)), alaw_decode(alaw_encode(frame)))
