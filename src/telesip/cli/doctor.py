"""``telesip doctor``: check this machine's configuration, one line per check (or ``--json``);
exit status 0 when no check is an error, else 1."""

from __future__ import annotations

import typer

from telesip import doctor as checks
from telesip.cli.common import run, settings


def doctor(
    as_json: bool = typer.Option(False, "--json", help="One JSON document for machines"),
    role: str | None = typer.Option(
        None,
        help="What this machine runs: run (everything), worker, bot, api or remote "
        "(default: remote when TELESIP_CONTROL_URL or --control-url is set, else run)",
    ),
    control_url: str | None = typer.Option(None, help="Remote worker: the service's HTTPS URL"),
    credential: str | None = typer.Option(None, help="Remote worker: its credential"),
    ca_file: str | None = typer.Option(None, help="Remote worker: CA bundle for the control URL"),
) -> None:
    """Check the configuration: database, key, bot, webhook, ports, addresses, Redis, caller
    accounts, control plane. Each line: ok / warning / error, and what to do."""
    config = settings()
    chosen = role or ("remote" if (control_url or config.control_url) else "run")
    if chosen not in checks.ROLES:
        typer.echo(f"error: --role must be one of {', '.join(checks.ROLES)}", err=True)
        raise typer.Exit(2)
    findings = run(
        checks.diagnose(
            config,
            chosen,  # checked against ROLES above
            control_url=control_url,
            credential=credential,
            ca_file=ca_file,
        )
    )
    if as_json:
        typer.echo(checks.as_json(findings))
    else:
        for finding in findings:
            typer.echo(finding.line())
        counts = {s: sum(f.status is s for f in findings) for s in checks.Status}
        typer.echo(
            f"{counts[checks.Status.OK]} ok, {counts[checks.Status.WARNING]} warnings, "
            f"{counts[checks.Status.ERROR]} errors"
        )
    raise typer.Exit(1 if checks.failed(findings) else 0)
