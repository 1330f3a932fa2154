"""The virt board: its layout, device tree, boot images and assembly from a config.

Above the runtime: turns a :class:`~avmm.config.Config` into VMs with their
devices and boot state (:mod:`~avmm.board.virt`), in visible phases. Also the
bare-metal ELF runner the ISA tests use (:mod:`~avmm.board.elfrun`).
"""
