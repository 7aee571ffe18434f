"""One error tree: every ``TelesipError`` is defined in domain/errors.py and drawn, with its
parent and its code, in that module's docstring; the protocol layers' errors stay outside it."""

from __future__ import annotations

import importlib
import pkgutil
import re

import telesip
from telesip.domain import errors
from telesip.domain.errors import TelesipError

#: modules that cannot be imported on their own (Alembic's environment runs at import)
NOT_IMPORTED = ("telesip.store.migrations", "telesip.cli.__main__")


def _import_everything() -> None:
    """Imports every module of the package, so that every subclass anywhere is known."""
    for module in pkgutil.walk_packages(telesip.__path__, "telesip."):
        if module.name.startswith(NOT_IMPORTED):
            continue
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as missing:  # an optional extra that is not installed
            assert missing.name is not None and not missing.name.startswith("telesip"), missing


def _tree() -> list[type[TelesipError]]:
    found: list[type[TelesipError]] = []
    todo: list[type[TelesipError]] = [TelesipError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _drawn() -> dict[str, tuple[str | None, str]]:
    """name -> (parent's name, code) as the docstring draws them (depth from the indent)."""
    drawn: dict[str, tuple[str | None, str]] = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)\s+([a-z_]+)\b", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4 + (1 if "── " in line else 0)
        del path[depth:]
        drawn[m.group(2)] = (path[-1] if path else None, m.group(3))
        path.append(m.group(2))
    return drawn


def test_every_error_is_defined_in_domain_errors() -> None:
    _import_everything()
    ours = [c for c in _tree() if c.__module__.startswith("telesip.")]
    elsewhere = sorted(
        f"{c.__module__}.{c.__name__}" for c in ours if c.__module__ != errors.__name__
    )
    assert elsewhere == []


def test_the_drawn_tree_is_the_tree() -> None:
    drawn = _drawn()
    classes = [c for c in _tree() if c.__module__ == errors.__name__]
    actual = {
        c.__name__: (None if c is TelesipError else c.__bases__[0].__name__, c.code)
        for c in classes
    }
    assert all(len(c.__bases__) == 1 for c in classes if c is not TelesipError)
    assert drawn == actual


def test_codes_are_unique() -> None:
    codes = [c.code for c in _tree() if c.__module__ == errors.__name__]
    assert sorted({c for c in codes if codes.count(c) > 1}) == []


#: the protocol layers' roots, and where their errors may be defined
PROTOCOL_ROOTS = {
    "telesip.sip.errors.SipError": ("telesip.sip.", "telesip.workers.dns"),
    "telesip.media.errors.MediaError": ("telesip.media.",),
    "telesip.calls.telegram.errors.TelegramError": ("telesip.calls.telegram.",),
}


def _subclasses(root: type) -> list[type]:
    found, todo = [], [root]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_protocol_errors_are_their_own_trees() -> None:
    """SIP, media and the calls' Telegram side raise errors of their own, never a person's: the
    bot's and the API's handlers cannot mistake one for a rule error."""
    _import_everything()
    coded = [c for c in _subclasses(errors.CodedError) if c.__module__.startswith("telesip.")]
    roots = {f"{c.__module__}.{c.__name__}": c for c in errors.CodedError.__subclasses__()}
    protocol = set(roots) - {"telesip.domain.errors.TelesipError"}
    assert set(list(PROTOCOL_ROOTS)[:2]) <= protocol <= set(PROTOCOL_ROOTS)  # without "calls"
    for name in protocol:
        for cls in _subclasses(roots[name]):
            assert not issubclass(cls, TelesipError), cls
            where = PROTOCOL_ROOTS[name]
            assert cls.__module__.startswith(where), f"{cls.__module__}.{cls.__name__}"
    outside = [c for c in coded if not any(issubclass(c, r) for r in roots.values())]
    assert outside == [errors.CodedError]
