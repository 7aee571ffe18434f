# The waiting helper takes a timeout on purpose: tests read better with it.
# ruff: noqa: ASYNC109
"""Helpers for the tests of running processes: ``telesip`` commands run as real subprocesses on a
SQLite data directory, and what a process serves scraped and parsed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")
SECRET_KEY = "ops-secret-key-5d1f0c9a7e"


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Telesip:
    """One ``telesip`` command as a subprocess; its stderr (the log) goes to a file."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = (
            os.environ
            | {
                "TELESIP_DATA_DIR": str(tmp),
                "TELESIP_SECRET_KEY": SECRET_KEY,
                "TELESIP_SIP_BIND": "127.0.0.1:0",
                "TELESIP_LEASE_TTL_SECONDS": "3",
            }
            | env
        )
        self.log_path = tmp / "telesip.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, *args: str) -> Telesip:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "telesip.cli", *args,
                env=self.env, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    async def stop(self) -> int:
        """SIGTERM (a clean stop), the exit status."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.proc.wait()
            except TimeoutError:
                os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        return int(self.proc.returncode or 0)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGKILL)


async def until(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, proc: Telesip
) -> T:
    """Ask ``probe`` until it gives something (not None/False) or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if proc.proc is not None and proc.proc.returncode is not None:
            raise AssertionError(f"telesip exited ({proc.proc.returncode}): {what}\n{proc.log()}")
        try:
            found = await probe()
        except httpx.TransportError:
            found = None
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}\n{proc.log()[-4000:]}")
        await asyncio.sleep(0.1)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text -> {(sample name, labels): value}."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: dict[Any, float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))
