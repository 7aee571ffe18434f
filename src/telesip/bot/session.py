"""The bot's HTTP session to the Bot API: aiogram's aiohttp session with a cheaper request body,
and answers nobody reads left unparsed.

aiogram sends every call as a form; aiohttp encodes a form without files through
``urllib.parse.urlencode``, which percent-encodes byte by byte in Python: for an edited card
(its HTML text and a keyboard of six buttons as JSON, about 1 KB) a dictionary look-up per
byte, about a thousand per call. Here such a form is encoded at C speed: a value of letters,
digits and underscores (names, ids) is sent as it is, any other value with every byte
percent-encoded (``%XX``, which a form decoder reads as it reads the shorter encoding: the same
fields arrive). A call with a file (sendPhoto, sendDocument) is built by aiogram and aiohttp
as before (multipart).

aiogram builds every answer into its objects with pydantic: for an edit, the edited message with
its entities and its keyboard (for a card, about as much CPU as reading the card from the
database). Calls made inside ``answer_unread`` (``replies.show``'s edit, whose edited message
nobody reads) are checked as aiogram checks them (the same errors for an answer that is not
"ok": "message is not modified", 429, ...) but an accepted one answers ``True`` (what
Telegram itself answers for an inline message's edit) without being built.

The updates of the last getUpdates answer are kept as Telegram sent them (``last_updates``,
decoded once, as aiogram decodes them): the update journal stores them as they came instead of
serializing aiogram's objects again. Of a polled button press, the message the button sits
under (the bot's own, a card) reaches aiogram without its keyboard and its formatting
(``UNREAD_OF_PRESSED``): no handler reads them (they act on the callback data and edit the
message by its chat and id), and building them was a third of parsing a card's press. The
journal keeps them (a press taken over after a crash arrives whole).

A keyboard that views build once and share (``shared``: the card's buttons, the same for every
press on that account) is prepared as JSON once, on its first call, instead of on every call
(aiogram dumps it to dicts and walks them, about 1 KB for a card).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, InputFile
from aiohttp import FormData
from aiohttp.payload import BytesPayload, Payload

_UNREAD: ContextVar[bool] = ContextVar("telesip_answer_unread", default=False)

#: what an accepted call made inside ``answer_unread`` answers (never changed: shared)
ACCEPTED: Response[Any] = Response[bool].model_construct(ok=True, result=True)


@contextlib.contextmanager
def answer_unread() -> Iterator[None]:
    """The Bot API calls made inside answer ``True`` when Telegram accepts them (on
    ``BotSession``; another session answers as usual): for a call whose answer is not read."""
    token = _UNREAD.set(True)
    try:
        yield
    finally:
        _UNREAD.reset(token)


#: keyboards shared by the messages that show them, by id: the keyboard (kept, so that its id is
#: not reused) and its prepared JSON once made; the oldest forgotten past ``SHARED_MAX``
_SHARED: dict[int, tuple[InlineKeyboardMarkup, str | None]] = {}
SHARED_MAX = 4096
_MARKUP: set[str] = {"reply_markup"}


def shared(markup: InlineKeyboardMarkup) -> InlineKeyboardMarkup:
    """``markup``, which the caller shares between messages and never changes: ``BotSession``
    prepares its JSON once."""
    if id(markup) not in _SHARED:
        if len(_SHARED) >= SHARED_MAX:
            del _SHARED[next(iter(_SHARED))]
        _SHARED[id(markup)] = (markup, None)
    return markup


def form_value(value: str) -> str:
    """``value`` percent-encoded for an ``application/x-www-form-urlencoded`` body."""
    if value.isascii() and value.replace("_", "0").isalnum():  # names, numbers: as they are
        return value
    return "%" + value.encode().hex("%").upper()


def form_body(fields: list[tuple[str, str]]) -> bytes:
    """The ``application/x-www-form-urlencoded`` body of these fields."""
    return "&".join(f"{form_value(k)}={form_value(v)}" for k, v in fields).encode("ascii")


class UrlencodedForm(FormData):
    """A form without files, its body encoded by ``form_body``: what aiohttp's client takes a
    ``FormData`` for (it calls it for the body). aiohttp's own set-up is skipped (it makes a
    multipart writer, a random boundary and its headers, for every form): this one is never
    multipart, and nothing adds fields to it."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:  # no FormData set-up: above
        self.fields = fields

    @property
    def is_multipart(self) -> bool:
        return False

    def __call__(self) -> Payload:
        return BytesPayload(
            form_body(self.fields), content_type="application/x-www-form-urlencoded"
        )


