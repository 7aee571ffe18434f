"""Reading a delimited table (``;``, ``,`` or tab, RFC 4180 quoting) one record at a time,
for the plain CSV and the FreePBX export alike.

Invariants: the delimiter is chosen from the header line alone (the one that splits it into the
most known column names); header names compare lower-cased, with spaces and hyphens as
underscores; a record starts on the line its number says, even when a quoted value spans lines;
a broken quote refuses the file (everything after it would be read wrong).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from telesip.importing.issues import Issue, Refused, issue

DELIMITERS = (";", ",", "\t")


def normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def split_line(text: str, delimiter: str) -> list[str]:
    """One line split as CSV (for sniffing the header); a broken quote gives no fields."""
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return []


def sniff(header: str, known: Callable[[str], bool]) -> tuple[str, list[str]] | None:
    """The delimiter that splits ``header`` into the most names ``known`` accepts, and the
    names; ``None`` when no delimiter gives two known names."""
    best: tuple[int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        names = [normalise(n) for n in split_line(header, delimiter)]
        score = sum(1 for n in names if known(n))
        if score >= 2 and (best is None or score > best[0]):
            best = (score, delimiter, names)
    return None if best is None else (best[1], best[2])


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts
    fields: Mapping[str, str]  # header name -> value as written (not stripped)


def records(
    lines: Iterable[tuple[int, str]],
    delimiter: str,
    header: list[str],
    *,
    max_rows: int,
    errors: list[Issue],
    header_line: int,
) -> Iterator[Record]:
    """The records after the header line (``lines`` starts just after it). A record with more
    non-empty fields than the header goes to ``errors`` (an unquoted separator inside a value);
    blank records are skipped; the ``max_rows + 1``-th record refuses the file."""
    numbered = iter(lines)
    last_line = header_line

    def texts() -> Iterator[str]:
        nonlocal last_line
        for number, text in numbered:
            last_line = number
            yield text + "\n"

    reader = csv.reader(texts(), delimiter=delimiter, strict=True)
    count = 0
    start = None
    while True:
        start = last_line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise Refused(issue("import.bad_quoting", start, fatal=True)) from None
        if not any(v.strip() for v in values):
            continue
        count += 1
        if count > max_rows:
            raise Refused(issue("import.too_many_rows", start, limit=max_rows, fatal=True))
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            errors.append(
                issue(
                    "import.field_count",
                    start,
                    found=len(values),
                    expected=len(header),
                    delimiter="tab" if delimiter == "\t" else delimiter,
                )
            )
            continue
        pairs = zip(header, values, strict=False)  # a short record: the missing cells are empty
        yield Record(start, {name: value for name, value in pairs if name})


def cell(record: Record, *names: str) -> str | None:
    """The first non-empty value among the columns ``names``, stripped; ``None`` if none."""
    for name in names:
        value = record.fields.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None
