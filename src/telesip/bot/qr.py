"""The QR code of a settings link, as the PNG the bot sends (sendPhoto).

The modules come from ``qrcode``; the PNG is written here, straight from them: one bit per
pixel (grey, depth 1), so at 8 pixels a module each module is exactly one byte of a row
(0x00 dark, 0xFF light) and each row of modules is 8 identical scanlines. No image library
is involved: drawing with Pillow (an 8-bit image, resized, converted to 1 bit, encoded) cost
as much as computing the code itself, on every link the bot sends.
"""

from __future__ import annotations

import struct
import zlib

import qrcode

#: pixels a module (one byte of a 1-bit scanline)
SCALE = 8
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# The smallest version (size) that holds data of each length, found once: every link of a bot
# has the same length, and finding it encodes the data an extra time.
_VERSIONS: dict[int, int] = {}


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code's modules (True: dark), with a two-module quiet zone. The mask is fixed:
    every mask decodes, and trying all eight was 85 % of the cost (17 of 20 ms a link)."""
    size = len(data.encode())
    code = qrcode.QRCode(version=_VERSIONS.get(size), border=2, mask_pattern=0)
    code.add_data(data)
    code.make(fit=size not in _VERSIONS)
    if code.version is not None:
        _VERSIONS[size] = code.version
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def qr_png(data: str) -> bytes:
    """A black-on-white PNG of the QR code of ``data``, ``SCALE`` pixels a module."""
    matrix = qr_matrix(data)
    side = len(matrix) * SCALE
    scanlines = b"".join(
        (b"\x00" + bytes(0x00 if dark else 0xFF for dark in row)) * SCALE for row in matrix
    )  # each scanline starts with its filter type, 0 (none)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # depth 1, grey, no interlace
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(scanlines, 6))
        + _chunk(b"IEND", b"")
    )
