"""The avmm Linux guest: kernel, busybox, initramfs with a self-check (see README.md)."""
