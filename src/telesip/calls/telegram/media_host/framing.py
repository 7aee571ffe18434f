"""The wire between a ``MediaHost`` and its child, both ways over the child's stdin and stdout:
frames of a 4-byte big-endian length, one kind byte, a 4-byte media id and the payload.

- ``C`` a request ``{"id", "op", "args"}`` (parent to child) or its answer ``{"id", "ok"}`` /
  ``{"id", "error"}``; JSON, the adapter's values as ``telegram.codec`` writes them
- ``P`` PCM, int16 little-endian at the call's rate: to send, or heard (whole 10 ms frames,
  two at a time)
- ``S`` a signaling blob: from the peer (to the child), or for the peer (from it)
- ``T`` the media's state (from the child), ASCII: one of :data:`STATES`

The child answers requests in order and handles ``S`` and ``P`` in order with them. Nothing
else is written on its stdout: it points fd 1 at stderr before ntgcalls loads, and keeps a
copy of the original for the wire.
"""

from __future__ import annotations

import asyncio
import struct

_HEADER = struct.Struct(">IBI")  # length of what follows the length, kind, media id
MAX_FRAME = 1 << 20
#: what a ``T`` frame may say; the settled ones end a call's turn to negotiate
STATES: frozenset[str] = frozenset({"connecting", "connected", "failed", "timeout", "closed"})
SETTLED: frozenset[str] = frozenset({"connected", "failed", "timeout", "closed"})


def frame(kind: bytes, media_id: int, payload: bytes) -> bytes:
    return _HEADER.pack(len(payload) + 5, kind[0], media_id) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[bytes, int, bytes]:
    length, kind, media_id = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if not 5 <= length <= MAX_FRAME:
        raise ValueError(f"a frame of {length} bytes")
    return bytes([kind]), media_id, await reader.readexactly(length - 5)


Frame = tuple[bytes, int, bytes]


class FrameReader:
    """Whole frames from a stream, as many as one read brings: one await for a burst of
    frames (every call's audio arrives 50 times a second), where ``read_frame`` takes two
    per frame."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buf = bytearray()

    async def frames(self) -> list[Frame]:
        """At least one frame; ``asyncio.IncompleteReadError`` at the end of the stream."""
        while not (out := self._parse()):
            data = await self._reader.read(1 << 16)
            if not data:
                raise asyncio.IncompleteReadError(bytes(self._buf), None)
            self._buf += data
        return out

    def _parse(self) -> list[Frame]:
        buf, pos, out = self._buf, 0, []
        while len(buf) - pos >= _HEADER.size:
            length, kind, media_id = _HEADER.unpack_from(buf, pos)
            if not 5 <= length <= MAX_FRAME:
                raise ValueError(f"a frame of {length} bytes")
            end = pos + 4 + length
            if end > len(buf):
                break
            out.append((bytes([kind]), media_id, bytes(buf[pos + _HEADER.size : end])))
            pos = end
        if pos:
            del buf[:pos]
        return out
