"""Encodings and limits: BOMs, Windows-1251, UTF-16, files that are not text, long lines, big
files and a 100,000-row file that is refused after reading only its first rows."""

from __future__ import annotations

import codecs
import io

import pytest

from telesip.importing import parse
from telesip.importing.source import Limits
from tests.importing.helpers import codes, load, parse_bytes, sample

CSV = "login;password;server;display_name\n101;пароль,1;pbx.example.com;Иван Петров\n"


def test_utf8_with_bom() -> None:
    result = load(codecs.BOM_UTF8 + CSV.encode())
    assert result.rows[0].settings.display_name == "Иван Петров"
    assert result.rows[0].settings.password.reveal() == "пароль,1"
    assert parse_bytes(codecs.BOM_UTF8 + CSV.encode()).encoding == "utf-8-sig"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom(encoding: str) -> None:
    data = CSV.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    result = load(data)
    assert not result.issues
    assert result.rows[0].settings.display_name == "Иван Петров"


def test_cp1251_fallback_with_a_note() -> None:
    result = load(CSV.encode("cp1251"))
    assert result.rows[0].settings.display_name == "Иван Петров"
    assert result.rows[0].settings.password.reveal() == "пароль,1"
    assert [n.code for n in result.notes] == ["import.note.cp1251"]


def test_cp1251_found_after_the_first_chunk_rereads_from_the_start() -> None:
    ascii_rows = "".join(f"{n};secret{n};pbx.example.com;Desk {n}\n" for n in range(3000))
    text = "login;password;server;display_name\n" + ascii_rows + "9999;x;pbx.example.com;Юля\n"
    assert len(text) > 64 * 1024
    result = load(text.encode("cp1251"))
    assert len(result.rows) == 3001 and not result.issues
    assert result.rows[-1].settings.display_name == "Юля"
    assert [n.code for n in result.notes] == ["import.note.cp1251"]


