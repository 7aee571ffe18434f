"""Test doubles: a fake Telegram Bot API server and the simulated people that use it
(re-exported here), and Telegram's call servers with the people they ring
(``telegram_calls``, ``telegram_calls_remote``: they load ntgcalls and numpy, so import them
from their modules)."""

from tests.fakes.botapi import (
    BotApiError,
    CallbackAnswer,
    CallbackHandle,
    FakeBotAPI,
    FakeInlineMessage,
    FakeMessage,
    FakePhoto,
    FakeUser,
    InlineAnswer,
    InlineQueryHandle,
    RequestRecord,
)

__all__ = [
    "BotApiError",
    "CallbackAnswer",
    "CallbackHandle",
    "FakeBotAPI",
    "FakeInlineMessage",
    "FakeMessage",
    "FakePhoto",
    "FakeUser",
    "InlineAnswer",
    "InlineQueryHandle",
    "RequestRecord",
]
