"""Asterisk's configuration syntax, as pjsip.conf and sip.conf use it: sections
``[name]``, templates ``[name](!)``, inheritance ``[name](tmpl1,tmpl2)`` (a template may inherit
too: ``[name](!,tmpl)``), additions ``[name](+)``, ``key = value`` and ``key => value``, comments
from ``;`` (``\\;`` is a literal semicolon) and ``;-- ... --;`` blocks.

``#include``, ``#tryinclude`` and ``#exec`` are refused: the file would be incomplete without
the other file, and telesip reads nothing but what it is given.

Invariants: a section's :attr:`Section.values` are its parents' values (in the order named, each
resolved first) overlaid by its own, the last occurrence of a key winning; a parent is the
latest section of that name defined before the child (pjsip.conf may reuse a name for an
endpoint, its aor and its auth); an unknown parent marks the child broken, with an issue.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from telesip.importing.issues import Issue, Refused, issue

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*(?:\((?P<options>[^)]*)\))?\s*$")
_DIRECTIVE = re.compile(r"^#\s*(include|tryinclude|exec)\b", re.IGNORECASE)


@dataclass
class Section:
    name: str
    line: int
    template: bool = False
    parents: list[str] = field(default_factory=list)
    own: list[tuple[str, str]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    broken: bool = False

    @property
    def type(self) -> str:
        return self.values.get("type", "").lower()


def _strip_comment(text: str, in_block: bool) -> tuple[str, bool]:
    """The text of a line without comments, and whether a ``;--`` block is still open."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if in_block:
            end = text.find("--;", i)
            if end < 0:
                return "".join(out), True
            in_block, i = False, end + 3
            continue
        char = text[i]
        if char == "\\" and text.startswith(";", i + 1):
            out.append(";")
            i += 2
        elif char == ";":
            if text.startswith(";--", i):
                in_block, i = True, i + 3
                continue
            break
        else:
            out.append(char)
            i += 1
    return "".join(out), in_block


def read_sections(
    lines: Iterable[tuple[int, str]], *, max_sections: int, errors: list[Issue]
) -> list[Section]:
    """Every section of the file in order, with values resolved."""
    sections: list[Section] = []
    by_name: dict[str, list[int]] = {}  # name -> indexes in ``sections``, in file order
    current: Section | None = None
    in_block = False
    for number, raw in lines:
        text, in_block = _strip_comment(raw, in_block)
        text = text.strip()
        if not text:
            continue
        if text.startswith("#"):
            match = _DIRECTIVE.match(text)
            directive = f"#{match.group(1).lower()}" if match else text.split()[0][:20]
            raise Refused(issue("import.include_refused", number, directive=directive, fatal=True))
        header = _SECTION.match(text)
        if header:
            options = [o.strip() for o in (header["options"] or "").split(",") if o.strip()]
            name = header["name"].strip()
            if "+" in options and name in by_name:
                current = sections[by_name[name][-1]]
                continue
            current = Section(
                name=name,
                line=number,
                template="!" in options,
                parents=[o for o in options if o not in ("!", "+")],
            )
            by_name.setdefault(name, []).append(len(sections))
            sections.append(current)
            if len(sections) > max_sections:
                raise Refused(
                    issue("import.too_many_rows", number, limit=max_sections // 4, fatal=True)
                )
            continue
        key, sep, value = text.partition("=")
        if not sep or current is None or not key.strip():
            errors.append(issue("import.bad_syntax", number))
            continue
        current.own.append((key.strip().lower(), value.removeprefix(">").strip()))
    _resolve(sections, by_name, errors)
    return sections


def _resolve(sections: list[Section], by_name: dict[str, list[int]], errors: list[Issue]) -> None:
    # parents are always earlier in the file, so one pass in order resolves every chain
    for index, section in enumerate(sections):
        values: dict[str, str] = {}
        for parent_name in section.parents:
            indexes = by_name.get(parent_name, [])
            earlier = bisect.bisect_left(indexes, index)  # the latest one before this section
            parent = sections[indexes[earlier - 1]] if earlier else None
            if parent is None:
                errors.append(
                    issue(
                        "import.unknown_parent",
                        section.line,
                        section=section.name,
                        parent=parent_name,
                    )
                )
                section.broken = True
                continue
            section.broken = section.broken or parent.broken
            values.update(parent.values)
        for key, value in section.own:
            values[key] = value
        section.values = values


def callerid_name(value: str | None) -> str | None:
    """``"Alice Smith" <6001>`` or ``Alice <6001>`` -> the name; ``None`` when there is none."""
    if not value:
        return None
    name = value.split("<", 1)[0].strip().strip('"').strip()
    return name or None


def port_of(address: str | None) -> str | None:
    """The port of a bind address (``0.0.0.0:5061``, ``[::]:5060``); ``None`` without one."""
    if not address:
        return None
    address = address.strip()
    tail = address.rsplit("]", 1)[-1] if address.startswith("[") else address
    if tail.count(":") == 1:
        port = tail.rsplit(":", 1)[1].strip()
        return port or None
    return None
