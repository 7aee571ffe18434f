"""The calls wing: everything that runs a bridged call between a SIP line and a Telegram user.

- ``telegram/``: the Telegram side (not the bot): caller accounts and their sessions, the typed
  interface to Telegram's call RPCs and its Telethon implementation, one outgoing private call
  (``leg``), its ntgcalls media and the child process that hosts them (``media_host``);
- ``bridge``: one call, a SIP leg and a Telegram leg joined frame by frame, ended once; it
  needs only ``bridge.CallHost`` from the worker's calls, never the manager itself;
- ``manager``: a worker's calls (``CallManager``, a ``CallHost``): which bridge a SIP message
  belongs to, the outgoing calls and keypad presses people ask for, the limits;
- ``store``: where a worker's calls are written (the service layer, or a remote worker's
  control plane);
- ``rtp_stream`` and ``rtp_ports``: a call's RTP/RTCP sockets on the event loop and the port
  pairs they bind (the packets, codecs and jitter buffer they use are sans-I/O, in
  ``telesip.media``).

The SIP call machines stay in ``telesip.sip`` (``call``, ``callbase``, ``callstate``,
``reinvite``, ``uas``, ``dialog``): they are sans-I/O like ``sip.registration`` (bytes, ``now``
and an injected ``rng`` in; bytes, events and the next timer out; no socket, no clock), share
its message, transaction and digest code, and are tested by moving bytes by hand. The wing
holds the I/O around them: the bridge pumps a machine on the event loop's clock. Likewise
``telesip.media`` keeps no socket and no event loop. The use cases (``services/calls.py``) and
the calls' repository (``store/repositories/calls.py``) stay with the other use cases and
repositories.

Invariant: importing this package, ``store``, ``telegram`` and its light modules (``adapter``,
``codec``, ``errors``, ``sessions``, ``pool``, ``runtime``) needs no extra; the modules that
load numpy, ntgcalls or Telethon are listed in ``telesip.extras.WINGS`` and the core imports
them only once ``extras.missing("calls")`` said the extra is installed.
"""
