"""Build the compiled hart core (avmm/core/*.c) as the avmm._core extension."""

from pathlib import Path

from setuptools import Extension, setup

CORE = Path("avmm/core")

setup(
    ext_modules=[
        Extension(
            "avmm._core",
            sources=sorted(str(p) for p in CORE.glob("*.c")),
            include_dirs=[str(CORE)],
            depends=sorted(str(p) for p in CORE.glob("*.h")),
            extra_compile_args=[
                "-O2",
                "-std=gnu11",
                "-fno-strict-aliasing",
                "-ffp-contract=off",
                # keep the interpreter's replicated dispatch jumps apart (threaded code)
                "-fno-crossjumping",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
            ],
        )
    ]
)
