"""A small VMM built on the runtime API, for the signal tests (run as a subprocess).

It runs a busy guest, says "ready" once the guest printed, and on SIGINT or
SIGTERM lets every vCPU stop at its slice boundary, runs its shutdown hooks
(a disk flush would go there), prints a summary and exits 0. With
``--stuck-flush`` the shutdown hook never finishes, so only a second SIGINT
ends the process (status 130).
"""

from __future__ import annotations

import asyncio
import sys

from avmm.runtime.host import Host, SignalHandler, run
from tests.runtime.guest import bare_metal_vm, guest_dir


async def main(stuck_flush: bool) -> int:
    async with Host(pcpus=2) as host:
        vm = bare_metal_vm(
            host.create_vm("busy"), guest_dir() / "spin.elf", vcpus=2, patch={"interval": 20_000}
        )

        async def flush() -> None:
            print("flushing", flush=True)
            if stuck_flush:
                await asyncio.Event().wait()

        host.on_shutdown(flush)
        with SignalHandler(host) as signals:
            running = asyncio.create_task(host.run())
            while b"spin 0" not in vm.console_output:
                await asyncio.sleep(0.01)
            print("ready", flush=True)
            try:
                results = await running
                await host.close()
            except asyncio.CancelledError:
                running.cancel()
                print("forced exit", flush=True)
                return 130
        print(f"stopped by signal {signals.received[0]}: {results['busy'].exit}", flush=True)
        print(host.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(main("--stuck-flush" in sys.argv)))
