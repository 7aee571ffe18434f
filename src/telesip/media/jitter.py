"""A fixed-delay jitter buffer: decoded frames keyed by RTP sequence number, pulled steadily.

`put(seq, frame)` stores a packet's decoded samples; `pull()` is called once per playout tick
and always returns exactly `frame_samples` samples. Playout starts `delay` ticks after the first
packet of a talkspurt and then walks the sequence numbers (16-bit, wrapping). A packet whose
number was already played or concealed is *late* and dropped; one already held is a
*duplicate*. A missing packet is concealed by repeating the previous one once, then by
silence. After `idle_after` missing packets in a row the sender is taken to have paused
(hold, DTX, end of talkspurt): the buffer rests and re-primes with the delay on the next
packet, and only the sequence numbers really skipped count as lost. If the sender's clock runs
fast and the queue grows past `delay + max_excess` packets, the oldest is dropped (`drained`).
Remote packets need not be 20 ms: their samples are re-cut into `frame_samples` frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .g711 import Pcm
from .rtp import seq_diff

__all__ = ["JitterBuffer", "JitterStats"]


@dataclass(frozen=True, slots=True)
class JitterStats:
    received: int
    lost: int
    late: int
    duplicates: int
    concealed: int
    """Frames filled by repeating the previous packet."""
    drained: int
    """Packets dropped because the queue ran too deep (sender clock faster than ours)."""
    depth: int
    """Packets waiting now."""


class JitterBuffer:
    def __init__(
        self,
        *,
        frame_samples: int = 160,
        delay: int = 2,
        idle_after: int = 5,
        max_excess: int = 4,
        resync_distance: int = 200,
    ) -> None:
        """`delay` is the playout delay in ticks (2 x 20 ms = 40 ms by default)."""
        self.frame_samples = frame_samples
        self.delay = delay
        self.idle_after = idle_after
        self.max_excess = max_excess
        self.resync_distance = resync_distance
        self._packets: dict[int, Pcm] = {}
        self._next: int | None = None  # next sequence number to play; None while resting
        self._last_played: int | None = None
        self._wait = 0
        self._missing = 0  # consecutive missing packets (concealed, counted as lost for now)
        self._last: Pcm | None = None  # the previous packet, for one repetition
        self._carry: Pcm = np.zeros(0, np.int16)
        self._silence = np.zeros(frame_samples, np.int16)
        self.received = 0
        self.lost = 0
        self.late = 0
        self.duplicates = 0
        self.concealed = 0
        self.drained = 0

    @property
    def stats(self) -> JitterStats:
        return JitterStats(
            self.received,
            self.lost,
            self.late,
            self.duplicates,
            self.concealed,
            self.drained,
            len(self._packets),
        )

    def reset(self) -> None:
        """Forget the stream (a new source): the next packet starts a new talkspurt."""
        self._packets.clear()
        self._next = None
        self._last_played = None
        self._last = None
        self._missing = 0
        self._carry = np.zeros(0, np.int16)

    def put(self, seq: int, frame: Pcm) -> None:
        if self._next is None:
            if self._last_played is not None:
                gap = seq_diff(seq, self._last_played) - 1
                if gap < 0 and -gap <= self.resync_distance:
                    self.late += 1  # a straggler of the talkspurt that ended
                    return
                if 0 < gap <= self.resync_distance:
                    self.lost += gap
            self._next = seq
            self._wait = self.delay
        else:
            ahead = seq_diff(seq, self._next)
            if ahead < 0:
                if -ahead > self.resync_distance:  # far behind: the sender restarted
                    self.reset()
                    self.put(seq, frame)
                    return
                self.late += 1
                return
            if ahead > self.resync_distance:
                self.reset()
                self.put(seq, frame)
                return
            if seq in self._packets:
                self.duplicates += 1
                return
        self._packets[seq] = frame
        self.received += 1
        # The sender's clock runs fast (or a burst came): keep the queue near the delay.
        while len(self._packets) > self.delay + self.max_excess and self._next is not None:
            if self._packets.pop(self._next, None) is not None:
                self.drained += 1
            else:
                self.lost += 1
            self._last_played = self._next
            self._next = (self._next + 1) & 0xFFFF

    def pull(self) -> Pcm:
        """The next `frame_samples` samples of playout (silence while nothing is due)."""
        n = self.frame_samples
        carry = self._carry
        if len(carry) >= n:
            self._carry = carry[n:]
            return carry[:n]
        if self._next is None:
            self._carry = np.zeros(0, np.int16)
            return self._silence if not len(carry) else _pad(carry, n)
        if self._wait > 0:
            self._wait -= 1
            return self._silence
        parts = [carry] if len(carry) else []
        have = len(carry)
        while have < n and self._next is not None:
            packet = self._take()
            parts.append(packet)
            have += len(packet)
        if have < n:
            parts.append(np.zeros(n - have, np.int16))
        frame = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._carry = frame[n:]
        return frame[:n]

    def _take(self) -> Pcm:
        assert self._next is not None
        seq = self._next
        packet = self._packets.pop(seq, None)
        self._next = (seq + 1) & 0xFFFF
        if packet is not None:
            self._missing = 0
            self._last = packet
            self._last_played = seq
            return packet
        self._missing += 1
        self.lost += 1
        if self._missing >= self.idle_after and not self._packets:
            # The sender paused: rest; the numbers skipped are counted when it resumes.
            self.lost -= self._missing
            self._next = None
            return np.zeros(self.frame_samples, np.int16)
        size = self.frame_samples if self._last is None else len(self._last)
        if self._missing == 1 and self._last is not None:
            self.concealed += 1
            return self._last
        return np.zeros(size, np.int16)


def _pad(samples: Pcm, n: int) -> Pcm:
    return np.concatenate([samples, np.zeros(n - len(samples), np.int16)])
