"""Build the compiled hart core (avmm/core/*.c) as the avmm._core extension."""

import os
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE = Path("avmm/core")
BINDING = CORE / "binding"  # the CPython binding's types; module.c is in CORE

# Used only when the compiler accepts them (GCC; clang rejects the first).
OPTIONAL_FLAGS = [
    # keep the interpreter's replicated dispatch jumps apart (threaded code)
    "-fno-crossjumping",
]


class BuildCore(build_ext):
    """build_ext that adds the optional flags the compiler understands."""

    def build_extensions(self) -> None:
        extra = [f for f in OPTIONAL_FLAGS if self._accepts(f)]
        for ext in self.extensions:
            ext.extra_compile_args = [*ext.extra_compile_args, *extra]
        super().build_extensions()

    def _accepts(self, flag: str) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write("int probe(void) { return 0; }\n")
            try:
                self.compiler.compile([src], output_dir=tmp, extra_postargs=[flag, "-Werror"])
            except Exception:
                return False
        return True


setup(
    cmdclass={"build_ext": BuildCore},
    ext_modules=[
        Extension(
            "avmm._core",
            sources=sorted(str(p) for d in (CORE, BINDING) for p in d.glob("*.c")),
            include_dirs=[str(CORE)],
            depends=sorted(str(p) for d in (CORE, BINDING) for p in d.glob("*.h")),
            extra_compile_args=[
                "-O2",
                "-std=gnu11",
                "-fno-strict-aliasing",
                "-ffp-contract=off",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
            ],
        )
    ],
)
