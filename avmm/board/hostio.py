"""The host side of a board: its console backend and the network switches.

A VM has one console (``ConsoleConfig``): stdio, null, file, pty or TCP. The
UART, the virtio console and the SBI/HTIF console all print to it, and host
input goes to every one of them (:class:`ConsoleHub`): the guest reads
whichever it uses, and the devices nobody reads from drop input into their
own bounded buffers. Switches are shared by name across every VM of a config.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from avmm.config import ConsoleConfig
from avmm.devices.backends.char import FileChar, NullChar, PtyChar, StdioChar, TcpChar
from avmm.devices.base import CharBackend

if TYPE_CHECKING:
    from avmm.devices.backends.net import Switch


class ConsoleHub:
    """One host console shared by several guest-side users.

    Each user gets a :meth:`port`: what it writes goes to the backend, and it
    receives every byte of host input. Closing a port does nothing; the hub
    closes the backend once.
    """

    def __init__(self, backend: CharBackend) -> None:
        self.backend = backend
        self._receivers: list[Callable[[bytes], None]] = []
        self._closed = False
        backend.attach(self._receive)

    def _receive(self, data: bytes) -> None:
        for receive in self._receivers:
            receive(data)

    def feed(self, data: bytes) -> None:
        """Host input from elsewhere than the backend (the control API's ``console``
        command): every user receives it, as if typed on the console."""
        self._receive(data)

    def port(self) -> ConsolePort:
        return ConsolePort(self)

    def write(self, data: bytes) -> None:
        self.backend.write(data)

    def add_receiver(self, receive: Callable[[bytes], None]) -> None:
        self._receivers.append(receive)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.backend.close()


class ConsolePort:
    """A :class:`~avmm.devices.base.CharBackend` view of a :class:`ConsoleHub`."""

    def __init__(self, hub: ConsoleHub) -> None:
        self._hub = hub

    def write(self, data: bytes) -> None:
        self._hub.write(data)

    def attach(self, receive: Callable[[bytes], None]) -> None:
        self._hub.add_receiver(receive)

    def close(self) -> None:
        pass

    @property
    def host_stats(self) -> object:
        """The backend's counters (``CharStats``: host input, lost output)."""
        return getattr(self._hub.backend, "stats", None)


def tell_user(message: str) -> None:
    """Where a running VMM tells its user things (a console's address): the
    ``avmm`` log (stderr, prefixed ``avmm:``; see :mod:`avmm.logs`)."""
    logging.getLogger("avmm.board").info("%s", message.removeprefix("avmm: "))


async def open_console(
    config: ConsoleConfig,
    vm: str,
    *,
    on_quit: Callable[[], None] | None = None,
    notify: Callable[[str], None] = tell_user,
) -> tuple[CharBackend, str]:
    """The backend ``config`` asks for, started, and where it is (for messages and
    ``describe``). A pty prints its path and a TCP console its address through
    ``notify`` (stderr by default), so a user knows where to connect."""
    backend: Any
    if config.backend == "stdio":
        backend = StdioChar(on_quit=on_quit)
        where = "stdio"
    elif config.backend == "null":
        backend, where = NullChar(), "null"
    elif config.backend == "file":
        assert config.path is not None  # the config checks it
        backend, where = FileChar(config.path), f"file {config.path}"
    elif config.backend == "pty":
        backend = PtyChar()
        where = f"pty {backend.path}"
        notify(f"avmm: {vm}: console on {backend.path}")
    else:
        backend = TcpChar(config.listen, config.port, name=f"console:{vm}")
        await backend.start()
        where = f"tcp {config.listen}:{backend.port}"
        if config.wait:
            notify(
                f"avmm: {vm}: console on tcp {config.listen}:{backend.port}: "
                "waiting for a client before the guest starts"
            )
            await _first_client(backend)
            notify(f"avmm: {vm}: console client connected")
        else:
            notify(f"avmm: {vm}: console on tcp {config.listen}:{backend.port}")
    return backend, where


async def _first_client(backend: TcpChar) -> None:
    """Wait until the console has a client (QEMU's ``server,wait``).

    Polled, not signalled: the backend keeps no waiters, and a person
    connecting does not notice 50 ms.
    """
    while not backend.connected:
        await asyncio.sleep(0.05)


class Switches:
    """The in-process Ethernet switches of one config, made on first use by name."""

    def __init__(self) -> None:
        self._switches: dict[str, Switch] = {}

    def get(self, name: str) -> Switch:
        switch = self._switches.get(name)
        if switch is None:
            from avmm.devices.backends.net import Switch  # only a networked config needs it

            switch = self._switches[name] = Switch()
        return switch

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._switches)

    def __getitem__(self, name: str) -> Switch:
        return self._switches[name]
