"""The plan: new / changed / identical / taken / error against what already exists, seats for
the new ones, and the preview line the bot shows."""

from __future__ import annotations

import hashlib
import io

from telesip.domain.settings import Secret
from telesip.importing import Action, ExistingAccount, ImportPlan, plan, prepare
from tests.importing.helpers import SERVER, builtin_templates, load, parse_bytes, sample

HEADER = b"login;password;server;display_name\n"


def fingerprint(password: Secret) -> str:
    return hashlib.sha256(password.reveal().encode()).hexdigest()


def make_plan(body: bytes, existing: list[ExistingAccount] | None = None) -> ImportPlan:
    return plan(load(HEADER + body), existing or [], fingerprint)


def accounts_of(result: ImportPlan, *, mine: bool = True) -> list[ExistingAccount]:
    """What the service would hold after carrying the plan out."""
    return [
        ExistingAccount(
            account_id=100 + n,
            identity=p.row.settings.identity,
            password_fingerprint=fingerprint(p.row.settings.password),
            settings=p.row.settings.public_dict() if mine else {},
            mine=mine,
        )
        for n, p in enumerate(result.rows)
        if p.row is not None and p.action is Action.NEW
    ]


FILE = (
    b"101;one;pbx.example.com;Desk 1\n102;two;pbx.example.com;\n103;three;pbx.example.com;Desk 3\n"
)


def test_first_import_is_all_new_and_needs_a_seat_each() -> None:
    result = make_plan(FILE)
    assert [p.action for p in result.rows] == [Action.NEW] * 3
    assert result.seats_needed == 3
    assert result.missing_seats(1) == 2 and result.missing_seats(3) == 0
    assert result.summary() == "3 new, 0 changed, 0 identical skipped"


def test_reimporting_the_same_file_changes_nothing() -> None:
    existing = accounts_of(make_plan(FILE))
    again = make_plan(FILE, existing)
    assert [p.action for p in again.rows] == [Action.IDENTICAL] * 3
    assert [p.account_id for p in again.rows] == [100, 101, 102]
    assert again.seats_needed == 0
    assert again.summary() == "0 new, 0 changed, 3 identical skipped"


def test_a_changed_password_or_setting_is_an_update_of_only_those_fields() -> None:
    existing = accounts_of(make_plan(FILE))
    changed = make_plan(
        b"101;ONE;pbx.example.com;Desk 1\n"
        b"102;two;pbx.example.com;Desk 2\n"
        b"103;three;pbx.example.com;\n",  # no display name: the file does not clear it
        existing,
    )
    assert [(p.action, p.changes) for p in changed.rows] == [
        (Action.CHANGED, ("password",)),
        (Action.CHANGED, ("display_name",)),
        (Action.IDENTICAL, ()),
    ]
    assert changed.seats_needed == 0
    assert [p.account_id for p in changed.changed] == [100, 101]


def test_login_case_and_default_port_are_the_same_identity() -> None:
    existing = accounts_of(make_plan(b"Alice;pw;PBX.example.com;\n"))
    again = make_plan(b"alice;pw;pbx.example.com;\n", existing)
    assert [p.action for p in again.rows] == [Action.IDENTICAL]


def test_another_owners_account_is_reported_never_duplicated() -> None:
    others = accounts_of(make_plan(b"101;x;pbx.example.com;\n"), mine=False)
    result = make_plan(FILE, others)
    assert [p.action for p in result.rows] == [Action.TAKEN, Action.NEW, Action.NEW]
    assert result.seats_needed == 2
    assert result.summary() == (
        "2 new, 0 changed, 0 identical skipped, 1 already connected by another owner (skipped)"
    )


def test_the_owners_own_copy_wins_over_anothers() -> None:
    first = make_plan(b"101;x;pbx.example.com;\n")
    existing = accounts_of(first, mine=False) + accounts_of(first)
    assert [p.action for p in make_plan(b"101;x;pbx.example.com;\n", existing).rows] == [
        Action.IDENTICAL
    ]


