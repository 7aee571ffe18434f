"""Bytes of an uploaded file -> numbered lines of text, within limits, one chunk at a time.

The encoding is found from the content: a byte-order mark (UTF-8, UTF-16, UTF-32), else UTF-8,
else Windows-1251 with a note (Cyrillic spreadsheets saved by Excel). Switching to Windows-1251
after part of the file was read as UTF-8 needs a seekable stream (an open file, BytesIO, an
uploaded file's spool): :class:`Redecode` tells the caller to start again.

Invariants: at most one chunk plus one line is held in memory; no line is longer than
``Limits.max_line_length``; no more than ``Limits.max_bytes`` are read; a line with control
characters (a binary file, or UTF-16 without its mark) refuses the file; the text of a line
never goes into an issue (it may hold a password).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from telesip.importing.issues import Issue, Refused, issue

CHUNK = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed; \r only as a line end

#: magic numbers of files people send instead of a CSV
_BINARY_KINDS = (
    (b"PK\x03\x04", "ZIP (XLSX, ODS)"),
    (b"\xd0\xcf\x11\xe0", "XLS"),
    (b"%PDF", "PDF"),
    (b"\x1f\x8b", "gzip"),
)
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Limits:
    """How much an import may read; the defaults suit an office PBX of a few thousand
    extensions, and a file beyond them is refused with one issue."""

    max_rows: int = 20_000
    max_line_length: int = 8_192
    max_bytes: int = 32 * 1024 * 1024


class Redecode(Exception):
    """Internal: the file is not UTF-8 after all; read it again from the start."""


class TextSource:
    """The lines of one file. Iterate :meth:`lines` once; after :class:`Redecode`, call
    :meth:`lines` again (it starts over as Windows-1251)."""

    def __init__(self, stream: BinaryIO, limits: Limits) -> None:
        self._stream = stream
        self._limits = limits
        self._start = stream.tell() if stream.seekable() else None
        self._head = stream.read(CHUNK)
        self.notes: list[Issue] = []
        for magic, kind in _BINARY_KINDS:
            if self._head.startswith(magic):
                raise Refused(issue("import.not_text", kind=kind, fatal=True))
        self.encoding = "utf-8"
        self._guessed = True  # no mark: UTF-8 is a guess that Windows-1251 may replace
        for bom, encoding in _BOMS:
            if self._head.startswith(bom):
                self.encoding, self._guessed = encoding, False
                break
        if not self._head.strip(b" \t\r\n" + codecs.BOM_UTF8):
            raise Refused(issue("import.empty", fatal=True))

    def _chunks(self) -> Iterator[bytes]:
        yield self._head
        while chunk := self._stream.read(CHUNK):
            yield chunk

    def _rewind(self) -> None:
        if self._start is None:
            raise Refused(issue("import.bad_encoding", fatal=True))
        self._stream.seek(self._start)
        self._head = self._stream.read(CHUNK)

    def lines(self) -> Iterator[tuple[int, str]]:
        """``(line number, text without its line end)`` for every line, from 1."""
        try:
            yield from self._decode()
        except UnicodeDecodeError:
            if not self._guessed:
                raise Refused(issue("import.bad_encoding", fatal=True)) from None
            self._rewind()
            self.encoding, self._guessed = "cp1251", False
            self.notes.append(issue("import.note.cp1251"))
            raise Redecode from None

    def _decode(self) -> Iterator[tuple[int, str]]:
        limit = self._limits.max_line_length
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        pending, number, total = "", 0, 0
        for chunk in self._chunks():
            total += len(chunk)
            if total > self._limits.max_bytes:
                raise Refused(issue("import.too_large", limit=self._limits.max_bytes, fatal=True))
            pieces = decoder.decode(chunk).split("\n")
            pieces[0] = pending + pieces[0]
            pending = pieces.pop()
            for piece in pieces:
                number += 1
                yield number, self._checked(number, piece, limit)
            if len(pending) > limit + 1:
                raise Refused(issue("import.line_too_long", number + 1, limit=limit, fatal=True))
        pending += decoder.decode(b"", final=True)
        if pending:
            number += 1
            yield number, self._checked(number, pending, limit)

    @staticmethod
    def _checked(number: int, text: str, limit: int) -> str:
        if text.endswith("\r"):
            text = text[:-1]
        if number == 1:
            text = text.removeprefix("\ufeff")
        if len(text) > limit:
            raise Refused(issue("import.line_too_long", number, limit=limit, fatal=True))
        if _CONTROL.search(text):
            raise Refused(issue("import.bad_encoding", number, fatal=True))
        return text
