"""virtio-mmio transport, version 2 ("modern") register layout (virtio 1.x section 4.2).

One transport carries one device type. Registers below 0x100 are 32-bit and
aligned; the device-specific config space from 0x100 takes 1, 2, 4 and 8-byte
accesses. The transport offers VERSION_1, INDIRECT_DESC and EVENT_IDX on top
of the device's own features, accepts FEATURES_OK for any subset of what it
offered (also from drivers that leave VERSION_1 out), validates rings when a
queue is made ready, and contains every ring error: the device logs one guest
error, sets DEVICE_NEEDS_RESET (with a config-change interrupt once the driver
is up), stops the queue, and waits for the guest to reset it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from avmm.errors import GuestMemoryError

from ..base import GuestErrors, GuestRam, IrqLine, IrqOutput, Metric
from .device import (
    F_EVENT_IDX,
    F_INDIRECT_DESC,
    F_VERSION_1,
    STATUS_DRIVER_OK,
    STATUS_FEATURES_OK,
    STATUS_NEEDS_RESET,
    VirtioDevice,
)
from .queue import Chain, Virtqueue, VirtqueueError

MAGIC = 0x74726976  # "virt"
VERSION = 2
VENDOR_ID = 0x554D4551  # "QEMU", which some guests check

MAGIC_VALUE = 0x000
VERSION_REG = 0x004
DEVICE_ID = 0x008
VENDOR_ID_REG = 0x00C
DEVICE_FEATURES = 0x010
DEVICE_FEATURES_SEL = 0x014
DRIVER_FEATURES = 0x020
DRIVER_FEATURES_SEL = 0x024
QUEUE_SEL = 0x030
QUEUE_NUM_MAX = 0x034
QUEUE_NUM = 0x038
QUEUE_READY = 0x044
QUEUE_NOTIFY = 0x050
INTERRUPT_STATUS = 0x060
INTERRUPT_ACK = 0x064
STATUS = 0x070
QUEUE_DESC_LOW = 0x080
QUEUE_DESC_HIGH = 0x084
QUEUE_DRIVER_LOW = 0x090
QUEUE_DRIVER_HIGH = 0x094
QUEUE_DEVICE_LOW = 0x0A0
QUEUE_DEVICE_HIGH = 0x0A4
SHM_SEL = 0x0AC
SHM_LEN_LOW = 0x0B0
SHM_LEN_HIGH = 0x0B4
SHM_BASE_LOW = 0x0B8
SHM_BASE_HIGH = 0x0BC
CONFIG_GENERATION = 0x0FC
CONFIG = 0x100

INT_VRING = 1
INT_CONFIG = 2

TRANSPORT_FEATURES = (1 << F_VERSION_1) | (1 << F_INDIRECT_DESC) | (1 << F_EVENT_IDX)

_QUEUE_ADDRESS = {
    QUEUE_DESC_LOW: ("desc", 0),
    QUEUE_DESC_HIGH: ("desc", 32),
    QUEUE_DRIVER_LOW: ("avail", 0),
    QUEUE_DRIVER_HIGH: ("avail", 32),
    QUEUE_DEVICE_LOW: ("used", 0),
    QUEUE_DEVICE_HIGH: ("used", 32),
}


@attrs.define
class VirtioMmioStats:
    """Plain counters; ``METRICS`` says which families they feed."""

    METRICS: ClassVar[dict[str, tuple[Metric, ...]]] = {
        "used_buffers": (("avmm_virtio_requests_total", ()),),
        "notifications": (("avmm_virtio_notifications_total", ()),),
        "resets": (("avmm_virtio_resets_total", ()),),
        "needs_reset": (("avmm_virtio_failures_total", ()),),
    }
    notifications: int = 0
    interrupts: int = 0  # rising edges of the IRQ line
    used_buffers: int = 0
    config_changes: int = 0
    resets: int = 0
    needs_reset: int = 0  # times the device entered DEVICE_NEEDS_RESET
    guest_errors: int = 0


class VirtioMmio:
    """The MMIO register file in front of one :class:`VirtioDevice`."""

    size = 0x1000

    def __init__(
        self, device: VirtioDevice, memory: GuestRam, irq: IrqLine, *, name: str | None = None
    ) -> None:
        self.device = device
        self.name = name or device.name
        self.stats = VirtioMmioStats()
        self._memory = memory
        self._irq = IrqOutput(irq)
        self._guest_error = GuestErrors(self.name, self.stats)
        self._queues = [Virtqueue(i, n, memory) for i, n in enumerate(device.queue_sizes)]
        self._offered = device.device_features() | TRANSPORT_FEATURES
        self._clear_registers()
        device.attach(self)

    def _clear_registers(self) -> None:
        self._status = 0
        self._device_features_sel = 0
        self._driver_features_sel = 0
        self._driver_features = 0
        self._queue_sel = 0
        self._interrupt_status = 0
        self._config_generation = 0
        self._shm_sel = 0
        for queue in self._queues:
            queue.reset()

    # ------------------------------------------------------------------ VirtioTransport

    @property
    def memory(self) -> GuestRam:
        return self._memory

    @property
    def driver_ok(self) -> bool:
        return bool(self._status & STATUS_DRIVER_OK)

    @property
    def status(self) -> int:
        return self._status

    @property
    def interrupt_status(self) -> int:
        return self._interrupt_status

    def has_feature(self, bit: int) -> bool:
        return bool(self._driver_features >> bit & 1)

    def queue(self, index: int) -> Virtqueue:
        return self._queues[index]

    def pop(self, index: int) -> Chain | None:
        if not self.driver_ok:
            return None
        queue = self._queues[index]
        try:
            return queue.pop()
        except (VirtqueueError, GuestMemoryError) as err:
            self.fail(index, str(err))
            return None

    def push(self, index: int, chain: Chain, written: int) -> None:
        queue = self._queues[index]
        if queue.broken or not queue.ready:
            return
        try:
            queue.push(chain.head, written)
            self.stats.used_buffers += 1
            if queue.should_interrupt():
                self._raise(INT_VRING)
        except GuestMemoryError as err:
            self.fail(index, str(err))

    def fail(self, index: int | None, problem: str) -> None:
        where = f"queue {index}: " if index is not None else ""
        self._guest_error("needs-reset", f"{where}{problem}; device needs reset")
        if index is not None:
            self._queues[index].broken = True
        if not self._status & STATUS_NEEDS_RESET:
            self._status |= STATUS_NEEDS_RESET
            self.stats.needs_reset += 1
            # The spec asks for a config-change notification once DRIVER_OK is set.
            if self.driver_ok:
                self._raise(INT_CONFIG)

    def config_changed(self) -> None:
        self._config_generation = (self._config_generation + 1) & 0xFFFF_FFFF
        self.stats.config_changes += 1
        if self.driver_ok:
            self._raise(INT_CONFIG)

    # ------------------------------------------------------------------ registers

    def read(self, offset: int, size: int) -> int:
        if offset >= CONFIG:
            return self._read_config(offset - CONFIG, size)
        if size != 4 or offset % 4:
            self._guest_error("width", f"{size}-byte read at {offset:#x} (32-bit only)")
            return 0
        queue = self._selected()
        if offset == MAGIC_VALUE:
            return MAGIC
        if offset == VERSION_REG:
            return VERSION
        if offset == DEVICE_ID:
            return self.device.device_id
        if offset == VENDOR_ID_REG:
            return VENDOR_ID
        if offset == DEVICE_FEATURES:
            if self._device_features_sel > 1:
                return 0
            return (self._offered >> (32 * self._device_features_sel)) & 0xFFFF_FFFF
        if offset == QUEUE_NUM_MAX:
            return queue.max_size if queue is not None else 0
        if offset == QUEUE_READY:
            return int(queue.ready) if queue is not None else 0
        if offset == INTERRUPT_STATUS:
            return self._interrupt_status
        if offset == STATUS:
            return self._status
        if offset == CONFIG_GENERATION:
            return self._config_generation
        if offset in (SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH):
            return 0xFFFF_FFFF  # no shared memory regions: length ~0
        if offset in (
            DEVICE_FEATURES_SEL,
            DRIVER_FEATURES,
            DRIVER_FEATURES_SEL,
            QUEUE_SEL,
            QUEUE_NUM,
            QUEUE_NOTIFY,
            INTERRUPT_ACK,
            SHM_SEL,
            *_QUEUE_ADDRESS,
        ):
            return 0  # write-only registers
        self._guest_error("offset", f"read of unknown register {offset:#x}")
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset >= CONFIG:
            self._write_config(offset - CONFIG, size, value)
            return
        if size != 4 or offset % 4:
            self._guest_error(
                "width", f"{size}-byte write of {value:#x} at {offset:#x} (32-bit only)"
            )
            return
        value &= 0xFFFF_FFFF
        if offset == DEVICE_FEATURES_SEL:
            self._device_features_sel = value
        elif offset == DRIVER_FEATURES:
            self._write_driver_features(value)
        elif offset == DRIVER_FEATURES_SEL:
            self._driver_features_sel = value
        elif offset == QUEUE_SEL:
            self._queue_sel = value
        elif offset == QUEUE_NUM or offset in _QUEUE_ADDRESS:
            self._write_queue_config(offset, value)
        elif offset == QUEUE_READY:
            self._write_queue_ready(value)
        elif offset == QUEUE_NOTIFY:
            self._notify(value)
        elif offset == INTERRUPT_ACK:
            self._interrupt_status &= ~value
            self._update_irq()
        elif offset == STATUS:
            self._write_status(value)
        elif offset == SHM_SEL:
            self._shm_sel = value
        else:
            self._guest_error("offset", f"write of {value:#x} to register {offset:#x}")

    def _selected(self) -> Virtqueue | None:
        if self._queue_sel < len(self._queues):
            return self._queues[self._queue_sel]
        return None

    def _write_driver_features(self, value: int) -> None:
        if self._status & STATUS_FEATURES_OK:
            self._guest_error("features", f"driver features {value:#x} written after FEATURES_OK")
            return
        sel = self._driver_features_sel
        if sel > 1:
            if value:
                self._guest_error("features", f"driver features word {sel} = {value:#x}")
            return
        shift = 32 * sel
        self._driver_features = (self._driver_features & ~(0xFFFF_FFFF << shift)) | (value << shift)

    def _write_queue_config(self, offset: int, value: int) -> None:
        queue = self._selected()
        if queue is None:
            self._guest_error("queue", f"queue {self._queue_sel} does not exist")
            return
        if queue.ready:
            self._guest_error("queue", f"queue {queue.index} reconfigured while ready")
            return
        if offset == QUEUE_NUM:
            queue.size = value
            return
        field, shift = _QUEUE_ADDRESS[offset]
        old = getattr(queue, field)
        setattr(queue, field, (old & ~(0xFFFF_FFFF << shift)) | (value << shift))

    def _write_queue_ready(self, value: int) -> None:
        queue = self._selected()
        if queue is None:
            self._guest_error("queue", f"queue {self._queue_sel} does not exist")
            return
        if not value & 1:
            # The driver takes the queue away; the spec's reset path is a device reset.
            queue.ready = False
            return
        if queue.ready:
            return
        queue.ready = True
        try:
            queue.validate()
        except VirtqueueError as err:
            self.fail(queue.index, str(err))

    def _notify(self, value: int) -> None:
        index = value & 0xFFFF
        self.stats.notifications += 1
        if index >= len(self._queues):
            self._guest_error("notify", f"notify of nonexistent queue {index}")
            return
        if self.driver_ok and not self._queues[index].broken:
            self.device.notify(index)

    def _write_status(self, value: int) -> None:
        value &= 0xFF
        if value == 0:
            self.reset()
            return
        old = self._status
        if old & ~value & ~STATUS_NEEDS_RESET & 0xFF:
            self._guest_error("status", f"status {value:#x} clears bits of {old:#x}")
        new = value | (old & STATUS_NEEDS_RESET)
        if new & STATUS_FEATURES_OK and not old & STATUS_FEATURES_OK:
            unknown = self._driver_features & ~self._offered
            if unknown:
                self._guest_error(
                    "features", f"driver accepted features {unknown:#x} that were not offered"
                )
                new &= ~STATUS_FEATURES_OK  # the driver reads it back and gives up
        self._status = new
        if new & STATUS_DRIVER_OK and not old & STATUS_DRIVER_OK:
            self._activate()

    def _activate(self) -> None:
        if not self._status & STATUS_FEATURES_OK:
            # A legacy-style driver skips FEATURES_OK; keep only what was offered.
            self._driver_features &= self._offered
        indirect = self.has_feature(F_INDIRECT_DESC)
        event_idx = self.has_feature(F_EVENT_IDX)
        for queue in self._queues:
            queue.indirect = indirect
            queue.event_idx = event_idx
        self.device.activate()
        # Buffers made available before DRIVER_OK are picked up now.
        for queue in self._queues:
            if queue.ready and not queue.broken:
                self.device.notify(queue.index)

    def reset(self) -> None:
        """Device reset (status 0): queues, features, interrupts and the device."""
        self.stats.resets += 1
        self.device.reset()
        self._clear_registers()
        self._update_irq()

    # ------------------------------------------------------------------ config space

    def _read_config(self, offset: int, size: int) -> int:
        config = self.device.config()
        if size not in (1, 2, 4, 8) or offset + size > len(config):
            self._guest_error("config", f"{size}-byte config read at {offset:#x}")
            return 0
        return int.from_bytes(config[offset : offset + size], "little")

    def _write_config(self, offset: int, size: int, value: int) -> None:
        config_len = len(self.device.config())
        if size not in (1, 2, 4, 8) or offset + size > config_len:
            self._guest_error("config", f"{size}-byte config write of {value:#x} at {offset:#x}")
            return
        data = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        if not self.device.write_config(offset, data):
            self._guest_error("config", f"write of {value:#x} to read-only config at {offset:#x}")

    # ------------------------------------------------------------------ interrupts

    def _raise(self, bits: int) -> None:
        self._interrupt_status |= bits
        self._update_irq()

    def _update_irq(self) -> None:
        level = self._interrupt_status != 0
        if self._irq.set(level):
            self.stats.interrupts += 1

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        return {
            "status": self._status,
            "device_features_sel": self._device_features_sel,
            "driver_features_sel": self._driver_features_sel,
            "driver_features": self._driver_features,
            "queue_sel": self._queue_sel,
            "interrupt_status": self._interrupt_status,
            "config_generation": self._config_generation,
            "shm_sel": self._shm_sel,
            "queues": [q.state() for q in self._queues],
            "device": self.device.state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        if len(state["queues"]) != len(self._queues):
            raise ValueError(
                f"{self.name}: state has {len(state['queues'])} queues, device has "
                f"{len(self._queues)}"
            )
        self._status = int(state["status"])
        self._device_features_sel = int(state["device_features_sel"])
        self._driver_features_sel = int(state["driver_features_sel"])
        self._driver_features = int(state["driver_features"])
        self._queue_sel = int(state["queue_sel"])
        self._interrupt_status = int(state["interrupt_status"])
        self._config_generation = int(state["config_generation"])
        self._shm_sel = int(state["shm_sel"])
        for queue, queue_state in zip(self._queues, state["queues"], strict=True):
            queue.restore(queue_state)
        self.device.restore(state["device"])
        self._irq.restore(self._interrupt_status != 0)
