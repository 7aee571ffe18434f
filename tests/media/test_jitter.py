"""The jitter buffer: fixed delay, reordering, loss concealment, late and duplicate packets."""

from __future__ import annotations

import numpy as np

from telesip.media import JitterBuffer


def frame(value: int, n: int = 160) -> np.ndarray:
    return np.full(n, value, np.int16)


def values(buf: JitterBuffer, count: int) -> list[int]:
    """Pull `count` frames; each frame is constant in these tests, so report its first sample."""
    out = []
    for _ in range(count):
        f = buf.pull()
        assert len(f) == 160 and f.dtype == np.int16
        out.append(int(f[0]))
    return out


def test_silence_before_anything_arrives() -> None:
    buf = JitterBuffer()
    assert values(buf, 3) == [0, 0, 0]


def test_fixed_delay_then_in_order() -> None:
    buf = JitterBuffer(delay=2)
    buf.put(10, frame(1))
    buf.put(11, frame(2))
    assert values(buf, 2) == [0, 0]  # 40 ms of playout delay
    buf.put(12, frame(3))
    assert values(buf, 3) == [1, 2, 3]
    assert buf.stats.received == 3 and buf.stats.lost == 0


def test_reordered_packets_play_in_order() -> None:
    buf = JitterBuffer(delay=2)
    for seq in (1, 3, 2, 5, 4):
        buf.put(seq, frame(seq))
    assert values(buf, 7) == [0, 0, 1, 2, 3, 4, 5]
    assert buf.stats.late == 0 and buf.stats.lost == 0


def test_loss_repeats_the_last_frame_once_then_silence() -> None:
    buf = JitterBuffer(delay=1, idle_after=10)
    buf.put(1, frame(1))
    buf.put(5, frame(5))  # 2, 3, 4 lost
    assert values(buf, 6) == [0, 1, 1, 0, 0, 5]
    s = buf.stats
    assert (s.lost, s.concealed) == (3, 1)


def test_late_and_duplicate_packets_are_dropped() -> None:
    buf = JitterBuffer(delay=1)
    buf.put(1, frame(1))
    buf.put(2, frame(2))
    buf.put(2, frame(99))  # duplicate
    assert values(buf, 3) == [0, 1, 2]
    buf.put(1, frame(98))  # already played
    assert values(buf, 1) == [2]  # 3 is missing: concealed
    buf.put(3, frame(97))  # its slot has passed
    s = buf.stats
    assert (s.duplicates, s.late, s.received) == (1, 2, 2)


def test_sequence_wraparound() -> None:
    buf = JitterBuffer(delay=1)
    for seq in (65534, 0, 65535, 1):
        buf.put(seq, frame(seq % 100))
    assert values(buf, 5) == [0, 34, 35, 0, 1]
    assert buf.stats.lost == 0 and buf.stats.late == 0


def test_a_pause_is_not_loss_and_playout_reprimes() -> None:
    buf = JitterBuffer(delay=2, idle_after=3)
    buf.put(1, frame(1))
    assert values(buf, 3) == [0, 0, 1]
    assert values(buf, 10) == [1] + [0] * 9  # sender paused (hold / DTX): rest
    buf.put(2, frame(2))  # resumes with the next number: nothing was lost
    assert values(buf, 3) == [0, 0, 2]
    assert buf.stats.lost == 0
    buf.put(10, frame(10))  # after another pause, 3..9 were really skipped
    values(buf, 20)
    assert buf.stats.lost == 7


def test_a_far_jump_resynchronises() -> None:
    buf = JitterBuffer(delay=1)
    buf.put(100, frame(1))
    assert values(buf, 2) == [0, 1]
    buf.put(40000, frame(2))  # the sender restarted its numbering
    assert values(buf, 2) == [0, 2]


def test_a_fast_sender_is_drained_to_the_delay() -> None:
    buf = JitterBuffer(delay=2, max_excess=2)
    for seq in range(10):
        buf.put(seq, frame(seq))
    assert buf.stats.depth == 4 and buf.stats.drained == 6
    assert values(buf, 6) == [0, 0, 6, 7, 8, 9]


def test_30ms_packets_are_recut_into_20ms_frames() -> None:
    buf = JitterBuffer(delay=1)
    for seq in range(4):  # 4 x 240 samples = 6 frames of 160
        buf.put(seq, frame(seq + 1, 240))
    pulled = np.concatenate([buf.pull() for _ in range(7)])
    expected = np.concatenate([np.zeros(160)] + [np.full(240, v) for v in (1, 2, 3, 4)])
    assert np.array_equal(pulled, expected)
