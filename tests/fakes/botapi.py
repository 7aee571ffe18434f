# The waiting helpers take a timeout on purpose: tests read better with it.
# ruff: noqa: ASYNC109
"""A fake Telegram Bot API server for tests.

The real aiogram bot talks to it over HTTP on loopback, exactly as it talks to
``api.telegram.org``; the tests play the people: they inject updates (messages, button presses,
inline queries, chosen inline results) and read what the bot did (messages per chat with their
current text and keyboard, inline messages, callback and inline answers, photos, every request).

Usage::

    async with FakeBotAPI() as fake:
        bot = Bot(fake.token, session=fake.session())
        ...
        alice = FakeUser(1001, "Alice")
        fake.send_text(alice, "/start")
        reply = await fake.next_message(alice)

See docs/testing.md ("The fake Bot API").
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

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

T = TypeVar("T")
JSON = dict[str, Any]

DEFAULT_TOKEN = "123456789:TEST-fake-bot-api-token"
# Update types Telegram sends when allowed_updates was never set (or set to []).
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Form fields that are plain strings and must never be JSON-decoded.
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "query",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "parse_mode",
        "url",
        "next_offset",
        "switch_pm_text",
        "switch_pm_parameter",
        "description",
        "short_description",
        "name",
        "secret_token",
        "ip_address",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "language_code",
        "action",
        "photo",
        "document",
        "thumbnail",
        "file_id",
        "title",
        "result_id",
    }
)
INLINE_KEYBOARD_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Telegram entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


class BotApiError(Exception):
    """An error answered to the bot the way Telegram answers it."""

    def __init__(
        self, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------
# People and state the tests read
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeUser:
    """A simulated Telegram user. The private chat with the bot has ``chat_id == id``."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "en"
    last_name: str | None = None
    is_premium: bool = False

    def to_dict(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data

    def private_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


class _Keyboarded:
    """Helpers over an ``inline_keyboard`` reply markup."""

    reply_markup: JSON | None

    @property
    def buttons(self) -> list[JSON]:
        """All inline keyboard buttons, row by row (empty without an inline keyboard)."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard") or [] for button in row]

    @property
    def button_texts(self) -> list[str]:
        return [str(button.get("text", "")) for button in self.buttons]

    def find_button(self, text: str) -> JSON | None:
        """The button whose text equals ``text``, else the first whose text contains it."""
        buttons = self.buttons
        for button in buttons:
            if button.get("text") == text:
                return button
        for button in buttons:
            if text.casefold() in str(button.get("text", "")).casefold():
                return button
        return None

    def button(self, text: str) -> JSON:
        """Like :meth:`find_button` but fails the test when there is no such button."""
        button = self.find_button(text)
        if button is None:
            raise AssertionError(f"no button {text!r}; buttons: {self.button_texts!r}")
        return button

    def callback_data(self, text: str) -> str:
        data = self.button(text).get("callback_data")
        if data is None:
            raise AssertionError(f"button {text!r} has no callback_data")
        return str(data)

    def has_callback_data(self, data: str) -> bool:
        return any(button.get("callback_data") == data for button in self.buttons)


@dataclass
class FakePhoto:
    """A photo or document the bot sent; ``data``: uploaded bytes (None for a file_id/URL)."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None
    width: int
    height: int
    chat_id: int | None = None
    message_id: int | None = None
    kind: str = "photo"


@dataclass
class FakeMessage(_Keyboarded):
    """A message in a chat, as it is now (after edits and deletion)."""

    chat_id: int
    message_id: int
    sender: FakeUser | None  # None: sent by the bot
    date: int
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    caption: str | None = None
    reply_markup: JSON | None = None
    photo: FakePhoto | None = None
    document: FakePhoto | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[JSON] = field(default_factory=list)  # earlier versions: text/caption/markup
    params: JSON = field(default_factory=dict)  # the request that created it (bot messages)
    chat: JSON = field(default_factory=dict)

    @property
    def from_bot(self) -> bool:
        return self.sender is None

    @property
    def content(self) -> str:
        """Text or caption ('' if neither)."""
        return self.text if self.text is not None else (self.caption or "")


@dataclass
class FakeInlineMessage(_Keyboarded):
    """A message sent via the bot in inline mode (not in a chat with the bot)."""

    inline_message_id: str
    sender: FakeUser
    chat_with: FakeUser | None
    chat_type: str
    result_id: str
    query: str
    text: str | None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    caption: str | None = None
    edit_date: int | None = None
    history: list[JSON] = field(default_factory=list)

    @property
    def content(self) -> str:
        return self.text if self.text is not None else (self.caption or "")


@dataclass
class CallbackAnswer:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class InlineAnswer:
    inline_query_id: str
    user: FakeUser
    query: str
    chat_type: str | None
    results: list[JSON]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: JSON | None

    @property
    def ids(self) -> list[str]:
        return [str(result["id"]) for result in self.results]

    @property
    def titles(self) -> list[str]:
        return [str(result.get("title", "")) for result in self.results]

    def result(self, result_id: str) -> JSON:
        for result in self.results:
            if str(result.get("id")) == result_id:
                return result
        raise AssertionError(f"no inline result {result_id!r}; ids: {self.ids!r}")

    def result_titled(self, title: str) -> JSON:
        for result in self.results:
            if title.casefold() in str(result.get("title", "")).casefold():
                return result
        raise AssertionError(f"no inline result titled {title!r}; titles: {self.titles!r}")


@dataclass
class RequestRecord:
    """One call the bot made: method (as sent), params (decoded), the outcome."""

    index: int
    method: str
    params: JSON
    files: dict[str, bytes]
    ok: bool = True
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    via: str = "http"  # "http" or "webhook-reply"
    at: float = field(default_factory=time.monotonic)  # when the request arrived


@dataclass
class _Failure:
    method: str
    error: BotApiError
    when: Callable[[JSON], bool] | None
    times: int


class _PendingHandle:
    """Base for objects returned by actions that the bot answers later (awaitable)."""

    def __init__(self, fake: FakeBotAPI, update: JSON) -> None:
        self.fake = fake
        self.update = update


class CallbackHandle(_PendingHandle):
    """Returned by :meth:`FakeBotAPI.press`; ``await handle`` waits for answerCallbackQuery."""

    def __init__(self, fake: FakeBotAPI, update: JSON) -> None:
        super().__init__(fake, update)
        self.id: str = update["callback_query"]["id"]

    @property
    def answer(self) -> CallbackAnswer | None:
        return self.fake.callback_answers.get(self.id)

    async def wait(self, timeout: float | None = None) -> CallbackAnswer:
        return await self.fake.wait_for(
            lambda: self.fake.callback_answers.get(self.id),
            timeout,
            what=f"answerCallbackQuery for {self.update['callback_query'].get('data')!r}",
        )

    def __await__(self) -> Generator[Any, None, CallbackAnswer]:
        return self.wait().__await__()


class InlineQueryHandle(_PendingHandle):
    """Returned by :meth:`FakeBotAPI.inline_query`; ``await handle`` waits for the answer."""

    def __init__(self, fake: FakeBotAPI, update: JSON) -> None:
        super().__init__(fake, update)
        self.id: str = update["inline_query"]["id"]

    @property
    def answer(self) -> InlineAnswer | None:
        return self.fake.inline_answers.get(self.id)

    async def wait(self, timeout: float | None = None) -> InlineAnswer:
        return await self.fake.wait_for(
            lambda: self.fake.inline_answers.get(self.id),
            timeout,
            what=f"answerInlineQuery for {self.update['inline_query']['query']!r}",
        )

    def __await__(self) -> Generator[Any, None, InlineAnswer]:
        return self.wait().__await__()


# --------------------------------------------------------------------------------------------
# Formatting: parse_mode -> plain text + entities (close enough to Telegram's)
# --------------------------------------------------------------------------------------------

_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.position = 0
        self.stack: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[JSON] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise _bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        self.stack.append((tag, self.position, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise _bad_request(
                f'can\'t parse entities: Unmatched end tag "{tag}", expected end tag'
            )
        _, start, attrs = self.stack.pop()
        length = self.position - start
        if length <= 0:
            return
        kind = _HTML_TAGS[tag]
        entity: JSON = {"type": kind, "offset": start, "length": length}
        if tag == "a":
            href = attrs.get("href") or ""
            if href.startswith("tg://user?id="):
                entity = {"type": "text_mention", "offset": start, "length": length}
                entity["user"] = {"id": int(href.split("=", 1)[1]), "is_bot": False}
                entity["user"]["first_name"] = "user"
            else:
                entity["url"] = href
        elif tag == "pre" and self.entities and self.entities[-1]["type"] == "code":
            inner = self.entities[-1]
            if inner["offset"] == start and inner["length"] == length:
                self.entities.pop()
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.out.append(data)
        self.position += utf16_len(data)


def _parse_html(text: str) -> tuple[str, list[JSON]]:
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        tag = parser.stack[-1][0]
        raise _bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{tag}\""
        )
    return html.unescape("".join(parser.out)), sorted(
        parser.entities, key=lambda e: (e["offset"], -e["length"])
    )


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def _parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """A MarkdownV2 reader that rejects unescaped reserved characters like Telegram does."""
    out: list[str] = []
    offset = 0
    open_marks: dict[str, int] = {}
    entities: list[JSON] = []
    marks = {"*": "bold", "__": "underline", "_": "italic", "~": "strikethrough", "||": "spoiler"}
    link_start: int | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            offset += utf16_len(text[i + 1])
            i += 2
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise _bad_request("can't parse entities: Can't find end of Code entity")
            body = text[i + len(fence) : end]
            if fence == "```" and "\n" in body:
                body = body.split("\n", 1)[1]
            body = re.sub(r"\\(.)", r"\1", body)
            entities.append(
                {"type": "pre" if fence == "```" else "code", "offset": offset}
                | {"length": utf16_len(body)}
            )
            out.append(body)
            offset += utf16_len(body)
            i = end + len(fence)
            continue
        mark = next((m for m in ("__", "||", "*", "_", "~") if text.startswith(m, i)), None)
        if mark is not None:
            if mark in open_marks:
                start = open_marks.pop(mark)
                if offset > start:
                    entities.append(
                        {"type": marks[mark], "offset": start, "length": offset - start}
                    )
            else:
                open_marks[mark] = offset
            i += len(mark)
            continue
        if char == "[" and link_start is None:
            link_start = offset
            i += 1
            continue
        if char == "]" and link_start is not None and text.startswith("(", i + 1):
            end = text.find(")", i + 2)
            if end < 0:
                raise _bad_request("can't parse entities: Can't find end of a URL")
            url = text[i + 2 : end]
            entities.append(
                {"type": "text_link", "offset": link_start, "length": offset - link_start}
                | {"url": url}
            )
            link_start = None
            i = end + 1
            continue
        if char in _MDV2_RESERVED:
            raise _bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        out.append(char)
        offset += utf16_len(char)
        i += 1
    if open_marks or link_start is not None:
        raise _bad_request("can't parse entities: Can't find end of the entity")
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _parse_markdown(text: str) -> tuple[str, list[JSON]]:
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[*_`]", "", plain), []


def format_text(
    text: str, parse_mode: str | None, entities: list[JSON] | None
) -> tuple[str, list[JSON]]:
    """Plain text and entities as Telegram would store them for ``text`` sent with this mode."""
    if entities:
        return text, list(entities)
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    return text, []


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def command_entities(text: str) -> list[JSON]:
    """bot_command entities for every /command in ``text`` (as Telegram marks them)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND_RE.finditer(text)
    ]


def _image_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + int(length)
    return 100, 100


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

Handler = Callable[[JSON, dict[str, bytes]], Awaitable[Any]]


class FakeBotAPI:
    """A Telegram Bot API server on 127.0.0.1 for one bot token.

    Start it with ``async with FakeBotAPI() as fake`` (or ``await fake.start()`` /
    ``await fake.stop()``), give ``fake.base_url`` to aiogram (``fake.session()`` builds the
    ``AiohttpSession``), inject updates as people, and read the state.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "telesip_test_bot",
        bot_first_name: str = "telesip",
        bot_id: int | None = None,
        require_started_chat: bool = True,
        inline_feedback: bool = True,
        supports_inline_queries: bool = True,
        default_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.require_started_chat = require_started_chat
        self.inline_feedback = inline_feedback
        self.supports_inline_queries = supports_inline_queries  # BotFather /setinline
        self.default_timeout = default_timeout
        self.clock = clock

        # --- state the tests read
        self.requests: list[RequestRecord] = []
        self.chats: dict[int, list[FakeMessage]] = {}
        self._by_id: dict[tuple[int, int], FakeMessage] = {}
        self.inline_messages: dict[str, FakeInlineMessage] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.inline_answers: dict[str, InlineAnswer] = {}
        self.photos: list[FakePhoto] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope json, lang) -> commands
        self.settings: dict[str, JSON] = {}  # setMyDescription & co: method -> last params
        #: setMyDescription & co per language: (method, language_code or "") -> last params
        self.settings_by_lang: dict[tuple[str, str], JSON] = {}
        self.users: dict[int, FakeUser] = {}
        self.delivered: dict[int, int] = {}  # update_id -> times returned by getUpdates
        self.dropped_updates: list[JSON] = []  # filtered out by allowed_updates
        self.webhook_url: str | None = None
        self.webhook_params: JSON = {}

        # --- internals
        self._updates: list[JSON] = []  # pending (unconfirmed) updates
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._allowed_updates: set[str] | None = None
        self._started_chats: set[int] = set()
        self._blocked: set[int] = set()
        self._pending_callbacks: dict[str, JSON] = {}
        self._pending_inline: dict[str, JSON] = {}
        self._failures: list[_Failure] = []
        self._away: BotApiError | None = None  # every method fails with it (``go_away``)
        self._hung: asyncio.Event | None = None  # every method waits for it (``go_away``)
        self._held: dict[str, asyncio.Event] = {}  # method -> calls of it wait (``hold``)
        self.webhook_answer_times: list[float] = []  # seconds the bot took to answer a POST
        self._files: dict[str, FakePhoto] = {}
        self.downloads: list[str] = []  # file paths the bot downloaded
        self._changed = asyncio.Event()
        self._closing = False
        self._poll_generation = 0
        self._message_cursor: dict[int, int] = {}
        self._request_cursor: dict[str, int] = {}
        self._mark = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._client: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "answercallbackquery": self._answer_callback_query,
            "answerinlinequery": self._answer_inline_query,
            "sendchataction": self._true,
            "getfile": self._get_file,
            "close": self._true,
            "logout": self._true,
        }
        for name in (
            "setMyDescription",
            "setMyShortDescription",
            "setMyName",
            "setChatMenuButton",
            "setMyDefaultAdministratorRights",
        ):
            self._handlers[name.lower()] = self._make_setting(name)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Give this to ``TelegramAPIServer.from_base``."""
        return f"http://127.0.0.1:{self.port}"

    def session(self, **kwargs: Any) -> Any:
        """An aiogram ``AiohttpSession`` pointed at this server (kwargs go to the session)."""
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        return AiohttpSession(api=TelegramAPIServer.from_base(self.base_url), **kwargs)

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- failures & chats

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        when: Callable[[JSON], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (matching ``when(params)``) fail.

        429 answers carry ``parameters.retry_after`` (default 1 s); 403 defaults to
        "Forbidden: bot was blocked by the user".
        """
        parameters: JSON | None = None
        if error_code == 429:
            retry_after = 1 if retry_after is None else retry_after
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif retry_after is not None:
            parameters = {"retry_after": retry_after}
        default = {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden: bot was blocked by the user",
            404: "Not Found",
            409: "Conflict",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }.get(error_code, "Error")
        error = BotApiError(error_code, description or default, parameters)
        self._failures.append(_Failure(method.lower(), error, when, times))

    def go_away(self, error_code: int = 502, *, hang: bool = False) -> None:
        """Telegram goes away: every method answers ``error_code`` (502 Bad Gateway by default),
        or with ``hang`` answers nothing until ``come_back`` (then answers as usual); updates
        people send meanwhile wait, as Telegram keeps them (webhook deliveries go on)."""
        if hang:
            self._hung = asyncio.Event()
            return
        description = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        self._away = BotApiError(error_code, description.get(error_code, "Error"))

    def come_back(self) -> None:
        self._away = None
        if self._hung is not None:
            self._hung.set()
            self._hung = None
        self._notify()

    def hold(self, method: str) -> None:
        """Calls of ``method`` get no answer until ``release``: a process that calls it right
        after a commit (say, answerCallbackQuery) waits there, for a test to kill it."""
        self._held.setdefault(method.lower(), asyncio.Event())

    def release(self) -> None:
        for gate in self._held.values():
            gate.set()
        self._held.clear()

    def start_chat(self, user: FakeUser) -> None:
        """Mark that ``user`` has a private chat with the bot (as if they pressed Start)."""
        self._remember(user)
        self._started_chats.add(user.id)

    def block_bot(self, user: FakeUser) -> None:
        """``user`` blocks the bot: sends to them fail with 403."""
        self._remember(user)
        self._blocked.add(user.id)

    def unblock_bot(self, user: FakeUser) -> None:
        self._blocked.discard(user.id)

    # ---------------------------------------------------------------- people: updates

    def send_text(self, user: FakeUser, text: str, *, reply_to: FakeMessage | None = None) -> JSON:
        """``user`` sends ``text`` to the bot in their private chat; returns the Message dict.

        /commands get bot_command entities, so ``/start TOKEN`` is a deep link.
        """
        self.start_chat(user)
        self._blocked.discard(user.id)  # writing to the bot unblocks it
        message = FakeMessage(
            chat_id=user.id,
            message_id=self._next_message_id(user.id),
            sender=user,
            date=self._now(),
            text=text,
            entities=command_entities(text),
            reply_to_message_id=reply_to.message_id if reply_to else None,
            chat=user.private_chat(),
        )
        self._store(message)
        payload = self.message_json(message)
        self.push_update({"message": payload})
        return payload

    def send_document(
        self, user: FakeUser, data: bytes, filename: str | None, *, caption: str | None = None
    ) -> JSON:
        """``user`` sends a file (a document) to the bot; the bot may fetch it with ``getFile``
        and a download from ``/file/bot<token>/<file_path>``, as from Telegram."""
        self.start_chat(user)
        file_id = self._new_id("Fdoc")
        document = FakePhoto(file_id, f"U{file_id}", data, filename, 0, 0, kind="document")
        self._files[file_id] = document
        message = FakeMessage(
            chat_id=user.id,
            message_id=self._next_message_id(user.id),
            sender=user,
            date=self._now(),
            caption=caption,
            document=document,
            chat=user.private_chat(),
        )
        document.chat_id, document.message_id = message.chat_id, message.message_id
        self._store(message)
        payload = self.message_json(message)
        self.push_update({"message": payload})
        return payload

    def press(
        self,
        user: FakeUser,
        message: FakeMessage | Mapping[str, Any],
        callback_data: str,
        *,
        forged: bool = False,
    ) -> CallbackHandle:
        """``user`` presses the callback button ``callback_data`` under a message in a chat.

        Fails the test when the message has no such button, unless ``forged=True`` (a
        client sending arbitrary data). ``await`` the result for the answerCallbackQuery.
        """
        msg = self._resolve_message(message)
        if not forged:
            if msg.deleted:
                raise AssertionError(f"message {msg.message_id} was deleted; cannot press")
            if not msg.has_callback_data(callback_data):
                raise AssertionError(
                    f"message {msg.message_id} has no button with data {callback_data!r}; "
                    f"buttons: {msg.buttons!r}"
                )
        self._remember(user)
        query: JSON = {
            "id": self._new_id("cq"),
            "from": user.to_dict(),
            "message": self.message_json(msg),
            "chat_instance": str(-1_000_000 - msg.chat_id),
            "data": callback_data,
        }
        update = self.push_update({"callback_query": query})
        self._pending_callbacks[query["id"]] = query
        return CallbackHandle(self, update)

    def press_button(
        self, user: FakeUser, message: FakeMessage | Mapping[str, Any], text: str
    ) -> CallbackHandle:
        """Press the callback button whose text is (or contains) ``text``."""
        msg = self._resolve_message(message)
        return self.press(user, msg, msg.callback_data(text))

    def press_inline(
        self,
        user: FakeUser,
        inline_message_id: str | FakeInlineMessage,
        callback_data: str,
        *,
        forged: bool = False,
    ) -> CallbackHandle:
        """``user`` presses a callback button of an inline message (any chat member may)."""
        msg = self._resolve_inline(inline_message_id)
        if not forged and not msg.has_callback_data(callback_data):
            raise AssertionError(
                f"inline message {msg.inline_message_id} has no button with data "
                f"{callback_data!r}; buttons: {msg.buttons!r}"
            )
        self._remember(user)
        query: JSON = {
            "id": self._new_id("cq"),
            "from": user.to_dict(),
            "inline_message_id": msg.inline_message_id,
            "chat_instance": f"inline-{msg.sender.id}-{msg.chat_with.id if msg.chat_with else 0}",
            "data": callback_data,
        }
        update = self.push_update({"callback_query": query})
        self._pending_callbacks[query["id"]] = query
        return CallbackHandle(self, update)

    def press_inline_button(
        self, user: FakeUser, inline_message_id: str | FakeInlineMessage, text: str
    ) -> CallbackHandle:
        msg = self._resolve_inline(inline_message_id)
        return self.press_inline(user, msg, msg.callback_data(text))

    def inline_query(
        self, user: FakeUser, query: str, chat_type: str | None = "private", offset: str = ""
    ) -> InlineQueryHandle:
        """``user`` types ``@bot query``; ``await`` the result for the bot's InlineAnswer.

        chat_type: "sender" (the chat with the bot), "private", "group", "supergroup",
        "channel" or None (unknown).
        """
        self._remember(user)
        payload: JSON = {
            "id": self._new_id("iq"),
            "from": user.to_dict(),
            "query": query,
            "offset": offset,
        }
        if chat_type is not None:
            payload["chat_type"] = chat_type
        update = self.push_update({"inline_query": payload})
        self._pending_inline[payload["id"]] = payload
        return InlineQueryHandle(self, update)

    def inline_query_from_button(
        self,
        user: FakeUser,
        message: FakeMessage | FakeInlineMessage | Mapping[str, Any],
        button_text: str,
        typed: str = "",
        *,
        chat_type: str | None = None,
    ) -> InlineQueryHandle:
        """Press a switch_inline_query* button and type ``typed`` after the prefilled query.

        switch_inline_query_current_chat on a message in the chat with the bot gives
        chat_type "sender"; on an inline message "private"; switch_inline_query_chosen_chat
        (the chat picker) and switch_inline_query give "private" (a person's chat).
        """
        msg = message if isinstance(message, FakeInlineMessage) else None
        target: _Keyboarded = (
            message if isinstance(message, FakeInlineMessage) else self._resolve_message(message)
        )
        button = target.button(button_text)
        if "switch_inline_query_current_chat" in button:
            prefill = str(button["switch_inline_query_current_chat"])
            default_type = "sender" if msg is None else "private"
        elif "switch_inline_query_chosen_chat" in button:
            prefill = str(button["switch_inline_query_chosen_chat"].get("query", ""))
            default_type = "private"
        elif "switch_inline_query" in button:
            prefill = str(button["switch_inline_query"])
            default_type = "private"
        else:
            raise AssertionError(f"button {button_text!r} is not a switch_inline_query button")
        return self.inline_query(
            user, prefill + typed, chat_type=chat_type if chat_type is not None else default_type
        )

    def choose_inline_result(
        self,
        user: FakeUser,
        query: str | InlineAnswer | InlineQueryHandle,
        result_id: str,
        into_chat_with: FakeUser | None = None,
        *,
        chat_type: str = "private",
    ) -> FakeInlineMessage:
        """``user`` picks inline result ``result_id`` of their answered ``query``.

        Creates the inline message (text from input_message_content, the result's
        reply_markup) in the chat with ``into_chat_with`` and, when inline feedback is on,
        emits chosen_inline_result (with inline_message_id only when the result has an
        inline keyboard, as Telegram does).
        """
        answer = self._find_answer(user, query)
        result = answer.result(result_id)
        content = result.get("input_message_content") or {}
        text: str | None
        caption: str | None = None
        if "message_text" in content:
            text, entities = format_text(
                str(content["message_text"]), content.get("parse_mode"), content.get("entities")
            )
        else:
            text = None
            caption, entities = format_text(
                str(result.get("caption", "")),
                result.get("parse_mode"),
                result.get("caption_entities"),
            )
        markup = result.get("reply_markup")
        inline = FakeInlineMessage(
            inline_message_id=self._new_id("inl"),
            sender=user,
            chat_with=into_chat_with,
            chat_type=chat_type,
            result_id=result_id,
            query=answer.query,
            text=text,
            caption=caption,
            entities=entities,
            reply_markup=markup if markup and markup.get("inline_keyboard") else None,
        )
        self.inline_messages[inline.inline_message_id] = inline
        if into_chat_with is not None:
            self._remember(into_chat_with)
        if self.inline_feedback:
            chosen: JSON = {"result_id": result_id, "from": user.to_dict(), "query": answer.query}
            if inline.reply_markup is not None:
                chosen["inline_message_id"] = inline.inline_message_id
            self.push_update({"chosen_inline_result": chosen})
        else:
            self._notify()
        return inline

    def push_update(self, payload: JSON) -> JSON:
        """Queue a raw update (``update_id`` is added); returns the full update."""
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append(update)
        self._mark = len(self.requests)
        self._request_cursor.clear()
        self._notify()
        if self.webhook_url and self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        return update

    # ---------------------------------------------------------------- reading state

    def messages(self, chat: int | FakeUser, *, include_deleted: bool = True) -> list[FakeMessage]:
        """Every message in the chat (people's and the bot's), oldest first."""
        chat_id = chat.id if isinstance(chat, FakeUser) else chat
        return [m for m in self.chats.get(chat_id, []) if include_deleted or not m.deleted]

    def bot_messages(
        self, chat: int | FakeUser, *, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """The bot's messages in the chat (not deleted ones unless asked), oldest first."""
        return [m for m in self.messages(chat, include_deleted=include_deleted) if m.from_bot]

    def last_message(self, chat: int | FakeUser) -> FakeMessage:
        """The bot's latest not-deleted message in the chat."""
        messages = self.bot_messages(chat)
        if not messages:
            raise AssertionError(f"the bot sent nothing to chat {chat!r}")
        return messages[-1]

    def message(self, chat: int | FakeUser, message_id: int) -> FakeMessage:
        chat_id = chat.id if isinstance(chat, FakeUser) else chat
        return self._by_id[(chat_id, message_id)]

    def calls(self, method: str) -> list[RequestRecord]:
        """Every request of ``method`` (case-insensitive), oldest first."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def mark(self) -> int:
        """An index into ``requests``: pass it as ``since=`` to wait only for later ones."""
        return len(self.requests)

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot (getUpdates offset)."""
        return list(self._updates)

    # ---------------------------------------------------------------- waiting

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float | None = None, *, what: str = ""
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every request and update)."""
        loop = asyncio.get_running_loop()
        limit = self.default_timeout if timeout is None else timeout
        deadline = loop.time() + limit
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(r.method for r in self.requests[-15:])
                raise TimeoutError(
                    f"timed out after {limit}s waiting for {what or predicate!r}; "
                    f"last requests: [{recent}]"
                )
            event = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()

    async def wait_for_request(
        self,
        method: str,
        predicate: Callable[[RequestRecord], bool] | None = None,
        *,
        timeout: float | None = None,
        since: int | None = None,
    ) -> RequestRecord:
        """The next request of ``method`` made in reaction to the last injected update.

        Each call consumes the request it returns, so calling it twice returns the first and
        the second ``sendMessage`` after the last update. ``since`` overrides the start index.
        """
        key = method.lower()

        def find() -> RequestRecord | None:
            start = since if since is not None else self._request_cursor.get(key, self._mark)
            for record in self.requests[start:]:
                if record.method.lower() == key and (predicate is None or predicate(record)):
                    return record
            return None

        record = await self.wait_for(find, timeout, what=f"request {method}")
        if since is None:
            self._request_cursor[key] = record.index + 1
        return record

    async def next_message(self, chat: int | FakeUser, timeout: float | None = None) -> FakeMessage:
        """The bot's next message in the chat that the test has not read yet."""
        chat_id = chat.id if isinstance(chat, FakeUser) else chat

        def find() -> FakeMessage | None:
            seen = self._message_cursor.get(chat_id, 0)
            for msg in self.chats.get(chat_id, []):
                if msg.from_bot and msg.message_id > seen:
                    return msg
            return None

        msg = await self.wait_for(find, timeout, what=f"a bot message in chat {chat_id}")
        self._message_cursor[chat_id] = msg.message_id
        return msg

    def skip_messages(self, chat: int | FakeUser) -> None:
        """Mark every bot message in the chat so far as read for :meth:`next_message`."""
        chat_id = chat.id if isinstance(chat, FakeUser) else chat
        ids = [m.message_id for m in self.chats.get(chat_id, []) if m.from_bot]
        if ids:
            self._message_cursor[chat_id] = max(ids)

    async def wait_until_delivered(self, timeout: float | None = None) -> None:
        """Wait until the bot has confirmed every injected update (fetched the next batch)."""
        await self.wait_for(lambda: not self._updates or None, timeout, what="update delivery")

    # ---------------------------------------------------------------- JSON builders

    def message_json(self, msg: FakeMessage) -> JSON:
        data: JSON = {
            "message_id": msg.message_id,
            "date": msg.date,
            "chat": msg.chat or {"id": msg.chat_id, "type": "private", "first_name": "?"},
            "from": self.bot_user if msg.sender is None else msg.sender.to_dict(),
        }
        if msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = msg.entities
        if msg.photo is not None:
            data["photo"] = self._photo_sizes(msg.photo)
        if msg.document is not None:
            doc: JSON = {
                "file_id": msg.document.file_id,
                "file_unique_id": msg.document.file_unique_id,
            }
            if msg.document.filename:
                doc["file_name"] = msg.document.filename
            if msg.document.data is not None:
                doc["file_size"] = len(msg.document.data)
            data["document"] = doc
        if msg.caption is not None:
            data["caption"] = msg.caption
            if msg.entities:
                data["caption_entities"] = msg.entities
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if msg.reply_markup and msg.reply_markup.get("inline_keyboard"):
            data["reply_markup"] = msg.reply_markup
        if msg.reply_to_message_id is not None:
            other = self._by_id.get((msg.chat_id, msg.reply_to_message_id))
            if other is not None and other is not msg:
                reply = self.message_json(other)
                reply.pop("reply_to_message", None)
                data["reply_to_message"] = reply
        return data

    @staticmethod
    def _photo_sizes(photo: FakePhoto) -> list[JSON]:
        size: JSON = {
            "file_id": photo.file_id,
            "file_unique_id": photo.file_unique_id,
            "width": photo.width,
            "height": photo.height,
        }
        if photo.data is not None:
            size["file_size"] = len(photo.data)
        return [size]

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params, files = await self._read_params(request)
        status, body = await self.call(
            method, params, files, gone=lambda: request.transport is None
        )
        return web.json_response(body, status=status)

    async def call(
        self,
        method: str,
        params: JSON,
        files: dict[str, bytes] | None = None,
        via: str = "http",
        gone: Callable[[], bool] | None = None,
    ) -> tuple[int, JSON]:
        """Run one Bot API method as if it came over HTTP; returns (status, JSON body).
        ``gone``: the caller hung up; a call held by ``go_away(hang=True)`` or ``hold`` whose
        caller hung up meanwhile is not carried out (its process was stopped)."""
        record = RequestRecord(len(self.requests), method, params, files or {}, via=via)
        key = method.lower()
        handler = self._handlers.get(key)
        self.requests.append(record)
        if key == "getupdates":
            self._notify()  # the result is filled in when the long poll returns
        try:
            if handler is None:
                raise BotApiError(404, "Not Found")
            if self._hung is not None:
                await self._hung.wait()
            if (gate := self._held.get(key)) is not None:
                await gate.wait()
            if gone is not None and gone():
                raise BotApiError(499, "Client Closed Request")
            if self._away is not None:
                raise self._away
            self._check_failure(key, params)
            result = await handler(params, record.files)
        except BotApiError as error:
            record.ok = False
            record.error_code = error.error_code
            record.description = error.description
            status, body = error.error_code, error.to_json()
        else:
            record.result = result
            status, body = 200, {"ok": True, "result": result}
        self._notify()
        return status, body

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, bytes]]:
        params: JSON = {key: _coerce(key, value) for key, value in request.query.items()}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                    params.setdefault("_filenames", {})[key] = value.filename
                else:
                    params[key] = _coerce(key, str(value))
        return params, files

    def _check_failure(self, key: str, params: JSON) -> None:
        for failure in self._failures:
            if failure.method == key and (failure.when is None or failure.when(params)):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise failure.error

    def _notify(self) -> None:
        event = self._changed
        self._changed = asyncio.Event()
        event.set()

    def _now(self) -> int:
        return int(self.clock())

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}{self.bot_id % 1000:03d}"

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _store(self, message: FakeMessage) -> None:
        self.chats.setdefault(message.chat_id, []).append(message)
        self._by_id[(message.chat_id, message.message_id)] = message

    def _remember(self, user: FakeUser) -> None:
        self.users[user.id] = user

    def _resolve_message(self, message: FakeMessage | Mapping[str, Any]) -> FakeMessage:
        if isinstance(message, FakeMessage):
            return message
        return self.message(int(message["chat"]["id"]), int(message["message_id"]))

    def _resolve_inline(self, inline: str | FakeInlineMessage) -> FakeInlineMessage:
        if isinstance(inline, FakeInlineMessage):
            return inline
        try:
            return self.inline_messages[inline]
        except KeyError:
            raise AssertionError(f"no inline message {inline!r}") from None

    def _find_answer(
        self, user: FakeUser, query: str | InlineAnswer | InlineQueryHandle
    ) -> InlineAnswer:
        if isinstance(query, InlineAnswer):
            return query
        if isinstance(query, InlineQueryHandle):
            if query.answer is None:
                raise AssertionError(f"inline query {query.id} was not answered")
            return query.answer
        for answer in reversed(list(self.inline_answers.values())):
            if answer.user.id == user.id and answer.query == query:
                return answer
        raise AssertionError(f"the bot has not answered {user.first_name}'s inline query {query!r}")

    # ---------------------------------------------------------------- chat access

    def _chat_for_send(self, chat_id_value: Any) -> JSON:
        try:
            chat_id = int(chat_id_value)
        except (TypeError, ValueError):
            raise _bad_request("chat not found") from None
        if chat_id in self._blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        user = self.users.get(chat_id)
        if user is None:
            raise _bad_request("chat not found")
        if self.require_started_chat and chat_id not in self._started_chats:
            raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return user.private_chat()

    def _validate_markup(self, markup: Any) -> JSON | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise _bad_request("text buttons are unallowed in the inline keyboard")
                if not INLINE_KEYBOARD_ACTIONS & set(button):
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad_request("BUTTON_DATA_INVALID")
        return markup

    def _find_editable(self, params: JSON) -> FakeMessage | FakeInlineMessage:
        if params.get("inline_message_id"):
            inline = self.inline_messages.get(str(params["inline_message_id"]))
            if inline is None:
                raise _bad_request("MESSAGE_ID_INVALID")
            return inline
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        if chat_id is None or message_id is None:
            raise _bad_request("message identifier is not specified")
        try:
            msg = self.message(int(chat_id), int(message_id))
        except (KeyError, ValueError):
            raise _bad_request("message to edit not found") from None
        if msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return msg

    def _edited(self, target: FakeMessage | FakeInlineMessage) -> Any:
        target.edit_date = self._now()
        if isinstance(target, FakeInlineMessage):
            return True
        return self.message_json(target)

    # ---------------------------------------------------------------- methods

    async def _true(self, params: JSON, files: dict[str, bytes]) -> bool:
        return True

    #: Telegram's cloud Bot API serves files up to 20 MB to bots
    MAX_DOWNLOAD = 20 * 1024 * 1024

    async def _get_file(self, params: JSON, files: dict[str, bytes]) -> JSON:
        media = self._files.get(str(params.get("file_id", "")))
        if media is None or media.data is None:
            raise _bad_request("invalid file_id")
        result: JSON = {
            "file_id": media.file_id,
            "file_unique_id": media.file_unique_id,
            "file_size": len(media.data),
        }
        if len(media.data) > self.MAX_DOWNLOAD:
            raise _bad_request("file is too big")
        result["file_path"] = f"documents/{media.file_id}"
        return result

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """``GET /file/bot<token>/<file_path>``: the bytes of a file ``getFile`` named."""
        self.downloads.append(request.match_info["path"])
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        media = self._files.get(request.match_info["path"].removeprefix("documents/"))
        if media is None or media.data is None:
            return web.Response(status=404)
        return web.Response(body=media.data, content_type="application/octet-stream")

    def _make_setting(self, name: str) -> Handler:
        async def handler(params: JSON, files: dict[str, bytes]) -> bool:
            self.settings[name] = params
            self.settings_by_lang[(name, str(params.get("language_code") or ""))] = params
            return True

        return handler

    async def _get_me(self, params: JSON, files: dict[str, bytes]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        if self.webhook_url:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(int(params.get("timeout") or 0), 0)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = set(allowed) if allowed else None
        if offset > 0:
            before = len(self._updates)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if len(self._updates) != before:
                self._notify()
        elif offset < 0:
            self._updates = self._updates[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._deliverable(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing:
                for update in batch:
                    self.delivered[update["update_id"]] = (
                        self.delivered.get(update["update_id"], 0) + 1
                    )
                return batch
            if generation != self._poll_generation:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            event = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()

    def _update_type(self, update: JSON) -> str:
        return next(key for key in update if key != "update_id")

    def _deliverable(self, limit: int) -> list[JSON]:
        kept: list[JSON] = []
        for update in self._updates:
            kind = self._update_type(update)
            allowed = (
                kind in self._allowed_updates
                if self._allowed_updates is not None
                else kind not in DEFAULT_EXCLUDED_UPDATES
            )
            if allowed:
                kept.append(update)
            else:
                self.dropped_updates.append(update)
        self._updates = kept
        return kept[:limit]

    async def _set_webhook(self, params: JSON, files: dict[str, bytes]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, files)
        self.webhook_url = url
        self.webhook_params = params
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = set(allowed) if allowed else None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        return True

    async def _delete_webhook(self, params: JSON, files: dict[str, bytes]) -> bool:
        self.webhook_url = None
        self.webhook_params = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON, files: dict[str, bytes]) -> JSON:
        info: JSON = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url and self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _deliver_webhook(self) -> None:
        """POST pending updates to the webhook one by one; runs while a webhook is set."""
        try:
            while self.webhook_url and not self._closing:
                batch = self._deliverable(1)
                if not batch:
                    event = self._changed
                    await event.wait()
                    continue
                update = batch[0]
                if self._client is None:
                    self._client = aiohttp.ClientSession()
                headers = {}
                secret = self.webhook_params.get("secret_token")
                if secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = str(secret)
                reply: tuple[JSON, dict[str, bytes]] | None = None
                posted = time.monotonic()
                try:
                    async with self._client.post(
                        self.webhook_url, json=update, headers=headers
                    ) as resp:
                        ok = 200 <= resp.status < 300
                        if ok:
                            reply = await self._read_webhook_reply(resp)
                except aiohttp.ClientError:
                    ok = False
                self.webhook_answer_times.append(time.monotonic() - posted)
                if not ok:
                    event = self._changed
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.2):
                            await event.wait()
                    continue
                self.delivered[update["update_id"]] = self.delivered.get(update["update_id"], 0) + 1
                self._updates = [u for u in self._updates if u is not update]
                self._notify()
                if reply is not None and reply[0].get("method"):
                    params, files = reply
                    method = str(params.pop("method"))
                    await self.call(method, params, files, via="webhook-reply")
        finally:
            self._webhook_task = None

    @staticmethod
    async def _read_webhook_reply(
        resp: aiohttp.ClientResponse,
    ) -> tuple[JSON, dict[str, bytes]] | None:
        """A method call in the webhook response body (JSON or multipart, as aiogram sends)."""
        if resp.content_type.startswith("multipart/"):
            params: JSON = {}
            files: dict[str, bytes] = {}
            reader = aiohttp.MultipartReader.from_response(resp)
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename:
                    files[part.name] = bytes(await part.read())
                    params.setdefault("_filenames", {})[part.name] = part.filename
                else:
                    params[part.name] = _coerce(part.name, await part.text())
            return params, files
        body = await resp.read()
        with contextlib.suppress(ValueError):
            data = json.loads(body) if body else None
            if isinstance(data, dict):
                return data, {}
        return None

    def _scope_key(self, params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, params: JSON, files: dict[str, bytes]) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("command description is empty")
        self.commands[self._scope_key(params)] = list(commands)
        return True

    async def _get_my_commands(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        return self.commands.get(self._scope_key(params), [])

    async def _delete_my_commands(self, params: JSON, files: dict[str, bytes]) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    def my_commands(self, language_code: str = "", scope: JSON | None = None) -> list[str]:
        """Command names set with setMyCommands for that scope/language (default scope)."""
        key = self._scope_key({"scope": scope, "language_code": language_code})
        return [str(c["command"]) for c in self.commands.get(key, [])]

    def _new_bot_message(self, params: JSON, **fields: Any) -> FakeMessage:
        chat = self._chat_for_send(params.get("chat_id"))
        chat_id = int(chat["id"])
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
        msg = FakeMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            sender=None,
            date=self._now(),
            reply_markup=self._validate_markup(params.get("reply_markup")),
            reply_to_message_id=int(reply_to) if reply_to is not None else None,
            params=params,
            chat=chat,
            **fields,
        )
        self._store(msg)
        return msg

    async def _send_message(self, params: JSON, files: dict[str, bytes]) -> JSON:
        raw = str(params.get("text") or "")
        text, entities = format_text(raw, params.get("parse_mode"), params.get("entities"))
        if not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > 4096:
            raise _bad_request("message is too long")
        msg = self._new_bot_message(params, text=text, entities=entities)
        return self.message_json(msg)

    def _media(self, params: JSON, files: dict[str, bytes], key: str) -> FakePhoto:
        value = params.get(key)
        data: bytes | None = None
        filename: str | None = None
        filenames = params.get("_filenames") or {}
        if key in files:
            data, filename = files[key], filenames.get(key)
        elif isinstance(value, str) and value.startswith("attach://"):
            name = value.removeprefix("attach://")
            if name not in files:
                raise _bad_request(f"wrong file identifier/HTTP URL specified ({value})")
            data, filename = files[name], filenames.get(name)
        elif isinstance(value, str) and value in self._files:
            return self._files[value]
        elif not value:
            raise _bad_request(f"there is no {key} in the request")
        if data is not None and not data:
            raise _bad_request("file must be non-empty")
        width, height = _image_size(data) if data and key == "photo" else (100, 100)
        file_id = self._new_id(f"F{key[:3]}")
        media = FakePhoto(
            file_id=file_id,
            file_unique_id=f"U{file_id}",
            data=data,
            filename=filename or (value if isinstance(value, str) and data is None else None),
            width=width,
            height=height,
            kind=key,
        )
        self._files[file_id] = media
        return media

    async def _send_photo(self, params: JSON, files: dict[str, bytes]) -> JSON:
        self._chat_for_send(params.get("chat_id"))
        photo = self._media(params, files, "photo")
        caption, entities = self._caption(params)
        msg = self._new_bot_message(params, photo=photo, caption=caption, entities=entities)
        photo.chat_id, photo.message_id = msg.chat_id, msg.message_id
        self.photos.append(photo)
        return self.message_json(msg)

    async def _send_document(self, params: JSON, files: dict[str, bytes]) -> JSON:
        self._chat_for_send(params.get("chat_id"))
        document = self._media(params, files, "document")
        caption, entities = self._caption(params)
        msg = self._new_bot_message(params, document=document, caption=caption, entities=entities)
        document.chat_id, document.message_id = msg.chat_id, msg.message_id
        return self.message_json(msg)

    def _caption(self, params: JSON) -> tuple[str | None, list[JSON]]:
        if params.get("caption") is None:
            return None, []
        caption, entities = format_text(
            str(params["caption"]), params.get("parse_mode"), params.get("caption_entities")
        )
        if utf16_len(caption) > 1024:
            raise _bad_request("message caption is too long")
        return caption, entities

    async def _edit_message_text(self, params: JSON, files: dict[str, bytes]) -> Any:
        target = self._find_editable(params)
        text, entities = format_text(
            str(params.get("text") or ""), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > 4096:
            raise _bad_request("MESSAGE_TOO_LONG")
        if target.text is None:
            raise _bad_request("there is no text in the message to edit")
        markup = self._validate_markup(params.get("reply_markup"))
        if target.text == text and target.entities == entities and target.reply_markup == markup:
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        target.history.append(
            {"text": target.text, "entities": target.entities, "reply_markup": target.reply_markup}
        )
        target.text, target.entities, target.reply_markup = text, entities, markup
        return self._edited(target)

    async def _edit_message_caption(self, params: JSON, files: dict[str, bytes]) -> Any:
        target = self._find_editable(params)
        caption, entities = self._caption(params)
        markup = self._validate_markup(params.get("reply_markup"))
        if target.caption == caption and target.reply_markup == markup:
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        target.history.append({"caption": target.caption, "reply_markup": target.reply_markup})
        target.caption, target.entities, target.reply_markup = caption, entities, markup
        return self._edited(target)

    async def _edit_message_reply_markup(self, params: JSON, files: dict[str, bytes]) -> Any:
        target = self._find_editable(params)
        markup = self._validate_markup(params.get("reply_markup"))
        if markup is not None and not markup.get("inline_keyboard"):
            markup = None
        if target.reply_markup == markup:
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        target.history.append({"reply_markup": target.reply_markup})
        target.reply_markup = markup
        return self._edited(target)

    async def _delete_message(self, params: JSON, files: dict[str, bytes]) -> bool:
        try:
            msg = self.message(int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        except (KeyError, ValueError):
            raise _bad_request("message to delete not found") from None
        if msg.deleted:
            raise _bad_request("message to delete not found")
        msg.deleted = True
        return True

    async def _delete_messages(self, params: JSON, files: dict[str, bytes]) -> bool:
        chat_id = int(params.get("chat_id") or 0)
        for message_id in params.get("message_ids") or []:
            with contextlib.suppress(KeyError):
                self.message(chat_id, int(message_id)).deleted = True
        return True

    async def _answer_callback_query(self, params: JSON, files: dict[str, bytes]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._pending_callbacks:
            raise _bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        del self._pending_callbacks[query_id]
        self.callback_answers[query_id] = CallbackAnswer(
            callback_query_id=query_id,
            text=None if text is None else str(text),
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
            cache_time=int(params.get("cache_time") or 0),
        )
        return True

    async def _answer_inline_query(self, params: JSON, files: dict[str, bytes]) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        query = self._pending_inline.get(query_id)
        if query is None:
            raise _bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = list(params.get("results") or [])
        if len(results) > 50:
            raise _bad_request("RESULTS_TOO_MUCH")
        ids = [str(result.get("id", "")) for result in results]
        if len(set(ids)) != len(ids) or any(not 1 <= len(i.encode()) <= 64 for i in ids):
            raise _bad_request("RESULT_ID_INVALID")
        for result in results:
            self._validate_markup(result.get("reply_markup"))
            content = result.get("input_message_content") or {}
            if result.get("type") == "article" and not content:
                raise _bad_request("input_message_content is required for article results")
            if "message_text" in content:
                format_text(
                    str(content["message_text"]),
                    content.get("parse_mode"),
                    content.get("entities"),
                )
        del self._pending_inline[query_id]
        user_id = int(query["from"]["id"])
        self.inline_answers[query_id] = InlineAnswer(
            inline_query_id=query_id,
            user=self.users[user_id],
            query=str(query["query"]),
            chat_type=query.get("chat_type"),
            results=results,
            cache_time=int(params["cache_time"]) if params.get("cache_time") is not None else None,
            is_personal=bool(params.get("is_personal", False)),
            next_offset=params.get("next_offset"),
            button=params.get("button"),
        )
        return True


def _coerce(key: str, value: str) -> Any:
    """Decode a form field the way Telegram reads it (JSON for non-string fields)."""
    if key in STRING_FIELDS:
        return value
    if key == "chat_id" and not re.fullmatch(r"-?\d+", value):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
