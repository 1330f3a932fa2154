"""Device models of the virt board (installed as ``avmm.devices``).

Each device is a state machine in its own module: registers at offsets from
its own base (``read(offset, size)`` / ``write(offset, size, value)``), an IRQ
line, a host backend, and its state as plain data. Devices know nothing of the
scheduler, the metrics library or the config file.
"""
