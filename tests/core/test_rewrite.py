"""Number-rewrite rules run on RE2: a catastrophic pattern cannot stall a worker, patterns RE2
cannot run are refused when saved with the reason, and rewriting behaves as before."""

from __future__ import annotations

import re
import time

import pytest

from telesip.domain import rewrite
from telesip.domain.calls import rewrite_number
from telesip.domain.errors import InvalidSettings


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    number = "a" * 10_000 + "b"  # Python's re would backtrack for ages on this
    rewrite.validate(((r"(a+)+$", "x"),))  # allowed: it is safe on RE2
    started = time.perf_counter()
    assert rewrite_number(number, ((r"(a+)+$", "x"), (r"(a|aa)+$", "y"))) == number
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1, f"{elapsed * 1000:.1f} ms"  # a few ms on any machine; ages with re


@pytest.mark.parametrize(
    ("pattern", "replacement", "why"),
    [
        (r"(\d)\1", "x", "invalid escape sequence"),  # backreference
        (r"(?=1)\d+", "x", "invalid perl operator"),  # lookahead
        (r"(123", "x", "missing )"),
        (r"(\d+)", r"+7\2", "group 2"),
        ("1" * 201, "x", "too long"),
    ],
)
def test_unsafe_or_broken_rules_are_refused_with_the_reason(
    pattern: str, replacement: str, why: str
) -> None:
    with pytest.raises(InvalidSettings) as refused:
        rewrite.validate(((pattern, replacement),))
    assert why in refused.value.message


def test_rewriting_is_what_it_was() -> None:
    rules = ((r"8(\d{10})", r"+7\1"), (r"00(\d+)", r"+\g<1>"), (r"\d{3}", "ext"))
    for number in ("89161234567", "0049301234", "123", "5555", "+1 555"):
        expected = number
        for pattern, replacement in rules:
            m = re.fullmatch(pattern, number)
            if m:
                expected = m.expand(replacement)
                break
        assert rewrite_number(number, rules) == expected
    assert rewrite_number("123", ((r"(\d)\1", "x"), (r"\d+", "ok"))) == "ok"  # broken: skipped