class _OneWay(io.RawIOBase):
    """A stream that cannot seek (a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_not_utf8_on_a_stream_that_cannot_seek_is_one_clear_error() -> None:
    result = parse(io.BufferedReader(_OneWay(CSV.encode("cp1251"))))  # type: ignore[arg-type]
    assert codes(result) == [(None, "import.bad_encoding")]


@pytest.mark.parametrize(
    "data",
    [
        CSV.encode("utf-16-le"),  # UTF-16 without its mark: NUL bytes
        b"login,password,server\n1,\x98\x98,pbx\n",  # 0x98 is no character in Windows-1251
        codecs.BOM_UTF8 + b"login,password,server\n1,\xff,pbx\n",  # a mark, then not UTF-8
        bytes(range(256)) * 4,
    ],
)
def test_undecodable_file_is_one_clear_error(data: bytes) -> None:
    result = parse_bytes(data)
    assert [i.code for i in result.issues] == ["import.bad_encoding"]
    assert result.refused and not result.rows


@pytest.mark.parametrize(
    ("magic", "kind"),
    [(b"PK\x03\x04", "ZIP (XLSX, ODS)"), (b"\xd0\xcf\x11\xe0", "XLS"), (b"%PDF-1.7", "PDF")],
)
def test_spreadsheets_and_documents_are_named(magic: bytes, kind: str) -> None:
    result = parse_bytes(magic + b"\x00" * 100)
    assert codes(result) == [(None, "import.not_text")]
    assert result.issues[0].params == {"kind": kind}


@pytest.mark.parametrize("data", [b"", b"  \r\n\n", codecs.BOM_UTF8])
def test_empty_file(data: bytes) -> None:
    assert codes(parse_bytes(data)) == [(None, "import.empty")]


def test_line_too_long() -> None:
    data = b"login,password,server\n1,x,pbx.example.com\n2," + b"y" * 10_000 + b",pbx\n"
    result = parse_bytes(data, limits=Limits(max_line_length=4096))
    assert codes(result) == [(3, "import.line_too_long")]
    assert result.issues[0].params == {"limit": 4096}
    assert "yyyy" not in result.issues[0].message


def test_a_line_without_end_longer_than_a_chunk_stops_early() -> None:
    stream = io.BytesIO(b"login,password,server\n" + b"z" * (10 * 1024 * 1024))
    result = parse(stream, limits=Limits(max_line_length=1000))
    assert codes(result) == [(2, "import.line_too_long")]
    assert stream.tell() <= 64 * 1024 * 2


def test_file_too_large() -> None:
    data = b"login,password,server\n" + b"1,x,pbx.example.com\n" * 10_000
    result = parse_bytes(data, limits=Limits(max_bytes=100_000))
    assert codes(result) == [(None, "import.too_large")]


class _Generated(io.RawIOBase):
    """A CSV of ``rows`` accounts made while it is read, counting the bytes handed out."""

    def __init__(self, rows: int) -> None:
        self._lines = (
            f"{n};secret{n};pbx.example.com\n".encode() if n else b"login;password;server\n"
            for n in range(rows + 1)
        )
        self._pending = b""
        self.handed_out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            line = next(self._lines, None)
            if line is None:
                break
            self._pending += line
        chunk, self._pending = self._pending[: len(buffer)], self._pending[len(buffer) :]
        buffer[: len(chunk)] = chunk
        self.handed_out += len(chunk)
        return len(chunk)


def test_100000_rows_are_refused_without_reading_them_all() -> None:
    raw = _Generated(100_000)
    result = parse(io.BufferedReader(raw))  # type: ignore[arg-type]
    assert codes(result) == [(20_002, "import.too_many_rows")]
    assert result.issues[0].params == {"limit": 20_000}
    total = sum(len(f"{n};secret{n};pbx.example.com\n") for n in range(1, 100_001))
    assert raw.handed_out < total / 3


def test_row_limit_is_configurable_and_counts_accounts_not_lines() -> None:
    data = b"login,password,server\n" + b"\n".join(b"%d,x,pbx.example.com\n" % n for n in range(5))
    assert len(parse_bytes(data, limits=Limits(max_rows=5)).rows) == 5
    assert codes(parse_bytes(data, limits=Limits(max_rows=4))) == [(10, "import.too_many_rows")]


def test_conf_section_limit() -> None:
    data = b"".join(b"[%d]\ntype=friend\nhost=dynamic\nsecret=x\n" % n for n in range(50))
    result = parse_bytes(data, server_given=True, limits=Limits(max_rows=10))
    assert [i.code for i in result.issues] == ["import.too_many_rows"]


def test_crlf_and_lone_control_characters() -> None:
    assert load(b"login,password,server\r\n1,x,pbx.example.com\r\n").rows
    result = parse_bytes(b"login,password,server\n1,x\x07,pbx.example.com\n")
    assert codes(result) == [(2, "import.bad_encoding")]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("accounts_utf8_bom.csv", "utf-8-sig"),  # Excel: CSV UTF-8
        ("accounts_cp1251.csv", "cp1251"),  # Excel on a Russian Windows: CSV
        ("accounts_utf16.txt", "utf-16"),  # Excel: Unicode text (tab-separated)
    ],
)
def test_excel_saved_samples(name: str, encoding: str) -> None:
    parsed = parse_bytes(sample(name))
    assert parsed.encoding == encoding and not parsed.issues
    result = load(sample(name))
    first, second, third = result.rows
    assert first.settings.password.reveal() == "Пароль;1"
    assert first.settings.display_name == "Иван Петров"
    assert (first.telegram, second.telegram, third.telegram) == (111111111, "@maria_k", None)
    assert second.settings.password.reveal() == 'with "quotes", and commas'
    assert (second.settings.transport, second.settings.port) == ("tcp", None)
    assert (third.settings.domain, third.settings.port) == ("sip.provider.example", 5080)
