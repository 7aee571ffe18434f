"""The printable sheet and the links' CSV (telesip.printing): cards per page, a QR code that
decodes back to the link (read with zbar when it is installed), formula-safe CSV cells."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from PIL import Image

from telesip.printing import Card, links_csv, pdf, png_pages
from telesip.printing.sheet import PAGE, PER_PAGE


def _cards(n: int) -> list[Card]:
    until = datetime(2026, 12, 14, tzinfo=UTC)
    return [
        Card(
            i, f"Офис {i}", f"{200 + i}", "pbx.example.com", f"https://t.me/bot?start=tok{i}", until
        )
        for i in range(1, n + 1)
    ]


def test_pages_hold_eight_cards_each_and_the_pdf_has_them_all() -> None:
    pages = png_pages(_cards(PER_PAGE + 1), "ru")
    assert len(pages) == 2
    first = Image.open(io.BytesIO(pages[0]))
    assert first.size == PAGE and first.mode == "1"
    blank = Image.new("1", PAGE, 1)
    second = Image.open(io.BytesIO(pages[1]))
    assert second.tobytes() != blank.tobytes()
    document = pdf(_cards(2 * PER_PAGE + 3), "en")
    assert document.startswith(b"%PDF")
    assert document.count(b"/Type /Pages") == 1 and b"/Count 3" in document


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (zbar-tools) not installed")
def test_the_qr_codes_decode_to_the_links(tmp_path: object) -> None:
    page = png_pages(_cards(3), "en")[0]
    path = f"{tmp_path}/page.png"
    with open(path, "wb") as f:
        f.write(page)
    out = subprocess.run(["zbarimg", "-q", "--raw", path], capture_output=True, text=True)
    assert sorted(out.stdout.split()) == [f"https://t.me/bot?start=tok{i}" for i in (1, 2, 3)]


def test_the_csv_names_every_link_and_starts_no_formula() -> None:
    cards = _cards(2)
    cards[1] = Card(2, "=HYPERLINK(1)", "-5", "pbx", "https://t.me/b?start=x", cards[1].expires_at)
    data = links_csv(cards)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["id", "name", "login", "server", "link", "expires_at"]
    assert rows[1][:5] == ["1", "Офис 1", "201", "pbx.example.com", "https://t.me/bot?start=tok1"]
    assert rows[2][1] == "'=HYPERLINK(1)" and rows[2][2] == "'-5"
