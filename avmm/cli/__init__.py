"""The ``avmm`` command: run, validate, stat (:mod:`avmm.cli.main`)."""

from avmm.cli.main import main

__all__ = ["main"]
