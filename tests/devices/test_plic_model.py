"""The Python PLIC: gateways, priorities, thresholds, claim/complete, as Linux uses them."""

from __future__ import annotations

import msgpack
from devfakes import FakeIrq

from avmm.devices.plic import Plic

NDEV = 0x60


def make(harts: int = 2) -> tuple[Plic, list[FakeIrq]]:
    outputs = [FakeIrq() for _ in range(2 * harts)]
    return Plic(NDEV, outputs), outputs


def enable(plic: Plic, ctx: int, *sources: int) -> None:
    words: dict[int, int] = {}
    for s in sources:
        words[s // 32] = words.get(s // 32, 0) | 1 << (s % 32)
    for w, bits in words.items():
        plic.write(0x2000 + 0x80 * ctx + 4 * w, 4, bits)


def claim(plic: Plic, ctx: int) -> int:
    return plic.read(0x200004 + 0x1000 * ctx, 4)


def complete(plic: Plic, ctx: int, source: int) -> None:
    plic.write(0x200004 + 0x1000 * ctx, 4, source)


def test_linux_setup_writes_to_absent_sources_are_ignored_quietly() -> None:
    plic, _ = make()
    for hwirq in range(1, NDEV + 1):  # Linux walks 1..riscv,ndev
        plic.write(4 * hwirq, 4, 1)
    assert plic.read(4 * 0x5F, 4) == 1
    assert plic.read(4 * 0x60, 4) == 0
    plic.write(0x2000 + 0x80 * 1 + 12, 4, 1)  # enable bit of source 96
    assert plic.read(0x2000 + 0x80 * 1 + 12, 4) == 0
    assert plic.stats.guest_errors == 0


def test_raised_line_interrupts_the_enabled_s_mode_context_only() -> None:
    plic, out = make()
    plic.write(4 * 10, 4, 1)
    enable(plic, 1, 10)  # hart 0 S-mode
    plic.source(10).set_level(True)
    assert [o.level for o in out] == [False, True, False, False]
    assert plic.read(0x1000, 4) == 1 << 10


def test_claim_returns_highest_priority_then_lowest_id() -> None:
    plic, out = make(1)
    for source, prio in ((3, 2), (5, 7), (7, 7), (9, 1)):
        plic.write(4 * source, 4, prio)
        plic.source(source).set_level(True)
    enable(plic, 1, 3, 5, 7, 9)
    assert [claim(plic, 1) for _ in range(4)] == [5, 7, 3, 9]
    assert claim(plic, 1) == 0
    assert not out[1].level
    assert plic.stats.spurious_claims == 1


def test_an_assertion_while_in_service_is_delivered_after_completion_a_steady_level_once() -> None:
    plic, out = make(1)
    plic.write(4 * 10, 4, 1)
    enable(plic, 1, 10)
    line = plic.source(10)
    line.set_level(True)
    assert claim(plic, 1) == 10
    assert not out[1].level
    line.set_level(True)  # the device asserts again while the source is in service
    assert plic.read(0x1000, 4) == 1 << 10
    assert not out[1].level  # in service: the request waits for the completion
    complete(plic, 1, 10)
    assert out[1].level
    assert claim(plic, 1) == 10
    complete(plic, 1, 10)  # the line stayed high, but nothing asserted it again
    assert not out[1].level
    assert claim(plic, 1) == 0
    line.set_level(False)
    line.set_level(True)
    assert claim(plic, 1) == 10


def test_a_deassertion_withdraws_a_request_not_yet_claimed() -> None:
    plic, out = make(1)
    plic.write(4 * 10, 4, 1)
    enable(plic, 1, 10)
    line = plic.source(10)
    line.set_level(True)
    assert out[1].level
    line.set_level(False)
    assert not out[1].level
    assert claim(plic, 1) == 0


def test_threshold_masks_priorities_at_or_below_it() -> None:
    plic, out = make(1)
    plic.write(4 * 4, 4, 3)
    enable(plic, 1, 4)
    plic.write(0x201000, 4, 3)
    plic.source(4).set_level(True)
    assert not out[1].level
    assert claim(plic, 1) == 0
    plic.write(0x201000, 4, 2)
    assert out[1].level
    assert plic.read(0x201000, 4) == 2


def test_priority_zero_masks_a_source_as_linux_does() -> None:
    plic, out = make(1)
    plic.write(4 * 6, 4, 1)
    enable(plic, 1, 6)
    plic.source(6).set_level(True)
    assert out[1].level
    plic.write(4 * 6, 4, 0)
    assert not out[1].level
    plic.write(4 * 6, 4, 0xF)
    assert plic.read(4 * 6, 4) == 7  # three priority bits


def test_line_dropped_before_claim_withdraws_the_request() -> None:
    plic, out = make(1)
    plic.write(4 * 2, 4, 1)
    enable(plic, 1, 2)
    plic.source(2).set_level(True)
    plic.source(2).set_level(False)
    assert not out[1].level
    assert claim(plic, 1) == 0


def test_two_contexts_race_for_one_source() -> None:
    plic, out = make(2)
    plic.write(4 * 8, 4, 1)
    enable(plic, 1, 8)
    enable(plic, 3, 8)
    plic.source(8).set_level(True)
    assert out[1].level and out[3].level
    assert claim(plic, 3) == 8
    assert not out[1].level and not out[3].level
    assert claim(plic, 1) == 0


def test_wrong_width_and_unknown_registers_are_guest_errors() -> None:
    plic, _ = make(1)
    assert plic.read(0x10, 2) == 0
    plic.write(0x1000, 4, 1)  # pending is read-only
    assert plic.read(0x200008, 4) == 0
    assert plic.read(0x200000 + 0x1000 * 2, 4) == 0  # context 2 does not exist
    complete(plic, 1, 0x60)
    assert plic.stats.guest_errors == 5


def test_reset_clears_configuration_but_keeps_input_levels() -> None:
    plic, out = make(1)
    plic.write(4 * 3, 4, 1)
    enable(plic, 1, 3)
    plic.source(3).set_level(True)
    assert claim(plic, 1) == 3
    plic.reset()
    assert not out[1].level
    assert plic.read(4 * 3, 4) == 0 and plic.read(0x2080, 4) == 0
    assert plic.read(0x1000, 4) == 1 << 3  # still high, so pending again
    plic.write(4 * 3, 4, 1)
    enable(plic, 1, 3)
    assert claim(plic, 1) == 3


def test_state_round_trips_through_msgpack() -> None:
    plic, _ = make(2)
    for source, prio in ((1, 2), (33, 6), (95, 5)):
        plic.write(4 * source, 4, prio)
        plic.source(source).set_level(True)
    enable(plic, 1, 1, 33, 95)
    enable(plic, 2, 33)
    plic.write(0x203000, 4, 1)
    assert claim(plic, 1) == 33
    state = msgpack.unpackb(msgpack.packb(plic.state()))

    copy, out = make(2)
    copy.restore(state)
    assert copy.state() == plic.state()
    assert [o.level for o in out] == [False, True, False, False]
    assert claim(copy, 1) == 95
    complete(copy, 1, 33)  # in service across the snapshot
    assert claim(copy, 1) == 1  # pending across the snapshot
    assert claim(copy, 1) == 0  # 33's line stayed high but was not asserted again
    copy.source(33).set_level(True)
    assert claim(copy, 1) == 33
