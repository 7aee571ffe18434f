"""What an import would do, decided before anything is written: each valid row is new, changed
(its password or a setting it states differs), identical (skipped) or taken (the same login at
the same server is another owner's account: R11, reported and never duplicated); and how many
seats the new ones need, so the service can refuse the whole import when they are missing.

Pure: the service reads the owner's existing accounts (identity, a password fingerprint, the
public settings) and those of others with the same identities, calls :func:`plan`, shows
:meth:`ImportPlan.summary`, and on confirmation creates ``plan.new`` and updates
``plan.changed`` (only the fields in ``PlannedRow.changes``) in one transaction.

Invariants: rows keep the file's order; a row's identity is :attr:`AccountSettings.identity`;
the second row with an identity already seen in the file is an error naming the first line;
only the fields a row states (a non-empty value, or its template's) are compared, so a file
never clears what it does not mention; the fingerprint function must not depend on the account
(the same password gives the same fingerprint everywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from telesip.domain.settings import Secret
from telesip.importing.issues import Issue, issue
from telesip.importing.validate import ImportRow, Validated


class Action(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    IDENTICAL = "identical"
    TAKEN = "taken"  # another owner's account has this login at this server (R11)
    ERROR = "error"


@dataclass(frozen=True)
class ExistingAccount:
    """An account already in telesip, as the plan needs to see it."""

    account_id: int
    identity: str  # AccountSettings.identity
    password_fingerprint: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # public_dict(); {} if not mine
    mine: bool = True


@dataclass(frozen=True)
class PlannedRow:
    line: int
    action: Action
    row: ImportRow | None = None
    account_id: int | None = None  # the existing account (changed, identical, taken: None)
    changes: tuple[str, ...] = ()  # AccountSettings fields to update, "password" among them
    issue: Issue | None = None


@dataclass(frozen=True)
class Counts:
    new: int = 0
    changed: int = 0
    identical: int = 0
    taken: int = 0
    errors: int = 0


@dataclass(frozen=True)
class ImportPlan:
    format: str | None
    rows: tuple[PlannedRow, ...]
    issues: tuple[Issue, ...]  # every error, in line order (a fatal one alone)
    notes: tuple[Issue, ...] = ()

    @property
    def refused(self) -> bool:
        return any(i.fatal for i in self.issues)

    def _with(self, action: Action) -> tuple[PlannedRow, ...]:
        return tuple(r for r in self.rows if r.action is action)

    @property
    def new(self) -> tuple[PlannedRow, ...]:
        return self._with(Action.NEW)

    @property
    def changed(self) -> tuple[PlannedRow, ...]:
        return self._with(Action.CHANGED)

    @property
    def counts(self) -> Counts:
        def n(action: Action) -> int:
            return sum(1 for r in self.rows if r.action is action)

        return Counts(
            new=n(Action.NEW),
            changed=n(Action.CHANGED),
            identical=n(Action.IDENTICAL),
            taken=n(Action.TAKEN),
            errors=len(self.issues),
        )

    @property
    def seats_needed(self) -> int:
        """Seats the import uses: one per new account (a changed one already has its seat)."""
        return self.counts.new

    def missing_seats(self, free: int) -> int:
        """How many seats are missing when ``free`` are free (0: the import fits)."""
        return max(0, self.seats_needed - free)

    def summary(self) -> str:
        """English one-liner for the CLI and as the fallback of the bot's preview, e.g.
        ``41 new, 3 changed, 2 identical skipped, 1 error on line 17: ...``."""
        if self.refused:
            return self.issues[0].message
        c = self.counts
        parts = [f"{c.new} new", f"{c.changed} changed", f"{c.identical} identical skipped"]
        if c.taken:
            parts.append(f"{c.taken} already connected by another owner (skipped)")
        if c.errors:
            first = self.issues[0]
            where = f" on line {first.line}" if first.line else ""
            lead = "1 error" if c.errors == 1 else f"{c.errors} errors, the first"
            parts.append(f"{lead}{where}: {first.text}")
        return ", ".join(parts)


#: the settings fields a row may state, in the order changes are listed
STATED_ORDER = (
    "auth_username",
    "registrar",
    "outbound_proxy",
    "transport",
    "display_name",
    "expires",
    "dtmf_mode",
)


def plan(
    validated: Validated,
    existing: Iterable[ExistingAccount],
    fingerprint: Callable[[Secret], str],
) -> ImportPlan:
    """Classify every row of ``validated`` against ``existing`` (the owner's accounts, and
    other owners' with the same identities, ``mine=False``)."""
    if validated.refused:
        return ImportPlan(validated.format, (), validated.issues, validated.notes)
    mine: dict[str, ExistingAccount] = {}
    others: set[str] = set()
    for account in existing:
        if account.mine:
            mine.setdefault(account.identity, account)
        else:
            others.add(account.identity)
    first_line: dict[str, int] = {}
    planned: list[PlannedRow] = []
    issues = list(validated.issues)
    for row in validated.rows:
        settings = row.settings
        identity = settings.identity
        if identity in first_line:
            found = issue(
                "import.duplicate_row",
                row.line,
                login=settings.login[:64],
                server=settings.domain,
                first_line=first_line[identity],
            )
            issues.append(found)
            planned.append(PlannedRow(row.line, Action.ERROR, row, issue=found))
            continue
        first_line[identity] = row.line
        current = mine.get(identity)
        if current is None:
            action = Action.TAKEN if identity in others else Action.NEW
            planned.append(PlannedRow(row.line, action, row))
            continue
        public = settings.public_dict()
        changes = [
            name
            for name in STATED_ORDER
            if name in row.stated and public[name] != current.settings.get(name)
        ]
        if fingerprint(settings.password) != current.password_fingerprint:
            changes.insert(0, "password")
        action = Action.CHANGED if changes else Action.IDENTICAL
        planned.append(PlannedRow(row.line, action, row, current.account_id, tuple(changes)))
    for found in validated.issues:  # the rows that never became settings
        planned.append(PlannedRow(found.line or 0, Action.ERROR, issue=found))
    issues.sort(key=lambda i: i.line or 0)
    planned.sort(key=lambda p: p.line)
    return ImportPlan(validated.format, tuple(planned), tuple(issues), validated.notes)
