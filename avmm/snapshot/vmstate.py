"""A VM's state as plain data, and back: what a snapshot holds besides RAM.

:func:`capture` reads a VM stopped at a slice boundary (no vCPU inside the
core, no device work in flight): every vCPU (its hart's registers, CSRs, FP,
timers, reservation, and the vCPU's HSM/WFI state, fences owed and counters),
the in-core irqchip, every device on the bus, the disks by reference (size and
content fingerprint; an overlay disk's written blocks in full), the guest
clock, the VM's counters and, when the VM has its host to itself, the
scheduler's policy state and the pick it held, so that a restored VM under the
deterministic policy goes on exactly as an uninterrupted one would.

:func:`check` compares a snapshot with the VM it is to be restored into and
raises :class:`~avmm.errors.SnapshotError` before anything changes;
:func:`apply` then writes it in.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from avmm.constants import PAGE_SIZE
from avmm.devices.backends import OverlayImage, RawImage
from avmm.devices.virtio import VirtioBlk, VirtioMmio
from avmm.errors import AvmmError, SnapshotError
from avmm.sbi.para import VcpuPara
from avmm.snapshot.fileformat import nonzero_runs
from avmm.version import __version__

if TYPE_CHECKING:
    from avmm.runtime.vm import Vm

_FINGERPRINT_CHUNK = 1 << 20


# ------------------------------------------------------------------- shape


def shape(vm: Vm) -> dict[str, Any]:
    """What a VM must match to take a snapshot: vCPUs, RAM, irqchip, devices."""
    return {
        "vcpus": len(vm.vcpus),
        "memory": [[s.base, s.size] for s in vm.memory_slots],
        "irqchip": vm.irqchip,
        "sstc": vm.machine.sstc,
        "devices": [[name, base, _kind(device)] for base, device, name in vm.bus.devices],
    }


def _kind(device: object) -> str:
    if isinstance(device, VirtioMmio):
        return f"virtio-mmio/{type(device.device).__name__}"
    return type(device).__name__


def _describe_memory(memory: list[list[int]]) -> str:
    return ", ".join(f"{size >> 20} MiB at {base:#x}" for base, size in memory) or "none"


def check_shape(saved: dict[str, Any], vm: Vm, where: str) -> None:
    """The snapshot's machine must be this VM's: one line naming the first difference."""
    mine = shape(vm)
    if saved["vcpus"] != mine["vcpus"]:
        raise SnapshotError(
            f"{where}: snapshot is of a machine with {saved['vcpus']} vCPUs, "
            f"VM {vm.name} has {mine['vcpus']}"
        )
    if [list(m) for m in saved["memory"]] != mine["memory"]:
        raise SnapshotError(
            f"{where}: snapshot has RAM {_describe_memory(saved['memory'])}, "
            f"VM {vm.name} has {_describe_memory(mine['memory'])}"
        )
    for key in ("irqchip", "sstc"):
        if saved[key] != mine[key]:
            raise SnapshotError(
                f"{where}: snapshot has {key} = {saved[key]!r}, VM {vm.name} has {mine[key]!r}"
            )
    theirs = [tuple(d) for d in saved["devices"]]
    ours = [tuple(d) for d in mine["devices"]]
    if theirs != ours:
        missing = [d for d in theirs if d not in ours]
        extra = [d for d in ours if d not in theirs]
        what = (
            f"device {missing[0][0]} ({missing[0][2]}) is not in VM {vm.name}"
            if missing
            else f"VM {vm.name} has device {extra[0][0]} ({extra[0][2]}) the snapshot has not"
        )
        raise SnapshotError(f"{where}: snapshot is of another machine: {what}")


# ------------------------------------------------------------------- disks


def _disks(vm: Vm) -> list[tuple[str, RawImage | OverlayImage]]:
    out: list[tuple[str, RawImage | OverlayImage]] = []
    for _base, device, name in vm.bus.devices:
        if isinstance(device, VirtioMmio) and isinstance(device.device, VirtioBlk):
            backend = device.device.backend
            if isinstance(backend, RawImage | OverlayImage):
                out.append((name, backend))
    return out


#: The state of a VM without its overlays' blocks is far below this (vCPUs, devices,
#: queues); a reader refuses a larger one before it buffers it.
STATE_SLACK = 64 << 20


def state_limit(vm: Vm) -> int:
    """The most bytes a saved state of ``vm`` can take: the slack plus every disk
    (an overlay's blocks travel in the state), for readers of untrusted streams."""
    return STATE_SLACK + sum(image.size for _name, image in _disks(vm))


def fingerprint(image: RawImage) -> str:
    """BLAKE2b of the image's whole contents (a restore reads every disk once)."""
    digest = hashlib.blake2b(digest_size=20)
    with open(image.path, "rb") as f:
        while chunk := f.read(_FINGERPRINT_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _disk_state(name: str, disk: RawImage | OverlayImage) -> dict[str, Any]:
    base = disk.base if isinstance(disk, OverlayImage) else disk
    return {
        "device": name,
        "path": str(base.path),
        "size": base.size,
        "fingerprint": fingerprint(base),
        "overlay": [[b, data] for b, data in disk.blocks()]
        if isinstance(disk, OverlayImage)
        else None,
    }


def check_disks(saved: list[dict[str, Any]], vm: Vm, where: str) -> None:
    """Each disk the snapshot references must be the VM's, unchanged."""
    disks = dict(_disks(vm))
    for ref in saved:
        name = ref["device"]
        disk = disks.get(name)
        if disk is None:
            raise SnapshotError(f"{where}: snapshot has disk {name}, VM {vm.name} has not")
        base = disk.base if isinstance(disk, OverlayImage) else disk
        if base.size != ref["size"]:
            raise SnapshotError(
                f"{where}: disk {name} ({base.path}) has {base.size} bytes, "
                f"the snapshot's ({ref['path']}) had {ref['size']}"
            )
        if ref["overlay"] is not None and not isinstance(disk, OverlayImage):
            raise SnapshotError(
                f"{where}: disk {name} had an overlay when saved; give it one (disks[].overlay)"
            )
        if fingerprint(base) != ref["fingerprint"]:
            raise SnapshotError(
                f"{where}: disk {name} ({base.path}) is not the one saved with the snapshot "
                "(its contents changed; use disks[].overlay to keep a base image unchanged)"
            )


# --------------------------------------------------------------- scheduler


def _sched_state(vm: Vm) -> dict[str, Any] | None:
    """The policy's state and the held pick, named by vCPU index; only when the VM has
    the host to itself (the scheduler is host-wide)."""
    host = vm.host
    if len(getattr(host, "vms", {vm.name: vm})) != 1:
        return None
    sched = host.scheduler
    names = {v.key: v.index for v in vm.vcpus}
    held = sched.held_pick
    return {
        "policy": sched.policy.name,
        "state": sched.policy.state(names),
        "next": names.get(held.key) if held is not None else None,
        "placement": sched.placement(names),
    }


def _load_sched(saved: dict[str, Any] | None, vm: Vm) -> None:
    host = vm.host
    sched = host.scheduler
    if saved is None or saved["policy"] != sched.policy.name:
        return
    if len(getattr(host, "vms", {vm.name: vm})) != 1:
        return
    keys = {v.index: v.key for v in vm.vcpus}
    sched.policy.restore(saved["state"], keys)
    if "placement" in saved:
        sched.restore_placement(saved["placement"], keys)
    if saved["next"] is not None:
        sched.grant_first(vm.vcpus[int(saved["next"])])


# --------------------------------------------------------------- capture


def capture(vm: Vm) -> dict[str, Any]:
    """Everything but RAM, at a slice boundary with no device work in flight."""
    machine = vm.machine
    host = vm.host
    devices = {}
    for _base, device, name in vm.bus.devices:
        state = getattr(device, "state", None)
        if state is not None:
            devices[name] = state()
    return {
        "avmm": __version__,
        "vm": vm.name,
        "shape": shape(vm),
        "clock": {
            "mode": getattr(host, "clock_name", ""),
            "timebase": machine.timebase_hz,
            "time": machine.time,
            "instret": machine.instret,
        },
        "vcpus": [v.save_state() for v in vm.vcpus],
        "irqchip": machine.irqchip_state() if vm.irqchip == "core" else None,
        "devices": devices,
        "disks": [_disk_state(name, disk) for name, disk in _disks(vm)],
        "counters": vm.save_counters(),
        "sched": _sched_state(vm),
        "steal": host.scheduler.steal.state(vm.key, {v.key: v.index for v in vm.vcpus}),
        # recorded, not restored: the restoring host allocates the VM's VMID
        "vmid": [vm.vmid_tag.vmid, vm.vmid_tag.generation],
    }


def check(state: dict[str, Any], vm: Vm, where: str) -> None:
    """Raise SnapshotError if ``state`` cannot be restored into ``vm``; changes nothing."""
    try:
        check_shape(state["shape"], vm, where)
        if state["clock"]["timebase"] != vm.machine.timebase_hz:
            raise SnapshotError(
                f"{where}: snapshot's timebase is {state['clock']['timebase']} Hz, "
                f"VM {vm.name}'s {vm.machine.timebase_hz}"
            )
        names = set(state["devices"])
        for _base, device, name in vm.bus.devices:
            if hasattr(device, "state") and name not in names:
                raise SnapshotError(f"{where}: snapshot has no state for device {name}")
        check_disks(state["disks"], vm, where)
        for index, saved in enumerate(state["vcpus"]):
            if "para" in saved:
                try:
                    VcpuPara().restore(saved["para"])  # on a scratch record: checks only
                except ValueError as err:
                    raise SnapshotError(f"{where}: corrupt snapshot (vcpu{index}: {err})") from None
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise SnapshotError(f"{where}: corrupt snapshot (state lacks {err})") from None


def clear_ram(vm: Vm) -> None:
    """Zero every page of the VM's RAM that holds something (pages never touched stay
    untouched: reading them maps the kernel's zero page, committing nothing)."""
    for slot in vm.memory_slots:
        view = slot.view()
        for addr, pages in nonzero_runs(view, slot.base):
            offset = addr - slot.base
            view[offset : offset + pages * PAGE_SIZE] = bytes(pages * PAGE_SIZE)


RamViews = list[tuple[int, int, memoryview]]


def ram_views(vm: Vm) -> RamViews:
    """Each RAM slot of ``vm`` as (base, end, its writable view)."""
    return [(s.base, s.end, s.view()) for s in vm.memory_slots]


def ram_at(views: RamViews, addr: int, length: int) -> memoryview | None:
    """The ``length`` bytes of RAM at guest-physical ``addr`` (``views`` from
    :func:`ram_views`); None unless one slot holds them all."""
    for base, end, view in views:
        if base <= addr and addr + length <= end:
            return view[addr - base : addr - base + length]
    return None


def write_ram(vm: Vm, pages: tuple[tuple[int, memoryview], ...], where: str) -> None:
    """Put the snapshot's pages into RAM; every other page reads zero."""
    views = ram_views(vm)
    targets = []
    for addr, data in pages:  # every run must fit a slot before RAM changes
        target = ram_at(views, addr, len(data))
        if target is None:
            raise SnapshotError(f"{where}: corrupt snapshot (RAM at {addr:#x} is outside the VM)")
        targets.append(target)
    clear_ram(vm)
    for target, (_addr, data) in zip(targets, pages, strict=True):
        target[:] = data


def apply(state: dict[str, Any], vm: Vm, where: str) -> None:
    """Restore everything but RAM (checked by :func:`check` first), at a slice boundary."""
    machine = vm.machine
    try:
        disks = dict(_disks(vm))
        for ref in state["disks"]:
            disk = disks[ref["device"]]
            if isinstance(disk, OverlayImage):
                disk.load_blocks((int(b), bytes(data)) for b, data in ref["overlay"] or [])
        for _base, device, name in vm.bus.devices:
            restore = getattr(device, "restore", None)
            if restore is not None and name in state["devices"]:
                restore(state["devices"][name])
        if state["irqchip"] is not None:
            machine.set_irqchip_state(state["irqchip"])
        for vcpu, saved in zip(vm.vcpus, state["vcpus"], strict=True):
            vcpu.load_state(saved)
        clock = state["clock"]
        machine.instret = int(clock["instret"])
        machine.time = int(clock["time"])
        vm.load_counters(state["counters"])
        if "steal" in state:  # after the clock: the meter reads the restored guest time
            keys = {v.index: v.key for v in vm.vcpus}
            vm.host.scheduler.steal.restore(vm.key, state["steal"], keys)
        _load_sched(state["sched"], vm)
    except AvmmError as err:
        raise SnapshotError(f"{where}: cannot restore: {err}") from None
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise SnapshotError(f"{where}: corrupt snapshot (bad state: {err})") from None
    # the pCPUs' TLBs may hold this VM's old translations
    for tlb in vm.host.tlbs:
        tlb.flush_vmid(machine.vmid)
    vm.recompute_next_wake()
    vm.deadlines_changed()
