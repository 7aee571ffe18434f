"""The Telegram Mini App: an administrator's account table inside Telegram (docs/miniapp.md).

Served by telesip's own HTTP server under ``/miniapp`` (``routes.router``): a static shell,
a small hand-written script (``static/app.js``) and server-rendered HTML fragments. Like the bot
and the API it reaches the database only through ``services`` and decides nothing itself:
``initdata`` proves who is asking, ``table`` orders the rows /softphone would list, ``form``
types what was typed and points each rule error at its field, ``views`` writes the HTML.
"""

from __future__ import annotations

from telesip.miniapp.routes import router

__all__ = ["router"]
