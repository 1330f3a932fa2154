"""virtio over MMIO: one transport, one split-virtqueue implementation, thin device types."""

from .blk import VirtioBlk
from .console import VirtioConsole
from .device import VirtioDevice, VirtioTransport
from .mmio import VirtioMmio
from .net import VirtioNet
from .queue import Chain, Virtqueue, VirtqueueError
from .rng import VirtioRng

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
