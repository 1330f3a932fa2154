"""Parse and compare differential-test signatures (the text main.c prints)."""

from __future__ import annotations

import attrs


@attrs.frozen
class Difference:
    """The first item whose value differs (or is missing on one side)."""

    item: str  # "x05", "f12", "fcsr", "m040", "r00017", "end"
    avmm: str | None
    qemu: str | None

    def describe(self, program: str, entries: tuple[str, ...] = ()) -> str:
        what = self.item
        if self.item.startswith("r") and self.item[1:].isdigit() and entries:
            index = int(self.item[1:], 16)
            if index < len(entries):
                what += f" ({entries[index]})"
        return f"{program}: first difference at {what}: avmm {self.avmm}, qemu {self.qemu}"


def parse(console: bytes) -> list[tuple[str, str]]:
    """(item, value) pairs in output order; a missing "end" shows up as a difference."""
    items = []
    for line in console.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        items.append((key, value))
    return items


def first_difference(avmm: bytes, qemu: bytes) -> Difference | None:
    a, q = parse(avmm), parse(qemu)
    for i in range(max(len(a), len(q))):
        ai = a[i] if i < len(a) else None
        qi = q[i] if i < len(q) else None
        if ai != qi:
            item = (ai or qi or ("?", ""))[0]
            return Difference(item, ai[1] if ai else None, qi[1] if qi else None)
    return None
