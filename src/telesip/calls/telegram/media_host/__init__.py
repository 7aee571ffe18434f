"""The calls' media in a child process: a crash inside ntgcalls ends calls, never the worker.

ntgcalls 3.0.5 shares one WebRTC factory among all the calls of a process, and that factory
rebuilds its list of video codecs, unlocked, each time a call makes an offer or a channel
(``VideoDecoderFactory::GetSupportedFormats``, run by one call's method on one thread and by
ntgcalls' worker thread for another call). Two calls negotiating at the same moment in one
process corrupted the heap about once in 100–250 calls on this machine and the process died;
one call per process never did in 600 calls (docs/calls.md). So:

- the calls' ntgcalls instances live in a child process (``MediaHost``: ``python -m
  telesip.calls.telegram.media_host``), never in the worker; if the child dies, its calls'
  media fail (state ``failed``, waiting methods raise ``CallMediaFailed``) and the next call
  starts a new child;
- inside the child, calls take turns to negotiate: one call at a time from ``connect`` until
  its media is connected (or over, or 3 s), which is when ntgcalls builds offers and
  channels. A process per call would need no turns, but each child runs ntgcalls' own threads
  (a network thread that wakes every millisecond): three times the CPU per call;
- ``HostedMedia`` is one call's handle, with ``P2PMedia``'s methods. ``TelegramLeg`` uses the
  shared host of its process (one per event loop and network namespace); the fake's people
  use a host each, since a person must never wait for a turn held by the call that rings it.

Modules: ``framing`` (the wire between the two processes), ``parent`` (``MediaHost`` and
``HostedMedia``, in the worker), ``child`` (the child's loop and its calls' ``P2PMedia``).
"""

from __future__ import annotations

from .parent import HostedMedia, MediaHost

__all__ = ["HostedMedia", "MediaHost"]
