"""The long-running commands: ``telesip run`` (everything), ``bot``, ``worker`` and ``api``."""

from __future__ import annotations

import contextlib

import typer

from telesip import eventloop
from telesip.bootstrap import run as run_service
from telesip.cli.common import err, run, settings
from telesip.health import probes_server
from telesip.logs import add_secret


def run_all() -> None:
    """Run the service: migrate, then the API, the bot (with TELESIP_BOT_TOKEN) and a worker."""
    config = settings()
    config.configure_logging()
    eventloop.tune_gc()  # it holds a worker's registrations: the worker's setting
    with contextlib.suppress(KeyboardInterrupt):
        run(run_service(config))


def bot() -> None:
    """Run only the Telegram bot (TELESIP_BOT_TOKEN; long polling, or TELESIP_WEBHOOK_URL)."""
    config = settings()
    if config.bot_token is None or not config.bot_token.get_secret_value():
        err.print("[red]error:[/] TELESIP_BOT_TOKEN is not set")
        raise typer.Exit(2)
    config.configure_logging()
    # a thousand-account /softphone makes ~20,000 objects, and keeps few: short collections
    eventloop.tune_gc(eventloop.GC_REQUEST_THRESHOLDS)
    with contextlib.suppress(KeyboardInterrupt):
        run(run_service(config, only={"bot"}))


def api() -> None:
    """Run only the HTTP API (and its webhook dispatcher) on TELESIP_API_BIND."""
    config = settings()
    config.configure_logging()
    # a page of the listings is a thousand accounts, and keeps few: short collections
    eventloop.tune_gc(eventloop.GC_REQUEST_THRESHOLDS)
    with contextlib.suppress(KeyboardInterrupt):
        run(run_service(config, only={"api"}))


def worker(
    name: str | None = typer.Option(None, help="Worker name (default TELESIP_WORKER_NAME or host)"),
    pool: str | None = typer.Option(None, help="Pool this worker serves pinned accounts of"),
    control_url: str | None = typer.Option(
        None,
        help="Remote worker: the service's HTTPS URL, no database access needed "
        "(default TELESIP_CONTROL_URL)",
    ),
    credential: str | None = typer.Option(
        None, help="Remote worker: its one-time credential (default TELESIP_WORKER_CREDENTIAL)"
    ),
    ca_file: str | None = typer.Option(
        None, help="Remote worker: CA bundle for the control URL (default TELESIP_CONTROL_CA_FILE)"
    ),
) -> None:
    """Run only a SIP worker: keep the accounts it holds registered (TELESIP_SIP_BIND)."""
    config = settings()
    config.worker_name = name or config.worker_name
    config.worker_pool = pool or config.worker_pool
    control_url = control_url or config.control_url
    if credential is None and config.worker_credential is not None:
        credential = config.worker_credential.get_secret_value()
    ca_file = ca_file or config.control_ca_file
    add_secret(credential)
    config.configure_logging()
    eventloop.tune_gc()  # a dozen long-lived objects per account it keeps registered
    if control_url is None:
        with contextlib.suppress(KeyboardInterrupt):
            run(run_service(config, only={"worker"}))
        return
    from telesip.doctor import log_at_start
    from telesip.workers.remote import run_remote_worker

    if not credential or not config.worker_name:
        err.print(
            "[red]error:[/] a remote worker needs --name and --credential "
            "(or TELESIP_WORKER_NAME and TELESIP_WORKER_CREDENTIAL)"
        )
        raise typer.Exit(2)

    url, secret = control_url, credential

    async def remote() -> None:
        await log_at_start(config, "remote", control_url=url, credential=secret, ca_file=ca_file)
        async with probes_server(config.metrics_bind):
            await run_remote_worker(config, control_url=url, credential=secret, ca_file=ca_file)

    with contextlib.suppress(KeyboardInterrupt):
        run(remote())
