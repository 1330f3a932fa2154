"""virtio over MMIO: one transport, one split-virtqueue implementation, thin device types.

The names below are imported from their modules on first use, so a board
without virtio devices (a quick ``avmm run --kernel``) does not load them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module (in this package) that defines it
_EXPORTS = {
    "VirtioBlk": "blk",
    "VirtioConsole": "console",
    "VirtioDevice": "device",
    "VirtioTransport": "device",
    "VirtioMmio": "mmio",
    "VirtioNet": "net",
    "Chain": "queue",
    "Virtqueue": "queue",
    "VirtqueueError": "queue",
    "VirtioRng": "rng",
}

__all__ = [
    "Chain",
    "VirtioBlk",
    "VirtioConsole",
    "VirtioDevice",
    "VirtioMmio",
    "VirtioNet",
    "VirtioRng",
    "VirtioTransport",
    "Virtqueue",
    "VirtqueueError",
]

if TYPE_CHECKING:
    from .blk import VirtioBlk as VirtioBlk
    from .console import VirtioConsole as VirtioConsole
    from .device import VirtioDevice as VirtioDevice
    from .device import VirtioTransport as VirtioTransport
    from .mmio import VirtioMmio as VirtioMmio
    from .net import VirtioNet as VirtioNet
    from .queue import Chain as Chain
    from .queue import Virtqueue as Virtqueue
    from .queue import VirtqueueError as VirtqueueError
    from .rng import VirtioRng as VirtioRng


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
