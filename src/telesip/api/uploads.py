"""A file uploaded as ``multipart/form-data``, read as it arrives: the part named ``file`` is
written to a spooled temporary file (memory up to ``SPOOL_IN_MEMORY``, then disk) and the other
parts are skipped, so a large upload never sits whole in memory.

Invariants: at most ``limit`` bytes of the body are read (``PayloadTooLarge`` beyond, counted as
they arrive: a chunked body has no Content-Length); a body that is not well-formed multipart,
or has no ``file`` part, is ``BadUpload`` with a sentence saying what to send. Nothing of the
content is logged or put in an error (an import file holds passwords).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from typing import BinaryIO, cast

SPOOL_IN_MEMORY = 1024 * 1024
MAX_PART_HEADERS = 16 * 1024
FIELD = "file"


class BadUpload(Exception):
    """The body is not a ``multipart/form-data`` upload with a ``file`` part."""


class PayloadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass
class Upload:
    file: BinaryIO  # at its start; close it when done
    filename: str | None


def boundary_of(content_type: str) -> bytes:
    """The ``boundary`` of a ``multipart/form-data`` content type (``BadUpload`` if none)."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise BadUpload("send multipart/form-data with a boundary")
    if not 1 <= len(boundary) <= 200:
        raise BadUpload("the multipart boundary must be 1-200 characters")
    return boundary.encode("latin-1", "replace")


async def spool_file_part(chunks: AsyncIterator[bytes], content_type: str, *, limit: int) -> Upload:
    """Read ``chunks`` (a request body) until the end of its ``file`` part; see the module."""
    delimiter = b"\r\n--" + boundary_of(content_type)
    keep = len(delimiter) - 1  # bytes that may be the start of a delimiter split by a chunk
    buffer = b"\r\n"  # the first delimiter starts the body: let it match like the others
    total = 0
    source = chunks.__aiter__()

    async def more() -> bool:
        nonlocal buffer, total
        try:
            chunk = await anext(source)
        except StopAsyncIteration:
            return False
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(limit)
        buffer += chunk
        return True

    spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115 - returned open
    out = cast(BinaryIO, spool)
    try:
        while True:
            # find the next part's delimiter (skipping the preamble or a part that is no file)
            at = buffer.find(delimiter)
            while at < 0:
                buffer = buffer[-keep:]
                if not await more():
                    raise BadUpload(f"no '{FIELD}' part in the multipart body")
                at = buffer.find(delimiter)
            buffer = buffer[at + len(delimiter) :]
            while len(buffer) < 2 and await more():
                pass
            if buffer.startswith(b"--"):
                raise BadUpload(f"no '{FIELD}' part in the multipart body")
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(buffer) > MAX_PART_HEADERS or not await more():
                    raise BadUpload("a multipart part's headers are not complete")
                end = buffer.find(b"\r\n\r\n")
            headers = HeaderParser().parsestr(buffer[:end].decode("latin-1").strip() + "\n\n")
            buffer = buffer[end + 4 :]
            if headers.get_param("name", header="content-disposition") != FIELD:
                continue
            filename = headers.get_filename()
            at = buffer.find(delimiter)
            while at < 0:
                if len(buffer) > keep:
                    out.write(buffer[:-keep])
                    buffer = buffer[-keep:]
                if not await more():
                    raise BadUpload(f"the '{FIELD}' part is not closed by the boundary")
                at = buffer.find(delimiter)
            out.write(buffer[:at])
            out.seek(0)
            return Upload(out, filename if isinstance(filename, str) else None)
    except BaseException:
        out.close()
        raise
