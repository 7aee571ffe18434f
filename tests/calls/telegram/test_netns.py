"""The network namespace helper: isolated inside, restored after, a clear reason when refused."""

from __future__ import annotations

import ctypes
import os
import subprocess

import pytest

from tests.calls.telegram import netns as netns_module
from tests.calls.telegram.netns import Netns, NetnsRefused, network_namespace


def _ns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def test_inside_only_the_veth_pair_and_back_afterwards(netns: Netns) -> None:
    shown = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True)
    addresses = sorted(line.split()[3] for line in shown.stdout.splitlines())
    assert addresses == ["127.0.0.1/8", f"{netns.a}/32", f"{netns.b}/32"]


def test_the_thread_returns_to_its_namespace() -> None:
    before = _ns()
    try:
        with network_namespace():
            assert _ns() != before
    except NetnsRefused as exc:
        pytest.skip(str(exc))
    assert _ns() == before


def test_refusal_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing:
        def unshare(self, flags: int) -> int:
            ctypes.set_errno(1)  # EPERM, as in an unprivileged container
            return -1

    monkeypatch.setattr(netns_module, "_libc", Refusing)
    before = _ns()
    with pytest.raises(NetnsRefused, match="Operation not permitted"), network_namespace():
        pass
    assert _ns() == before
