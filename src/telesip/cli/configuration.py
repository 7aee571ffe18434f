"""``telesip config show``: the effective settings, where each comes from, secrets masked.

A secret (a ``SecretStr`` setting) is shown only as set or unset; a URL shows its password as
``***``. Nothing printed here can reveal a secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from pydantic import SecretStr

from telesip.cli.common import settings
from telesip.config import Settings
from telesip.config_sources import PREFIX, env_file_path, gather, masked_url

config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)

MASK = "***"


def shown(value: object) -> str:
    """A setting's value as it may be printed: secrets masked, URL passwords masked."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    return masked_url(str(value))


@config_app.command("show")
def config_show(
    as_json: bool = typer.Option(False, "--json", help="One JSON document for machines"),
) -> None:
    """Every setting's effective value and its source (environment, env file, file, default)."""
    config = settings()
    found = gather(Settings.model_fields)  # cannot fail: settings() has read the same
    env_file = env_file_path(os.environ)
    rows = [
        {
            "name": PREFIX + name.upper(),
            "value": shown(getattr(config, name)),
            "source": found[name].origin if name in found else "default",
        }
        for name in Settings.model_fields
    ]
    if as_json:
        doc = {"env_file": str(env_file) if env_file else None, "settings": rows}
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(f"env file: {Path(env_file).resolve()}" if env_file else "env file: none")
    width = max(len(row["name"]) for row in rows)
    for row in rows:  # plain lines, never wrapped or cut: values may be long URLs
        typer.echo(f"{row['name']:<{width}}  {row['value'] or '(unset)'}  [{row['source']}]")
