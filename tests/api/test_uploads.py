"""The multipart reader: the ``file`` part found whatever the chunking, other parts skipped,
the limit counted as bytes arrive, and malformed bodies refused with a sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telesip.api.uploads import BadUpload, PayloadTooLarge, spool_file_part

CT = "multipart/form-data; boundary=XyZ"
CONTENT = b'login;password;server\r\n101;"--XyZ";h\r\n' * 50
BODY = (
    b'preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a b.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\n" + CONTENT + b"\r\n--XyZ--\r\n"
)


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
async def test_the_file_part_whatever_the_chunks(size: int) -> None:
    upload = await spool_file_part(chunks(BODY, size), CT, limit=1 << 20)
    assert upload.file.read() == CONTENT and upload.filename == "a b.csv"


async def test_limits_and_malformed_bodies() -> None:
    with pytest.raises(PayloadTooLarge):
        await spool_file_part(chunks(BODY, 100), CT, limit=1000)
    for content_type, body in [
        ("text/csv", BODY),
        ("multipart/form-data", BODY),
        (CT, BODY.replace(b'name="file"', b'name="other"')),
        (CT, BODY[: len(BODY) // 2]),
        (CT, b'--XyZ\r\nContent-Disposition: form-data; name="file"' + b"x" * 20_000),
        (CT, b""),
    ]:
        with pytest.raises(BadUpload):
            await spool_file_part(chunks(body, 7), content_type, limit=1 << 20)
