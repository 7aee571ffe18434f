"""Settings-link cards on A4 pages, and the same links as CSV.

A page is A4 at 200 dpi (1654 x 2339 pixels), 2 x 4 cards with dashed cut lines; a card holds
the link's QR code, ``#id`` and the account's name (display name, else login), its server, and
three lines of instructions in the owner's language with the link's last day. Pages are 1-bit
images: the QR code stays sharp on any printer and a PDF page is a few kilobytes (CCITT G4).
The PDF is Pillow's own writer of those pages: nothing to embed, no font licence question, the
same result on every printer; text is drawn with DejaVu Sans (Debian's ``fonts-dejavu-core``,
for Cyrillic), or Pillow's built-in font when it is missing (then only Latin letters print).

Rendering costs CPU (tens of milliseconds a page): the front ends call it in a thread
(``asyncio.to_thread``), never on the event loop.

Invariants: a card never shows a password (it carries a link token, which is the secret here:
the sheet is for the office that prints it); every value is cut to fit its card.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Protocol

import qrcode
from PIL import Image, ImageDraw, ImageFont

from telesip.i18n import t

DPI = 200
PAGE = (1654, 2339)  # A4 at 200 dpi
MARGIN = 60
COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Card:
    """One account's card: what is printed (no password: the link is the key)."""

    account_id: int
    name: str  # display name, else login
    login: str
    server: str
    url: str
    expires_at: datetime

    @classmethod
    def of(cls, link: IssuedLinkLike, url: str) -> Card:
        """The card of a link ``services.bulk.create_links`` made, reached at ``url``."""
        name = link.display_name or link.login
        return cls(link.account_id, name, link.login, link.domain, url, link.expires_at)


class IssuedLinkLike(Protocol):
    @property
    def account_id(self) -> int: ...
    @property
    def login(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...


@cache
def _font(size: int, bold: bool = False) -> Font:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and draw.textlength(candidate, font=font) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _qr(url: str, size: int) -> Image.Image:
    # one mask, as the bot's QR codes: any mask scans; choosing the best of eight costs six
    # times the CPU of the whole code (bench/bench_bulk.py)
    code = qrcode.QRCode(
        border=1, error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=0
    )
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    image = Image.new("1", (n, n), 1)
    image.putdata([0 if cell else 1 for row in matrix for cell in row])
    box = size // n * n
    return image.resize((box, box), Image.Resampling.NEAREST)


def _card(
    page: Image.Image,
    draw: ImageDraw.ImageDraw,
    card: Card,
    box: tuple[int, int, int, int],
    lang: str,
) -> None:
    left, top, right, bottom = box
    pad = 28
    qr = _qr(card.url, min(bottom - top - 2 * pad, 420))
    page.paste(qr, (left + pad, top + (bottom - top - qr.height) // 2))
    x = left + pad + qr.width + 24
    width = right - pad - x
    y = top + pad
    title = _font(44, bold=True)
    draw.text((x, y), f"#{card.account_id}", font=title, fill=0)
    y += 58
    name = _font(34, bold=True)
    draw.text((x, y), _fit(draw, card.name, name, width), font=name, fill=0)
    y += 46
    small = _font(26)
    draw.text((x, y), _fit(draw, card.server, small, width), font=small, fill=0)
    y += 52
    until = card.expires_at.strftime("%Y-%m-%d")
    steps = t(lang, "sheet.instructions", until=until)
    for line in _wrap(draw, steps, small, width)[:9]:
        draw.text((x, y), line, font=small, fill=0)
        y += 33


def _dashes(draw: ImageDraw.ImageDraw, start: tuple[int, int], end: tuple[int, int]) -> None:
    (x0, y0), (x1, y1) = start, end
    step = 24
    if y0 == y1:
        for x in range(x0, x1, step):
            draw.line([(x, y0), (min(x + 12, x1), y0)], fill=0, width=2)
    else:
        for y in range(y0, y1, step):
            draw.line([(x0, y), (x0, min(y + 12, y1))], fill=0, width=2)


def _pages(cards: Sequence[Card], lang: str) -> Iterator[Image.Image]:
    width = (PAGE[0] - 2 * MARGIN) // COLUMNS
    height = (PAGE[1] - 2 * MARGIN) // ROWS
    for start in range(0, len(cards), PER_PAGE):
        page = Image.new("1", PAGE, 1)
        draw = ImageDraw.Draw(page)
        for n, card in enumerate(cards[start : start + PER_PAGE]):
            col, row = n % COLUMNS, n // COLUMNS
            left, top = MARGIN + col * width, MARGIN + row * height
            _card(page, draw, card, (left, top, left + width, top + height), lang)
        for col in range(COLUMNS + 1):
            x = MARGIN + col * width
            _dashes(draw, (x, MARGIN), (x, MARGIN + ROWS * height))
        for row in range(ROWS + 1):
            y = MARGIN + row * height
            _dashes(draw, (MARGIN, y), (MARGIN + COLUMNS * width, y))
        yield page


def pdf(cards: Sequence[Card], lang: str) -> bytes:
    """The sheet as one PDF, ``PER_PAGE`` cards a page (at least one page)."""
    pages = list(_pages(cards, lang)) or [Image.new("1", PAGE, 1)]
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=DPI)
    return out.getvalue()


def png_pages(cards: Sequence[Card], lang: str) -> list[bytes]:
    """The sheet as PNG pages (for a chat, or a printer without PDF)."""
    out: list[bytes] = []
    for page in _pages(cards, lang):
        buffer = io.BytesIO()
        page.save(buffer, format="PNG", optimize=False, dpi=(DPI, DPI))
        out.append(buffer.getvalue())
    return out


CSV_COLUMNS = ("id", "name", "login", "server", "link", "expires_at")


def _cell(value: object) -> str:
    """No cell starts a formula when the file is opened in a spreadsheet."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def links_csv(cards: Sequence[Card]) -> bytes:
    """The links as CSV (UTF-8 with a BOM, so spreadsheets read the names right)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for card in cards:
        values = (card.account_id, card.name, card.login, card.server, card.url)
        writer.writerow([_cell(v) for v in values] + [card.expires_at.isoformat()])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
