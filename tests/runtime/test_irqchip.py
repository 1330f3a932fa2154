"""The interrupt controllers in the core and as Python models look the same to a guest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avmm.devices.base import IrqLine
from avmm.runtime.host import Host
from avmm.runtime.vm import Vm
from tests.runtime.guest import bare_metal_vm

DOORBELL = 0x1000_8000
DOORBELL_IRQ = 5


class Doorbell:
    """Test device: a write of 1 raises its interrupt line, 0 lowers it."""

    name = "doorbell"
    size = 0x1000

    def __init__(self, irq: IrqLine) -> None:
        self.irq = irq
        self.rings = 0

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if value & 1:
            self.rings += 1
        self.irq.set_level(bool(value & 1))

    def state(self) -> dict[str, Any]:
        return {"rings": self.rings}

    def restore(self, state: dict[str, Any]) -> None:
        self.rings = state["rings"]


async def run_irq_guest(
    guests: Path, irqchip: str, *, directed_yield: bool = True
) -> tuple[Vm, int, Doorbell]:
    async with Host(pcpus=2, directed_yield=directed_yield) as host:
        vm = host.create_vm(f"irq-{irqchip}", irqchip=irqchip)  # type: ignore[arg-type]
        bare_metal_vm(vm, guests / "irq.elf", vcpus=2, patch={"rounds": 20})
        doorbell = Doorbell(vm.irq_line(DOORBELL_IRQ))
        vm.add_device(DOORBELL, doorbell)
        result = await vm.run()
    return vm, result.code, doorbell


@pytest.mark.slow
async def test_core_and_python_irqchips_give_the_same_result(guests: Path) -> None:
    core_vm, core_code, core_bell = await run_irq_guest(guests, "core")
    py_vm, py_code, py_bell = await run_irq_guest(guests, "python")
    out = core_vm.console_output.decode()
    assert "ipi 20/20 timer 20 external 20 spurious 0" in out, out
    assert core_code == py_code == 0
    assert core_vm.console_output == py_vm.console_output
    assert core_bell.rings == py_bell.rings == 20
    # In Python, the CLINT and PLIC are devices on the bus; in the core they are not.
    py_devices = {d.name for d in py_vm.statistics().bus.devices}
    core_devices = {d.name for d in core_vm.statistics().bus.devices}
    assert {"clint", "plic"} <= py_devices
    assert not {"clint", "plic"} & core_devices


@pytest.mark.slow
@pytest.mark.parametrize("irqchip", ["core", "python"])
async def test_ipi_makes_its_target_run_next(guests: Path, irqchip: str) -> None:
    vm, code, _ = await run_irq_guest(guests, irqchip)
    assert code == 0
    yields = [v.directed_yields for v in vm.statistics().vcpus]
    assert yields[0] >= 20 and yields[1] >= 20  # every ping and every pong
    off, code, _ = await run_irq_guest(guests, irqchip, directed_yield=False)
    assert code == 0
    assert [v.directed_yields for v in off.statistics().vcpus] == [0, 0]
