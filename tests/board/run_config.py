"""Run every VM of a config on the virt board, as `avmm run` will (tests' stand-in).

    python tests/board/run_config.py CONFIG.toml [KEY=VALUE ...]

Prints each VM's end and reboot count on stderr; exits with the largest exit code.
"""

from __future__ import annotations

import asyncio
import sys

from avmm import config as avmm_config
from avmm.board import build_config
from avmm.host import Host, run


async def main(path: str, overrides: list[str]) -> int:
    config = avmm_config.load(path, overrides)
    async with Host.from_config(config) as host:
        boards = await build_config(host, config)
        results = await asyncio.gather(*(b.run() for b in boards))
    for board, result in zip(boards, results, strict=True):
        print(
            f"avmm: {result.name}: {type(result.exit).__name__} exit code {result.code}, "
            f"{board.reboots} reboot(s)",
            file=sys.stderr,
            flush=True,
        )
    return max(r.code for r in results)


if __name__ == "__main__":
    sys.exit(run(main(sys.argv[1], sys.argv[2:])))
