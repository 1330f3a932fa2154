"""avmm: an event-driven asyncio virtual machine monitor for SMP RISC-V guests."""

__version__ = "0.1.0"
