"""The ``telesip`` command, one module per command group; this module assembles them.

Every command reads its settings and reports errors through :mod:`telesip.cli.common`: a rule
error or a failure is one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from telesip.cli import service
from telesip.cli.accounts import accounts_app, audit
from telesip.cli.api_keys import api_keys_app
from telesip.cli.backup import backup, restore
from telesip.cli.bulk import register as register_bulk
from telesip.cli.calls import calls_app
from telesip.cli.configuration import config_app
from telesip.cli.db import db_app
from telesip.cli.doctor import doctor
from telesip.cli.secrets import secrets_app
from telesip.cli.subscriptions import subs_app
from telesip.cli.telegram import telegram_app
from telesip.cli.workers import workers_app

__all__ = ["app", "main"]

app = typer.Typer(
    help="telesip: SIP accounts in Telegram.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.command("run")(service.run_all)
app.command("bot")(service.bot)
app.command("worker")(service.worker)
app.command("api")(service.api)
app.command("audit")(audit)
app.command("doctor")(doctor)
app.command("backup")(backup)
app.command("restore")(restore)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(secrets_app, name="secrets")
register_bulk(accounts_app)  # accounts links|disable|enable|delete|assign
app.add_typer(accounts_app, name="accounts")
app.add_typer(subs_app, name="subscriptions")
app.add_typer(workers_app, name="workers")
app.add_typer(calls_app, name="calls")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(telegram_app, name="telegram")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