#: what no handler reads of the message a pressed button sits under (see the module's text)
UNREAD_OF_PRESSED = frozenset({"reply_markup", "entities", "caption_entities"})


def without_unread(update: Any) -> Any:
    """``update`` (a JSON object) as the bot reads it: a button press's message without
    ``UNREAD_OF_PRESSED`` (a new object; ``update`` is left as it is)."""
    query = update.get("callback_query") if isinstance(update, dict) else None
    if not isinstance(query, dict):
        return update
    message = query.get("message")
    if not isinstance(message, dict) or UNREAD_OF_PRESSED.isdisjoint(message):
        return update
    read = {k: v for k, v in message.items() if k not in UNREAD_OF_PRESSED}
    return {**update, "callback_query": {**query, "message": read}}


class BotSession(AiohttpSession):
    """aiogram's ``AiohttpSession``, forms without files encoded by ``UrlencodedForm``, answers
    to calls inside ``answer_unread`` not built when accepted, the last getUpdates's updates
    kept as they came (``last_updates``) and read ``without_unread``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        decode = self.json_loads
        self._decoded: Any = None
        self._polled = False  # a getUpdates answer is being read

        def json_loads(content: Any) -> Any:  # what was decoded last, for ``check_response``
            decoded = self._decoded = decode(content)
            if self._polled and isinstance(decoded, dict):
                found = decoded.get("result")
                if isinstance(found, list):
                    return {**decoded, "result": [without_unread(u) for u in found]}
            return decoded

        self.json_loads = json_loads
        #: the updates of the last getUpdates answered, as Telegram sent them (JSON objects)
        self.last_updates: list[dict[str, Any]] = []

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        if _UNREAD.get() and status_code == HTTPStatus.OK:
            with contextlib.suppress(ValueError):  # not JSON: aiogram says so (below)
                answer = self.json_loads(content)
                if isinstance(answer, dict) and answer.get("ok") is True:
                    return ACCEPTED  # True: the caller reads none
        self._decoded = None
        self._polled = isinstance(method, GetUpdates)
        try:
            response = super().check_response(bot, method, status_code, content)
        finally:
            self._polled = False
        if isinstance(method, GetUpdates):
            decoded = self._decoded
            found = decoded.get("result") if isinstance(decoded, dict) else None
            self.last_updates = found if isinstance(found, list) else []
        return response

    def build_form_data(self, bot: Bot, method: TelegramMethod[TelegramType]) -> FormData:
        files: dict[str, InputFile] = {}
        fields: list[tuple[str, str]] = []
        markup = getattr(method, "reply_markup", None)
        known = _SHARED.get(id(markup)) if markup is not None else None
        if known is not None and known[0] is markup:
            dumped = method.model_dump(warnings=False, exclude=_MARKUP)
            prepared_markup = known[1]
            if prepared_markup is None:
                prepared_markup = str(self.prepare_value(markup, bot=bot, files=files))
                _SHARED[id(markup)] = (markup, prepared_markup)
            fields.append(("reply_markup", prepared_markup))
        else:
            dumped = method.model_dump(warnings=False)
        for key, value in dumped.items():
            prepared: Any = self.prepare_value(value, bot=bot, files=files)
            if prepared:  # as aiogram leaves out what prepares to nothing
                fields.append((key, str(prepared)))
        if files:  # multipart, aiogram's and aiohttp's way
            return super().build_form_data(bot, method)
        return UrlencodedForm(fields)
