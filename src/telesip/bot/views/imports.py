"""Importing accounts from a file sent to the bot: the preview and the result."""

from __future__ import annotations

from html import escape

from telesip.bot.callbacks import (
    ImportCb,
)
from telesip.bot.locales import t
from telesip.bot.views.common import Keyboard, button, keyboard
from telesip.importing import Issue
from telesip.services.imports import ImportOutcome

#: per-line problems shown in a preview; the rest are counted
PREVIEW_ISSUES = 10


def import_issue(lang: str, found: Issue) -> str:
    """One problem of an import file in ``lang`` (its values escaped), with its line."""
    params = {k: v if isinstance(v, int) else escape(str(v)) for k, v in found.params.items()}
    try:
        text = t(lang, found.code).format(**params)  # a param may be named "key"
    except (KeyError, IndexError, ValueError):
        text = escape(found.text)
    return t(lang, "import.line", line=found.line, text=text) if found.line else text


def import_preview(
    lang: str, outcome: ImportOutcome, filename: str | None
) -> tuple[str, Keyboard | None]:
    """The preview of a file: counts, seats, the first problems, users not known yet; Import
    and Cancel when there is something to write and the seats suffice."""
    plan = outcome.plan
    if plan.refused:
        text = t(lang, "imp.refused", reason=import_issue(lang, plan.issues[0]))
        if plan.issues[0].code == "import.server_required":
            text += "\n\n" + t(lang, "imp.server_hint")
        return text, None
    c = plan.counts
    name = escape(filename or "file")
    lines = [
        t(lang, "imp.preview", filename=name, format=escape(plan.format or "?")),
        t(
            lang,
            "imp.counts",
            new=c.new,
            changed=c.changed,
            identical=c.identical,
            taken=c.taken,
            errors=c.errors,
        ),
    ]
    if outcome.free_seats is not None and plan.seats_needed:
        lines.append(t(lang, "imp.seats", needed=plan.seats_needed, free=outcome.free_seats))
    shown = [*plan.issues, *plan.notes][:PREVIEW_ISSUES]
    lines += [import_issue(lang, found) for found in shown]
    hidden = len(plan.issues) + len(plan.notes) - len(shown)
    if hidden > 0:
        lines.append(t(lang, "imp.more", count=hidden))
    if outcome.unassigned:
        who = ", ".join(escape(str(u.telegram)) for u in outcome.unassigned[:PREVIEW_ISSUES])
        lines.append(t(lang, "imp.unassigned", who=who))
    if not (plan.new or plan.changed):
        lines.append(t(lang, "imp.nothing"))
        return "\n".join(lines), None
    if outcome.missing_seats:
        lines.append(t(lang, "imp.seats_missing", missing=outcome.missing_seats))
        return "\n".join(lines), None
    lines.append(t(lang, "imp.confirm"))
    kb = keyboard(
        [
            button(t(lang, "btn.import"), ImportCb(act="go")),
            button(t(lang, "btn.cancel"), ImportCb(act="no")),
        ]
    )
    return "\n".join(lines), kb


def import_done(lang: str, outcome: ImportOutcome) -> str:
    return t(
        lang,
        "imp.done",
        new=len(outcome.created),
        changed=len(outcome.updated),
        assigned=outcome.assigned,
    )
