"""Log lines: the JSON format (one object per line with the ids of what the line is about), the
ids in the text format, and secrets blanked out of both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from telesip.logs import (
    JsonFormatter,
    TextFormatter,
    add_secret,
    bind_log_context,
    configure_logging,
    log_context,
)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("telesip.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)
    logger.propagate = True


def test_json_line_has_time_level_logger_message_and_the_ids(captured) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    with log_context(worker="w1"), log_context(user_id=1001, account_id=None):
        logger.info("offer %s sent", 42, extra={"account_id": 7, "call_id": 9})
    logger.warning("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO" and first["logger"] == "telesip.test.logs"
    assert first["message"] == "offer 42 sent"
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert (first["worker"], first["account_id"], first["call_id"], first["user_id"]) == (
        "w1",
        7,
        9,
        1001,
    )
    assert second["message"] == "outside" and "worker" not in second and "user_id" not in second


def test_text_line_shows_the_ids_after_the_logger(captured) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = captured
    handler.setFormatter(TextFormatter("%(levelname)s %(name)s%(ids)s: %(message)s"))
    with log_context(worker="w2"):
        logger.info("joined", extra={"account_id": 5})
    logger.info("plain")
    assert stream.getvalue().splitlines() == [
        "INFO telesip.test.logs [worker=w2 account_id=5]: joined",
        "INFO telesip.test.logs: plain",
    ]


async def test_a_task_bound_context_reaches_its_child_tasks_only(captured) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())

    async def part() -> None:
        bind_log_context(worker="w3")
        await asyncio.create_task(asyncio.to_thread(lambda: None))
        await asyncio.create_task(_log(logger, "child"))

    await asyncio.create_task(part())
    logger.info("parent")
    child, parent = (json.loads(line) for line in stream.getvalue().splitlines())
    assert child["worker"] == "w3" and "worker" not in parent


async def _log(logger: logging.Logger, message: str) -> None:
    logger.info(message)


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter("%(message)s")])
def test_secrets_are_blanked_in_messages_and_tracebacks(captured, formatter) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = captured
    handler.setFormatter(formatter)
    add_secret("Sup3r-Secret-Key-Material")
    add_secret("abc")  # too short to blank safely: ignored
    token = "7355608123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    logger.info("key %s", "Sup3r-Secret-Key-Material")
    logger.info("GET https://api.example.org/bot%s/getMe", token)
    logger.info("api key tsk_%s and credential tsw_%s", "A" * 24, "b" * 30)
    logger.info("postgresql://telesip:dbpass-2291@db/telesip")
    try:
        raise RuntimeError("failed with Sup3r-Secret-Key-Material")
    except RuntimeError:
        logger.exception("boom abc")
    out = stream.getvalue()
    for secret in ("Sup3r-Secret-Key-Material", token, "AAHdqTcv", "A" * 24, "b" * 30, "dbpass"):
        assert secret not in out
    assert "boom abc" in out and "tsk_[redacted]" in out and "telesip:[redacted]@db" in out


def test_configure_logging_installs_one_handler_in_the_chosen_format() -> None:
    root = logging.getLogger()
    level, hosts = root.level, list(root.handlers)
    configure_logging("debug", style="json")  # pytest's handlers are there: left alone
    assert root.handlers == hosts
    for h in hosts:  # as in a `telesip` process: nobody else configured logging
        root.removeHandler(h)
    try:
        configure_logging("debug", style="json")
        configure_logging("warning", style="json")
        assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonFormatter)
        assert root.level == logging.WARNING
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in hosts:
            root.addHandler(h)
        root.setLevel(level)
