"""Test doubles: a fake Telegram Bot API server and the simulated people that use it."""

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
