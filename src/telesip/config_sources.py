"""Where each ``TELESIP_*`` setting comes from: the environment, an env file, or a file named by
``TELESIP_<NAME>_FILE`` (the Docker-secrets convention), else the default.

Order, first found wins, per setting:

1. values passed to ``Settings(...)`` in code (tests),
2. the process environment: ``TELESIP_<NAME>``, or ``TELESIP_<NAME>_FILE`` naming a file whose
   content (surrounding whitespace and the final newline stripped) is the value,
3. the env file: ``TELESIP_ENV_FILE`` if set (it must exist), else ``./.env`` when present;
   the same two forms,
4. the field's default.

Within one place, setting both ``TELESIP_<NAME>`` and ``TELESIP_<NAME>_FILE`` is an error
(which one was meant is not guessed), and so is a ``_FILE`` naming a file that cannot be read.
Errors are :class:`ConfigError` with a one-line message naming the variable and the file; a
secret's value never appears in one.

:func:`gather` is the single implementation: the settings source of :class:`Settings` and
``telesip config show`` (which says each value's origin) both call it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from telesip.domain.errors import ConfigError

PREFIX = "TELESIP_"
FILE_SUFFIX = "_FILE"
ENV_FILE_VARIABLE = "TELESIP_ENV_FILE"
DEFAULT_ENV_FILE = Path(".env")

__all__ = [
    "ENV_FILE_VARIABLE",
    "Found",
    "TelesipSource",
    "env_file_path",
    "gather",
    "masked_url",
]


@dataclass(frozen=True)
class Found:
    """A setting's raw value (a string) and where it came from, for a person to read."""

    value: str
    origin: str


def env_file_path(environ: Mapping[str, str]) -> Path | None:
    """The env file in use: ``TELESIP_ENV_FILE`` (which must exist), else ``./.env`` if present."""
    explicit = environ.get(ENV_FILE_VARIABLE)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(reason=f"{ENV_FILE_VARIABLE}: {path} is not a readable file")
        return path
    return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None


def _env_file_values(path: Path) -> dict[str, str]:
    try:
        raw = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(reason=f"{ENV_FILE_VARIABLE}: cannot read {path}: {exc}") from None
    return {k.upper(): v for k, v in raw.items() if v is not None}


def _read_secret_file(variable: str, where: str, name: str) -> str:
    path = Path(name)
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(reason=f"{variable} ({where}): cannot read {path}: {reason}") from None


def gather(fields: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, Found]:
    """The raw value and origin of every setting in ``fields`` found in the environment or the
    env file (settings left at their default are absent)."""
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, str]]] = [
        ("environment", {k.upper(): v for k, v in environ.items()})
    ]
    path = env_file_path(environ)
    if path is not None:
        layers.append((f"env file {path}", _env_file_values(path)))
    names = set(fields)
    found: dict[str, Found] = {}
    for name in names:
        variable = PREFIX + name.upper()
        # a setting literally named <name>_file owns TELESIP_<NAME>_FILE
        file_variable = None if f"{name}_file" in names else variable + FILE_SUFFIX
        for where, values in layers:
            direct = values.get(variable)
            via = values.get(file_variable) if file_variable else None
            if direct is not None and via is not None:
                raise ConfigError(
                    reason=f"{variable} and {file_variable} are both set ({where}): keep one"
                )
            if via is not None:
                assert file_variable is not None
                value = _read_secret_file(file_variable, where, via)
                found[name] = Found(value, f"file {via} ({file_variable}, {where})")
                break
            if direct is not None:
                found[name] = Found(direct, where)
                break
    return found


def masked_url(url: str) -> str:
    """``url`` with its password (if any) as ``***``, for printing."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class TelesipSource(PydanticBaseSettingsSource):
    """The pydantic-settings source that replaces the stock environment, dotenv and secrets-dir
    sources with :func:`gather`."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {
            name: self.prepare_field_value(name, fields[name], found.value, False)
            for name, found in gather(fields).items()
        }
