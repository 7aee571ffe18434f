"""The adapter's values as JSON, for the wires between our processes (a call's media
process; the tests' fake Telegram served to another process): dataclasses tagged with their
class name, bytes in base64, sequences as lists. Only the adapter's own classes are decoded."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from telesip.calls.telegram.adapter import (
    CallAccepted,
    CallDiscarded,
    CallProtocol,
    CallReady,
    CallRef,
    CallRequested,
    CallServer,
    CallSignaling,
    CallWaiting,
    DhConfig,
    TgUser,
)

__all__ = ["decode", "encode"]

_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        TgUser,
        DhConfig,
        CallRef,
        CallProtocol,
        CallServer,
        CallRequested,
        CallWaiting,
        CallAccepted,
        CallReady,
        CallDiscarded,
        CallSignaling,
    )
}


def encode(value: Any) -> Any:
    """A JSON-able form of an adapter value (dataclasses tagged, bytes in base64)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if dataclasses.is_dataclass(value) and type(value).__name__ in _TYPES:
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$t": type(value).__name__, **fields}
    raise TypeError(f"cannot send a {type(value).__name__} over the wire")


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`; lists become tuples (the adapter's sequences are)."""
    if isinstance(value, list):
        return tuple(decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$b" in value:
        return base64.b64decode(value["$b"])
    cls = _TYPES.get(value.get("$t", ""))
    if cls is None:
        raise ValueError(f"unknown value on the wire: {value.get('$t')!r}")
    return cls(**{k: decode(v) for k, v in value.items() if k != "$t"})
