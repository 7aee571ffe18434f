"""telesip's CSV reads back what it writes: any text in any column, quotes and separators in
passwords, each of the three separators."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from telesip.domain.settings import Secret
from telesip.importing import ParsedRow, write_rows
from tests.importing.helpers import parse_bytes

# no control characters (the reader refuses them) and no surrogates (not encodable)
_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20)
_CELL = st.one_of(st.none(), _TEXT.map(str.strip).filter(bool))
_LOGIN = st.text("0123456789abcdefXYZ._-", min_size=1, max_size=12)


@st.composite
def rows(draw: st.DrawFn) -> list[ParsedRow]:
    count = draw(st.integers(min_value=1, max_value=8))
    return [
        ParsedRow(
            line=2 + n,
            login=draw(_LOGIN),
            password=Secret(
                draw(_TEXT | st.sampled_from(["a,b", "a;b", 'say "hi"', '"', " x ", "\t"]))
            ),
            server=draw(_CELL),
            port=draw(_CELL),
            transport=draw(_CELL),
            registrar=draw(_CELL),
            proxy=draw(_CELL),
            auth_user=draw(_CELL),
            display_name=draw(_CELL),
            template=draw(_CELL),
            telegram=draw(_CELL),
        )
        for n in range(count)
    ]


@settings(max_examples=200, deadline=None)
@given(rows(), st.sampled_from([";", ",", "\t"]), st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_write_then_parse_gives_the_same_rows(
    written: list[ParsedRow], delimiter: str, encoding: str
) -> None:
    out = io.StringIO(newline="")
    write_rows(written, out, delimiter=delimiter)
    result = parse_bytes(out.getvalue().encode(encoding), server_given=True)
    assert not result.issues, [i.message for i in result.issues]
    assert list(result.rows) == written
