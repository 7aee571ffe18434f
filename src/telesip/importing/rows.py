"""An account as a file states it, before any rule is applied: every field is the text found
(or ``None`` when the file does not give it), the password wrapped in :class:`Secret` so it never
shows in a repr, a log line or an error text."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from telesip.domain.settings import Secret

#: the plain CSV's header names, in the order :func:`~telesip.importing.csvplain.write_rows`
#: writes them; each is also a :class:`ParsedRow` field
COLUMNS = (
    "login",
    "password",
    "server",
    "port",
    "transport",
    "registrar",
    "proxy",
    "auth_user",
    "display_name",
    "template",
    "telegram",
)


@dataclass(frozen=True)
class ParsedRow:
    """One account read from a file; ``line`` is where it starts (its CSV record or its
    ``[section]`` header)."""

    line: int
    login: str | None = None
    password: Secret | None = field(default=None, repr=False)
    server: str | None = None
    port: str | None = None
    transport: str | None = None
    registrar: str | None = None
    proxy: str | None = None
    auth_user: str | None = None
    display_name: str | None = None
    template: str | None = None
    telegram: str | None = None

    def values(self) -> dict[str, str | None]:
        """The columns as text (the password revealed): for writing a CSV, never for logs."""
        out: dict[str, str | None] = {}
        for f in fields(self):
            if f.name == "line":
                continue
            value = getattr(self, f.name)
            out[f.name] = value.reveal() if isinstance(value, Secret) else value
        return out
