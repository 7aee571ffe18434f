"""The worker's calls: SIP requests that belong to calls, the outgoing calls people ask for in
the bot or the API, their keypad presses and hang-ups, and the limits.

The registration manager hands over what its registrations do not own (`attach_calls`): a new
INVITE to one of its lines starts an `InboundBridge`; requests and responses of a running call
go to its bridge by Call-ID. `poll` (called by the worker's loop) claims the outgoing calls
waiting on the worker's lines and takes the commands of its running calls from its call store
(the database, or a remote worker's control plane: ``store.py``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from telesip.calls.telegram.pool import CallerPool
from telesip.domain.calls import CommandKind, EndReason
from telesip.sip import Request, Response
from telesip.workers.registrar import RegistrationManager
from telesip.workers.transport import Addr, Target

from .bridge import Bridge, InboundBridge, OutboundBridge
from .rtp_ports import PortPool
from .rtp_stream import RtpStream
from .store import CallStore

log = logging.getLogger(__name__)


class CallManager:
    def __init__(
        self,
        manager: RegistrationManager,
        callers: CallerPool,
        *,
        store: CallStore | None = None,
        ports: PortPool,
        media_bind: str = "0.0.0.0",
        media_advertise: str | None = None,
        max_calls: int = 100,
        ring_timeout: float = 45.0,
        media_timeout: float = 30.0,
        recordings: Path | None = None,
        user_agent: str = "telesip",
    ) -> None:
        self.store = store  # None until the worker has joined: no call is taken before
        self.manager = manager
        self.callers = callers
        self.ports = ports
        self.media_bind = media_bind
        self.media_advertise = media_advertise
        self.max_calls = max_calls
        self.ring_timeout = ring_timeout
        self.media_timeout = media_timeout  # no RTP this long from a SIP peer: it is gone
        self.recordings = recordings  # where lines that record put their calls (DATA_DIR/...)
        self.user_agent = user_agent
        self._by_sip: dict[str, Bridge] = {}  # SIP Call-ID -> bridge
        self._by_record: dict[int, Bridge] = {}  # history row id -> bridge
        self._local_ip: dict[str, str] = {}
        self._rtp_ended = [0, 0]  # RTP packets lost and late in the calls that ended
        manager.attach_calls(self)

    @property
    def active(self) -> int:
        """Calls not fully released yet (the limit counts these: a call that is ending still
        holds its ports and caller account)."""
        return sum(1 for b in self._all() if not b.released.is_set())

    def rtp_packets(self) -> tuple[int, int]:
        """RTP packets lost and late from SIP peers since the start (ended and running calls;
        read at scrape time)."""
        lost, late = self._rtp_ended
        for bridge in self._all():
            if bridge.stream is not None:
                st = bridge.stream.stats
                lost, late = lost + st.lost, late + st.late
        return lost, late

    def stream_ended(self, stream: RtpStream) -> None:
        st = stream.stats
        self._rtp_ended[0] += st.lost
        self._rtp_ended[1] += st.late

    # -- what the registration manager hands over -------------------------------------------
    def on_request(
        self, msg: Request, src: Addr, transport: str, reply: Callable[[bytes], None]
    ) -> bool:
        call_id = msg.headers.get("Call-ID") or ""
        bridge = self._by_sip.get(call_id)
        if bridge is not None:
            bridge.receive(msg, reply)
            return True
        if msg.method != "INVITE" or ";tag=" in (msg.headers.get("To") or "").replace(" ", ""):
            return False  # not ours: the stateless answers (481, 405...) do
        user = msg.uri.partition(":")[2].partition("@")[0] if "@" in msg.uri else ""
        account_id = self.manager.line_for(user, src[0])
        cfg = self.manager.config(account_id) if account_id is not None else None
        if cfg is None or self.store is None:
            return False  # no such line here: 480 from the stateless answers
        over = self.active >= self.max_calls
        bridge = InboundBridge(self, cfg, msg, src, transport, reply)
        self._by_sip[call_id] = bridge
        bridge.pump()  # 100 Trying at once
        bridge.spawn(bridge.start(over_limit=over), "incoming call")
        return True

    def on_response(self, msg: Response) -> bool:
        bridge = self._by_sip.get(msg.headers.get("Call-ID") or "")
        if bridge is None:
            return False
        bridge.receive(msg)
        return True

    # -- what bridges need (bridge.CallHost) ------------------------------------------------
    def adopt(self, call_id: str, bridge: Bridge) -> None:
        self._by_sip[call_id] = bridge

    def forget(self, bridge: Bridge) -> None:
        for key in [k for k, b in self._by_sip.items() if b is bridge]:
            del self._by_sip[key]
        if bridge.record is not None and self._by_record.get(bridge.record.id) is bridge:
            del self._by_record[bridge.record.id]

    def route(self, account_id: int) -> tuple[Target, Addr] | None:
        return self.manager.route(account_id)

    def send_to(self, target: Target, data: bytes) -> None:
        self.manager.send_to(target, data)

    def local_for(self, account_id: int, src: Addr) -> Addr:
        """Our address for a call's Contact: the line's registered Contact when it has one."""
        route = self.manager.route(account_id)
        if route is not None:
            return route[1]
        udp = self.manager.udp_local or ("127.0.0.1", 5060)
        return (self.sdp_host(src), udp[1])

    def sdp_host(self, peer: Addr) -> str:
        """The address we put in SDP: the advertised one, or the one routing to the peer uses."""
        if self.media_advertise:
            return self.media_advertise
        if self.media_bind not in ("0.0.0.0", "::"):
            return self.media_bind
        ip = self._local_ip.get(peer[0])
        if ip is None:
            family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((peer[0], peer[1] or 9))  # no packet is sent
                ip = str(probe.getsockname()[0])
            self._local_ip[peer[0]] = ip
        return ip

    # -- the call store's side ---------------------------------------------------------------
    async def poll(self, account_ids: list[int]) -> None:
        """Claim outgoing calls waiting on these lines; apply keypad presses and hang-ups."""
        store = self.store
        if store is None:
            return
        for record in await store.claim_outgoing(account_ids):
            cfg = self.manager.config(record.account_id)
            if cfg is None:  # released since: nobody here can run it
                await store.mark_ended(record.id, EndReason.UNAVAILABLE, tell="call.unavailable")
                continue
            bridge = OutboundBridge(self, cfg, record)
            self._by_record[record.id] = bridge
            if self.active > self.max_calls:
                bridge.spawn(bridge.finish(EndReason.LIMIT, tell="call.limit"), "over the limit")
                continue
            bridge.spawn(bridge.start(), "outgoing call")
        running = {b.record.id: b for b in self._all() if b.record is not None and not b.ended}
        for cmd in await store.take_commands(list(running)):
            target = running[cmd.call_id]
            if cmd.kind is CommandKind.DTMF:
                target.send_digit(cmd.arg)
            elif cmd.kind is CommandKind.HANGUP:
                target.spawn(target.finish(EndReason.COMPLETED), "hang-up")
            elif cmd.kind in (CommandKind.HOLD, CommandKind.RESUME):
                target.hold(cmd.kind is CommandKind.HOLD)

    def _all(self) -> set[Bridge]:
        return {*self._by_sip.values(), *self._by_record.values()}

    async def settled(self) -> None:
        """Wait until every call that is ending has released its ports, its caller account
        and its history row (the row is closed a moment before the call stops counting)."""
        await asyncio.gather(*(b.released.wait() for b in self._all()))

    async def close(self) -> None:
        """End every call (the worker stops): both legs, ports, history rows; calls already
        ending are waited for, so none is cut short."""
        bridges = list(self._all())
        for bridge in bridges:
            if not bridge.ended:
                bridge.spawn(bridge.finish(EndReason.UNAVAILABLE), "worker stop")
        waits = [asyncio.ensure_future(b.released.wait()) for b in bridges]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=10)
            for w in pending:
                w.cancel()
            if pending:
                log.warning("%d calls did not end within 10 s of the stop", len(pending))
        self._by_sip.clear()
        self._by_record.clear()
