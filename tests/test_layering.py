"""The layers hold: no import circle between avmm's modules, and device models
that know nothing of the runtime.

Imports are read with :mod:`ast` from every module under ``avmm/``, wherever
they stand: at the top, inside a function (the CLI's lazy imports) or under
``if TYPE_CHECKING:`` (a type-only import is still a dependency a reader must
follow). ``from pkg import name`` counts as importing ``pkg.name`` when that
is a module, else ``pkg``. A package's ``__init__`` is a module like any
other; importing ``pkg.mod`` is not counted as importing ``pkg`` too.
"""

from __future__ import annotations

import ast
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "avmm"
# What a device model may import: its own package (base, helpers, other models),
# avmm's exception hierarchy, the standard library and attrs.
DEVICES = "avmm.devices"
DEVICE_MAY_IMPORT = ("avmm.devices", "avmm.errors")
DEVICE_THIRD_PARTY = {"attrs"}


def modules(root: Path = REPO) -> dict[str, Path]:
    """Every module of the avmm package by dotted name (symlinked folders followed)."""
    found: dict[str, Path] = {}
    for folder, _dirs, files in os.walk(root / PACKAGE, followlinks=True):
        for file in files:
            if not file.endswith((".py", ".pyi")):
                continue  # .pyi: the compiled core's stub names avmm._core
            rel = Path(folder, file).relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = Path(folder, file)
    return found


def _imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every import in ``path``, relative ones resolved."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                prefix = ".".join(base)
                source = f"{prefix}.{node.module}" if node.module else prefix
            else:
                source = node.module or ""
            for alias in node.names:
                yield f"{source}.{alias.name}", node.lineno
            yield source, node.lineno


def graph(root: Path = REPO) -> dict[str, dict[str, int]]:
    """module -> {avmm module it imports: line}."""
    known = modules(root)
    edges: dict[str, dict[str, int]] = {}
    for module, path in known.items():
        out: dict[str, int] = {}
        names = list(_imported(module, path))
        for name, line in names:
            if name in known and name != module:
                out.setdefault(name, line)
        # ``from pkg import mod`` yields both pkg.mod and pkg: keep pkg only when no
        # module of it was named on that line.
        for name, line in names:
            if (
                name in out
                and out[name] == line
                and any(o.startswith(name + ".") and out[o] == line for o in out)
            ):
                del out[name]
        edges[module] = out
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(components)


def circle(component: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """A shortest path from the component's first module back to itself."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v]):
            if w == start:
                return [*paths[v], start]
            if w in members and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return component  # unreachable for a strongly connected component


def show(circle: list[str], edges: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {edges[a][b]})" for a, b in itertools.pairwise(circle)]
    return " -> ".join([*steps, circle[-1]])


def device_violations(root: Path = REPO) -> list[str]:
    known = modules(root)
    stdlib = sys.stdlib_module_names
    bad = []
    for module, path in sorted(known.items()):
        if module != DEVICES and not module.startswith(DEVICES + "."):
            continue
        for name, line in _imported(module, path):
            top = name.split(".")[0]
            if top == PACKAGE:
                if name in known and not any(
                    name == ok or name.startswith(ok + ".") for ok in DEVICE_MAY_IMPORT
                ):
                    bad.append(f"{module} (line {line}) imports {name}")
            elif top not in stdlib and top not in DEVICE_THIRD_PARTY:
                bad.append(f"{module} (line {line}) imports {top}")
    return sorted(set(bad))


def test_no_import_circle_between_avmms_modules() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "import circles:\n" + "\n".join(
        f"{len(c)} modules ({', '.join(c)}), e.g. {show(circle(c, edges), edges)}" for c in found
    )


def test_device_models_import_only_their_own_package_errors_stdlib_and_attrs() -> None:
    bad = device_violations()
    assert not bad, "device models reaching outside their layer:\n" + "\n".join(bad)


def test_the_checker_reports_a_circle_with_its_lines() -> None:
    edges = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    (component,) = cycles(edges)
    assert component == ["a", "b", "c"]
    assert show(circle(component, edges), edges) == "a (line 3) -> b (line 5) -> c (line 7) -> a"


def test_a_type_only_import_circle_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE
    (pkg / "devices").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "vm.py").write_text("from avmm.vcpu import Vcpu\n")
    (pkg / "vcpu.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from avmm.vm import Vm\n"
    )
    (pkg / "devices" / "__init__.py").write_text("")
    (pkg / "devices" / "uart.py").write_text("from ..vm import Vm\nimport attrs\nimport numpy\n")
    edges = graph(tmp_path)
    assert cycles(edges) == [["avmm.vcpu", "avmm.vm"]]
    assert device_violations(tmp_path) == [
        "avmm.devices.uart (line 1) imports avmm.vm",
        "avmm.devices.uart (line 3) imports numpy",
    ]
