"""The avmm exception hierarchy: one module, small, with attributes.

The compiled core raises :class:`CoreError` (it imports this module when it
loads); everything else raises the class that names the layer at fault.
"""

from __future__ import annotations


class AvmmError(Exception):
    """Base of every error avmm raises on purpose."""


class ConfigError(AvmmError):
    """A config file, a ``--set`` override or a VM description is invalid.

    ``path`` names the offending key (``vm[0].memory``); ``str(err)`` is the
    one-line message a user sees.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class CoreError(AvmmError):
    """The host used the compiled core wrongly (never raised for guest actions)."""


class GuestMemoryError(AvmmError):
    """A guest-physical range is not backed by RAM."""

    def __init__(self, addr: int, length: int) -> None:
        self.addr = addr
        self.length = length
        super().__init__(f"guest-physical range {addr:#x}+{length:#x} is not in RAM")


class DeviceError(AvmmError):
    """A device could not be built or its backend failed (host side)."""


class GuestBuildError(AvmmError):
    """Building a guest (bare-metal ELF, Linux, initramfs) failed."""


class BootError(AvmmError):
    """A kernel, firmware or initrd image cannot be loaded."""


class SnapshotError(AvmmError):
    """A snapshot cannot be written or read (truncated, corrupt, another version, a
    machine of another shape, a disk that changed), or a migration failed; the
    message is one line naming what is wrong. The VM is left as it was."""
