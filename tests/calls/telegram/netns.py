"""Run a test inside its own network namespace (ntgcalls' libwebrtc ignores loopback).

The ``netns`` fixture moves the test's thread — pytest's main thread, where the event loop
runs — into a fresh network namespace with ``unshare(CLONE_NEWNET)``, gives it ``lo`` and a
veth pair whose ends carry 127.0.1.1/32 and 127.0.1.2/32 (both ends stay inside, so nothing can
leave), and moves the thread back afterwards with ``setns``. Threads and child processes started
from the test thread meanwhile (ntgcalls' native threads, Kamailio, SIPp) live in the namespace;
sockets opened before stay where they were. Where the kernel or the container refuses, the test
is skipped with the reason.

Use it from any test package:

    from tests.calls.telegram.netns import netns  # noqa: F401  (the fixture)

    async def test_call(netns: Netns) -> None: ...   # ask for it before other fixtures

or ``pytestmark = pytest.mark.usefixtures("netns")`` after the import.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

CLONE_NEWNET = 0x40000000
ADDRESSES = ("127.0.1.1", "127.0.1.2")
_SETUP = [
    ["ip", "link", "set", "lo", "up"],
    ["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
    ["ip", "addr", "add", f"{ADDRESSES[0]}/32", "dev", "v0"],
    ["ip", "addr", "add", f"{ADDRESSES[1]}/32", "dev", "v1"],
    ["ip", "link", "set", "v0", "up"],
    ["ip", "link", "set", "v1", "up"],
]


class NetnsRefused(RuntimeError):
    """The namespace cannot be made here (not root, seccomp, no ``ip``)."""


@dataclass(frozen=True)
class Netns:
    """The namespace a test runs in: two addresses, each on one end of the veth pair."""

    a: str = ADDRESSES[0]
    b: str = ADDRESSES[1]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def network_namespace() -> Iterator[Netns]:
    """Enter a fresh namespace on this thread for the ``with`` body; raises NetnsRefused."""
    if shutil.which("ip") is None:
        raise NetnsRefused("the `ip` command (iproute2) is not installed")
    libc = _libc()
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NetnsRefused(f"unshare(CLONE_NEWNET) refused: {os.strerror(errno)}")
        try:
            for cmd in _SETUP:
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise NetnsRefused(f"{' '.join(cmd)}: {done.stderr.strip()}")
            yield Netns()
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen as root
                raise OSError(ctypes.get_errno(), "setns back to the original namespace failed")
    finally:
        os.close(original)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """The test runs in its own network namespace; skipped (with the reason) where refused."""
    try:
        ctx = network_namespace()
        ns = ctx.__enter__()
    except NetnsRefused as exc:
        pytest.skip(f"needs a network namespace for ntgcalls: {exc}")
    try:
        yield ns
    finally:
        ctx.__exit__(None, None, None)
