"""Number-rewrite rules, matched by RE2: linear time in the number's length whatever the
pattern, so no rule (``(a+)+$`` say) can stall a worker when a person dials.

A rule is ``(pattern, replacement)``: the first rule whose pattern matches the whole number
replaces it (``\\1`` is the first group). RE2's syntax is ``re``'s without backreferences and
lookaround; a pattern RE2 cannot compile, or one over the length or memory limits, is refused
when it is saved (``InvalidSettings`` with ``rewrite="regex"``) and skipped if met later.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from telesip.domain.errors import InvalidSettings

MAX_RULES = 20
MAX_LENGTH = 200  # characters of a pattern or a replacement
MAX_PROGRAM = 1 << 20  # bytes RE2 may use for one compiled pattern

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = MAX_PROGRAM


class RuleRefused(ValueError):
    """A pattern RE2 will not run; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    if len(pattern) > MAX_LENGTH:
        raise RuleRefused(f"longer than {MAX_LENGTH} characters")
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "cannot be compiled"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RuleRefused(str(reason)) from None


def validate(rules: tuple[tuple[str, str], ...]) -> None:
    """Refuse what would not run safely (``rewrite`` tells the bot which check failed)."""
    if len(rules) > MAX_RULES:
        raise InvalidSettings(reason=f"at most {MAX_RULES} number-rewrite rules", rewrite="count")
    for pattern, replacement in rules:
        if len(pattern) > MAX_LENGTH or len(replacement) > MAX_LENGTH:
            raise InvalidSettings(reason="a number-rewrite rule is too long", rewrite="length")
        try:
            compiled = compile_pattern(pattern)
            groups = int(compiled.groups)
            _check_template(replacement, groups)
        except RuleRefused as exc:
            raise InvalidSettings(
                reason=f"bad number-rewrite rule {pattern!r}: {exc.detail} "
                "(RE2 syntax: no backreferences or lookaround)",
                rewrite="regex",
                pattern=pattern,
                detail=exc.detail,
            ) from None


def _check_template(replacement: str, groups: int) -> None:
    """Every ``\\N`` / ``\\g<N>`` of the replacement names a group of the pattern."""
    i = 0
    while i < len(replacement):
        if replacement[i] == "\\" and i + 1 < len(replacement):
            rest = replacement[i + 1 :]
            number = ""
            if rest[0].isdigit():
                number = rest[: 2 if rest[:2].isdigit() else 1]
            elif rest.startswith("g<") and ">" in rest:
                number = rest[2 : rest.index(">")]
            if number and (not number.isdigit() or int(number) > groups):
                raise RuleRefused(f"the replacement names group {number}, which does not exist")
            i += 2
        else:
            i += 1


def apply(number: str, rules: tuple[tuple[str, str], ...]) -> str:
    """The number after the first rule whose pattern matches all of it (or as it is)."""
    for pattern, replacement in rules:
        try:
            match = compile_pattern(pattern).fullmatch(number)
            if match is not None:
                return str(match.expand(replacement))
        except (RuleRefused, IndexError, ValueError):  # validated when saved; skip a broken one
            continue
    return number
