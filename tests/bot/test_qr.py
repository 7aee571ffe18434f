"""The bot's own QR encoder (bot/qr.py) against ``qrcode``, on the same inputs: the same
modules as ``qrcode`` makes in byte mode at level M with mask 0, for every version a link or
a longer text needs (1 to 14 here), ASCII and not; and the PNG decodes (Pillow) to them."""

from __future__ import annotations

import io
import random
import secrets

import pytest
import qrcode
from PIL import Image

from telesip.bot import qr


def _reference(data: str) -> tuple[list[list[bool]], int]:
    code = qrcode.QRCode(
        border=qr.BORDER, mask_pattern=0, error_correction=qrcode.constants.ERROR_CORRECT_M
    )
    code.add_data(data, optimize=0)  # one segment, byte mode (the data has lowercase letters)
    code.make(fit=True)
    assert code.version is not None
    return code.get_matrix(), code.version


def _text(rnd: random.Random, length: int) -> str:
    return "h" + "".join(
        rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789/?=:._-") for _ in range(length - 1)
    )


@pytest.mark.parametrize(
    "length",
    [
        1,
        2,
        7,
        13,
        14,
        15,
        26,
        27,
        42,
        43,
        61,
        62,
        84,
        85,
        106,
        107,
        122,
        123,
        152,
        153,
        180,
        213,
        251,
        287,
        331,
        362,
    ],
)
def test_the_modules_are_qrcodes(length: int) -> None:
    data = _text(random.Random(length), length)
    expected, version = _reference(data)
    assert qr.qr_matrix(data) == expected, f"{length} bytes, version {version}"


def test_links_and_other_alphabets_are_qrcodes() -> None:
    versions = set()
    texts = [f"https://t.me/telesip_bot?start={secrets.token_urlsafe(18)}" for _ in range(50)]
    texts += ["https://t.me/бот?start=привет", "ссылка: " + "ж" * 90, "a€b" * 30]
    for data in texts:
        expected, version = _reference(data)
        versions.add(version)
        assert qr.qr_matrix(data) == expected, data
    assert len(versions) >= 3


def test_the_png_decodes_to_the_modules() -> None:
    for data in ("https://t.me/telesip_test_bot?start=abcDEF123", _text(random.Random(7), 300)):
        matrix = qr.qr_matrix(data)
        image = Image.open(io.BytesIO(qr.qr_png(data)))
        assert image.mode == "1"  # one bit a pixel
        grey = image.convert("L")
        side = len(matrix) * qr.SCALE
        assert grey.size == (side, side)
        pixels = grey.load()
        for y in range(side):
            for x in range(side):
                assert (pixels[x, y] == 0) is matrix[y // qr.SCALE][x // qr.SCALE], (x, y)


def test_too_long_for_a_qr_code_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        qr.qr_png("x" * 3000)
