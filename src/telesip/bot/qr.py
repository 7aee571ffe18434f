"""The QR code of a settings link, as the PNG the bot sends (sendPhoto).

Encoded here, in byte mode at error correction level M with mask 0 (every mask decodes;
trying all eight was most of the cost), the same modules ``qrcode`` makes for the same data
with those settings (tests/bot/test_qr.py compares them): what depends only on the version
(the function patterns, the order the data modules are filled in, the mask) is worked out once
per version, and the error correction codewords come from a table per generator polynomial, so
a link's code costs a few big-integer steps a codeword and one pass over its modules.
``qrcode`` computed the same with a polynomial object per step (0.6 ms a link, a fifth of the
bot's work for a new link). Its tables (blocks per version, alignment pattern positions, the
format and version information's BCH codes) are used as they are.

The PNG is written from the modules: one bit per pixel (grey, depth 1), so at 8 pixels a
module each module is exactly one byte of a row (0x00 dark, 0xFF light) and each row of
modules is 8 identical scanlines, compressed at zlib's fastest level (a few hundred bytes
more than its default level, at a fifth of the time). No image library is involved.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache
from operator import itemgetter

from qrcode.base import rs_blocks
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import BCH_type_info, BCH_type_number, pattern_position

#: pixels a module (one byte of a 1-bit scanline)
SCALE = 8
#: light modules around the code
BORDER = 2
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_VERSION = 40

# GF(256) with the QR code's polynomial x^8 + x^4 + x^3 + x^2 + 1
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


@cache
def _ec_table(degree: int) -> tuple[int, ...]:
    """For each value of the leading byte, what dividing it out by the generator polynomial of
    ``degree`` XORs into the remainder (``degree`` bytes as one integer)."""
    generator = [1]  # coefficients, highest power first: the product of (x - a^i), i < degree
    for i in range(degree):
        nxt = [*generator, 0]
        for j, c in enumerate(generator):
            if c:
                nxt[j + 1] ^= _EXP[_LOG[c] + i]
        generator = nxt
    rows = [0]
    for factor in range(1, 256):
        lf = _LOG[factor]
        row = 0
        for c in generator[1:]:
            row = (row << 8) | (_EXP[lf + _LOG[c]] if c else 0)
        rows.append(row)
    return tuple(rows)


def _ec_codewords(data: bytes, degree: int) -> bytes:
    """The Reed-Solomon error correction codewords of one block."""
    table = _ec_table(degree)
    shift = 8 * (degree - 1)
    mask = (1 << (8 * degree)) - 1
    rem = 0
    for byte in data:
        rem = ((rem << 8) & mask) ^ table[(rem >> shift) ^ byte]
    return rem.to_bytes(degree, "big")


class _Layout:
    """What a QR code of one version is, whatever its data: the modules of the function
    patterns (with the format information of level M and mask 0), the data modules in the
    order the codewords' bits fill them, and the mask over them."""

    def __init__(self, version: int) -> None:
        self.version = version
        n = self.size = 4 * version + 17
        blocks = rs_blocks(version, ERROR_CORRECT_M)
        self.blocks = [(b.data_count, b.total_count - b.data_count) for b in blocks]
        self.capacity = sum(d for d, _ in self.blocks)
        grid: list[list[bool | None]] = [[None] * n for _ in range(n)]
        for row, col in ((0, 0), (n - 7, 0), (0, n - 7)):  # finders, with their separators
            for r in range(-1, 8):
                for c in range(-1, 8):
                    if 0 <= row + r < n and 0 <= col + c < n:
                        ring = r in (0, 6) or c in (0, 6)
                        inside = 0 <= r <= 6 and 0 <= c <= 6
                        grid[row + r][col + c] = inside and (ring or (2 <= r <= 4 and 2 <= c <= 4))
        centres = pattern_position(version)
        for row in centres:  # alignment patterns, except over the finders
            for col in centres:
                if grid[row][col] is not None:
                    continue
                for r in range(-2, 3):
                    for c in range(-2, 3):
                        grid[row + r][col + c] = max(abs(r), abs(c)) != 1
        for i in range(8, n - 8):  # timing patterns
            if grid[i][6] is None:
                grid[i][6] = i % 2 == 0
            if grid[6][i] is None:
                grid[6][i] = i % 2 == 0
        info = BCH_type_info((ERROR_CORRECT_M << 3) | 0)  # level M, mask 0
        for i in range(15):
            bit = (info >> i) & 1 == 1
            grid[i if i < 6 else i + 1 if i < 8 else n - 15 + i][8] = bit
            grid[8][n - i - 1 if i < 8 else 15 - i if i < 9 else 14 - i] = bit
        grid[n - 8][8] = True  # the dark module
        if version >= 7:
            bits = BCH_type_number(version)
            for i in range(18):
                bit = (bits >> i) & 1 == 1
                grid[i // 3][i % 3 + n - 11] = bit
                grid[i % 3 + n - 11][i // 3] = bit
        self.template = bytearray(
            1 if grid[r][c] else 0 for r in range(n) for c in range(n)
        )  # function modules (data modules 0 for now)
        order: list[int] = []  # flat indexes of the data modules, in filling order
        up = True
        col = n - 1
        while col > 0:
            if col == 6:  # the vertical timing pattern's column is skipped
                col -= 1
            rows = range(n - 1, -1, -1) if up else range(n)
            for r in rows:
                for c in (col, col - 1):
                    if grid[r][c] is None:
                        order.append(r * n + c)
            up = not up
            col -= 2
        # the modules row by row, gathered from the data modules' bits (in filling order)
        # followed by the template: one C-level pass per code instead of a Python loop
        place = [len(order) + i for i in range(n * n)]
        for k, at in enumerate(order):
            place[at] = k
        self._gather = itemgetter(*place)
        self._data_modules = len(order)
        mask = "".join("1" if (at // n + at % n) % 2 == 0 else "0" for at in order)
        self._mask = int(mask, 2)  # mask 0: (row + col) even

    def codewords(self, data: bytes) -> bytes:
        """Byte mode: the mode, the count, the data, the terminator, padding; then the blocks
        with their error correction, interleaved."""
        count_bits = 8 if self.version < 10 else 16
        bits = (0b0100 << count_bits) | len(data)
        bits = (bits << (8 * len(data))) | int.from_bytes(data, "big")
        used = 4 + count_bits + 8 * len(data)
        room = 8 * self.capacity
        terminator = min(4, room - used)
        bits <<= terminator
        used += terminator
        if used % 8:
            bits <<= 8 - used % 8
            used += 8 - used % 8
        stream = bits.to_bytes(used // 8, "big")
        pad = self.capacity - len(stream)
        stream += (b"\xec\x11" * (pad // 2 + 1))[:pad]
        data_blocks: list[bytes] = []
        ec_blocks: list[bytes] = []
        at = 0
        for size, ec in self.blocks:
            block = stream[at : at + size]
            at += size
            data_blocks.append(block)
            ec_blocks.append(_ec_codewords(block, ec))
        out = bytearray()
        for group in (data_blocks, ec_blocks):
            for i in range(max(map(len, group))):
                out += bytes(block[i] for block in group if i < len(block))
        return bytes(out)

    def modules(self, data: bytes) -> bytearray:
        """The code's modules, row by row (1 dark, 0 light)."""
        words = self.codewords(data)
        count = self._data_modules
        spare = count - 8 * len(words)  # remainder modules: light before the mask
        bits = (int.from_bytes(words, "big") << spare) ^ self._mask
        seq = format(bits, f"0{count}b").encode().translate(_DIGITS) + self.template
        return bytearray(self._gather(seq))


_DIGITS = bytes(48) + b"\x00\x01" + bytes(206)  # b"0" -> 0, b"1" -> 1


@cache
def _layout(version: int) -> _Layout:
    return _Layout(version)


def _fitting(length: int) -> _Layout:
    """The smallest version that holds ``length`` bytes at level M."""
    for version in range(1, _MAX_VERSION + 1):
        layout = _layout(version)
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * length <= 8 * layout.capacity:
            return layout
    raise ValueError(f"{length} bytes do not fit in a QR code at level M")


def _bordered(data: str) -> tuple[bytearray, int]:
    raw = data.encode()
    layout = _fitting(len(raw))
    modules, n = layout.modules(raw), layout.size
    side = n + 2 * BORDER
    out = bytearray(side * BORDER)
    edge = bytes(BORDER)
    for r in range(n):
        out += edge + modules[r * n : (r + 1) * n] + edge
    out += bytes(side * BORDER)
    return out, side


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules (True: dark), with a ``BORDER``-module quiet zone."""
    flat, side = _bordered(data)
    return [[bool(m) for m in flat[r * side : (r + 1) * side]] for r in range(side)]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


_TO_PIXELS = bytes([0xFF, 0x00]) + bytes(254)  # module 0 (light) -> 0xFF, 1 (dark) -> 0x00


def qr_png(data: str) -> bytes:
    """A black-on-white PNG of the QR code of ``data``, ``SCALE`` pixels a module."""
    flat, side = _bordered(data)
    pixels = flat.translate(_TO_PIXELS)
    scanlines = b"".join(
        (b"\x00" + pixels[r * side : (r + 1) * side]) * SCALE for r in range(side)
    )  # each scanline starts with its filter type, 0 (none)
    header = struct.pack(">IIBBBBB", side * SCALE, side * SCALE, 1, 0, 0, 0, 0)  # depth 1, grey
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(scanlines, 1))
        + _chunk(b"IEND", b"")
    )
