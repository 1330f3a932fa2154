"""What the parsers of ``avmm``, ``avmm ctl`` and ``avmm sweep`` share: a bad command
line prints the usage line and one ``avmm: error:`` line, and exits with status 2."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 too; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"avmm: error: {message}\n")