def test_the_same_account_twice_in_a_file_is_an_error_on_the_second() -> None:
    result = make_plan(FILE + b"102;other;PBX.EXAMPLE.COM;\n")
    assert [p.action for p in result.rows] == [Action.NEW] * 3 + [Action.ERROR]
    (found,) = result.issues
    assert (found.code, found.line, found.params["first_line"]) == ("import.duplicate_row", 5, 3)
    assert result.seats_needed == 3


def test_the_preview_line_names_the_first_error() -> None:
    body = b"".join(b"%d;pw%d;pbx.example.com;\n" % (n, n) for n in range(200, 241))
    body += b"bad login;x;pbx.example.com;\n"  # line 43
    existing = accounts_of(make_plan(b"300;a;pbx.example.com;\n301;b;pbx.example.com;\n"))
    existing += accounts_of(make_plan(b"302;c;pbx.example.com;\n"))
    existing = [
        ExistingAccount(n, e.identity, e.password_fingerprint, e.settings)
        for n, e in enumerate(existing)
    ]
    body += b"300;a;pbx.example.com;\n301;b;pbx.example.com;\n302;new;pbx.example.com;\n"
    result = make_plan(body, existing)
    counts = result.counts
    assert (counts.new, counts.changed, counts.identical, counts.errors) == (41, 1, 2, 1)
    assert result.summary() == (
        "41 new, 1 changed, 2 identical skipped, 1 error on line 43: "
        "the login must be 1-128 characters without spaces."
    )
    assert [p.line for p in result.rows] == sorted(p.line for p in result.rows)
    assert result.rows[41].action is Action.ERROR


def test_several_errors_are_counted() -> None:
    result = make_plan(b";x;pbx.example.com;\n102;;pbx.example.com;\n103;x;pbx.example.com;\n")
    assert result.summary().startswith("1 new, 0 changed, 0 identical skipped, 2 errors, the first")


def test_a_refused_file_plans_nothing() -> None:
    result = plan(load(b"\xd0\xcf\x11\xe0rest"), [], fingerprint)
    assert result.refused and not result.rows and result.seats_needed == 0
    assert (
        result.summary()
        == "This is a XLS file, not text; save the table as CSV (UTF-8) and send that."
    )


def test_parse_errors_become_error_rows_in_line_order() -> None:
    result = plan(load(HEADER + b"1;a;b;c;d\n2;x;pbx.example.com;\n", server=None), [], fingerprint)
    assert [(p.line, p.action) for p in result.rows] == [(2, Action.ERROR), (3, Action.NEW)]
    assert parse_bytes(HEADER + b"2;x;pbx.example.com;\n").rows


def test_prepare_runs_the_three_steps_and_reimport_is_idempotent() -> None:
    data = sample("pjsip.conf")

    def run(data: bytes, existing: list[ExistingAccount]) -> ImportPlan:
        return prepare(
            io.BytesIO(data), existing, fingerprint, server=SERVER, templates=builtin_templates()
        )

    first = run(data, [])
    assert (first.counts.new, first.counts.errors, first.seats_needed) == (3, 1, 3)
    assert first.summary().startswith("3 new, 0 changed, 0 identical skipped, 1 error on line 81")
    existing = accounts_of(first)
    again = run(data, existing)
    assert (again.counts.new, again.counts.identical) == (0, 3)
    edited = data.replace(b"password=t1s-only", b"password=n3w-only")
    third = run(edited, existing)
    assert [(p.row.settings.login, p.changes) for p in third.changed if p.row] == [
        ("6003", ("password",))
    ]


def test_identities_are_what_the_service_looks_up() -> None:
    assert load(HEADER + FILE).identities == {
        "101@pbx.example.com:5060",
        "102@pbx.example.com:5060",
        "103@pbx.example.com:5060",
    }


def test_no_password_in_the_plans_repr() -> None:
    result = make_plan(b'101;"S3cr3t;pw";pbx.example.com;\n')
    assert "S3cr3t" not in repr(result) and "S3cr3t" not in result.summary()
