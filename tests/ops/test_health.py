"""The process's probes: readiness is every registered part's check, a part that hangs or
fails says so without holding the probe, and a part that stopped is gone from both."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from telesip.health import Probes


async def test_readiness_names_each_part_and_why() -> None:
    probes = Probes()

    async def ok() -> str | None:
        return None

    async def down() -> str | None:
        return "not joined yet"

    async def broken() -> str | None:
        raise OSError("boom")

    async def hangs() -> str | None:
        await asyncio.Event().wait()
        return None

    with (
        probes.part("database", ready=ok),
        probes.part("worker w1", ready=down),
        probes.part("bot", ready=broken),
        probes.part("slow", ready=hangs),
    ):
        assert await probes.readiness(within=0.2) == {
            "database": None,
            "worker w1": "not joined yet",
            "bot": "OSError",
            "slow": "no answer within 0.2 s",
        }
    assert await probes.readiness() == {}


def test_collectors_are_read_at_scrape_time_and_leave_with_their_part() -> None:
    from prometheus_client import CollectorRegistry

    probes = Probes()
    registry = CollectorRegistry()
    registry.register(probes)
    held = [3]

    def collect() -> list[Metric]:
        g = GaugeMetricFamily("telesip_test_held", "held")
        g.add_metric([], held[0])
        return [g]

    def broken() -> list[Metric]:
        raise RuntimeError("a part's view failed")

    with probes.part("w", collect=collect), probes.part("b", collect=broken):
        assert b"telesip_test_held 3.0" in generate_latest(registry)
        held[0] = 5
        assert b"telesip_test_held 5.0" in generate_latest(registry)
    assert b"telesip_test_held" not in generate_latest(registry)
