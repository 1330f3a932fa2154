"""Differential tests against QEMU: program generator, harness, signature comparison."""
