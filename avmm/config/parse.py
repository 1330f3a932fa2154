"""Config files: TOML ``version = 1`` parsed into the model's frozen attrs classes.

Everything a user can get wrong is rejected before anything runs, with the
key's path and the reason on one line (``vm[0].memory: "12XB" is not a size``).
Unknown keys, wrong types and impossible values are errors; sizes are written
like ``256MiB``; relative paths resolve against the config file's folder and
missing files are named. ``--set KEY=VALUE`` overrides are applied to the
parsed TOML before validation, so they are checked exactly like the file.

The data model (:mod:`avmm.config.model`) is kept apart from the format:
:func:`load` and :func:`from_dict` are the only places that know about TOML
and dicts. cattrs and tomllib are imported when first needed: a quick launch
(``avmm run --kernel``, :func:`quick_config`) uses neither, and importing
cattrs and building its converter would be about a tenth of its start-up.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from avmm.config.model import (
    BootConfig,
    Config,
    DiskConfig,
    FieldError,
    Size,
    VmConfig,
    parse_host_port,
    show_value,
)
from avmm.constants import VIRTIO_SLOTS
from avmm.errors import ConfigError

if TYPE_CHECKING:
    import cattrs

REPO = Path(__file__).resolve().parents[2]
DEBIAN_FW_DYNAMIC = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin")

# --------------------------------------------------------------- structuring

T = TypeVar("T")


def _strict(kind: type[T], name: str) -> Any:
    def hook(value: object, _type: object) -> T:
        # TOML has real types: "3" is not an int and 1 is not a bool.
        if type(value) is not kind and not (kind is float and type(value) is int):
            raise TypeError(f"{show_value(value)} is not {name}")
        return value  # type: ignore[return-value]

    return hook


@functools.cache
def _converter() -> cattrs.Converter:
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _strict(int, "an integer"))
    conv.register_structure_hook(bool, _strict(bool, "true or false"))
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(Size, lambda v, _t: Size.parse(v))
    conv.register_structure_hook(Path, lambda v, _t: Path(_strict(str, "a path")(v, None)))
    return conv


# transform_error only hands us strings; a message may start with "<KEY>" to move
# the reported path one level down, onto the key inside the table.
_SUBKEY = re.compile(r"^<([^>]+)>(.*)$", re.S)


def _format(exc: BaseException, _type: type | None) -> str:
    import cattrs

    if isinstance(exc, FieldError):
        return f"<{exc.key}>{exc}"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        keys = sorted(exc.extra_fields)
        if len(keys) == 1:
            return f"<{keys[0]}>unknown key"
        return f"unknown keys {', '.join(keys)}"
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, cattrs.errors.StructureHandlerNotFoundError):
        return f"cannot be read ({exc})"
    text = str(exc)
    if m := re.match(r"(.+) not in literal (.+)$", text):
        choices = ", ".join(re.findall(r"'([^']*)'", m.group(2)))
        return f"{show_value(_literal_value(m.group(1)))} is not one of: {choices}"
    return text


def _literal_value(text: str) -> str:
    return text.strip("'\"")


def _messages(exc: BaseException) -> list[str]:
    import cattrs

    out = []
    for line in cattrs.transform_error(exc, path="$", format_exception=_format):
        message, _, where = line.rpartition(" @ ")
        path = where.removeprefix("$").lstrip(".")
        if m := _SUBKEY.match(message):
            path, message = f"{path}.{m.group(1)}".lstrip("."), m.group(2)
        out.append(f"{path}: {message}" if path else message)
    return out


def from_dict(
    data: Mapping[str, Any], *, base: Path | None = None, source: Path | None = None
) -> Config:
    """Validate a parsed config; ``base`` is the folder relative paths start from."""
    raw = dict(data)
    if "version" not in raw:
        raise ConfigError("version", "required key is missing (write version = 1)")
    if raw["version"] != 1:
        raise ConfigError("version", f"{show_value(raw['version'])} is not supported (only 1)")
    vms = raw.get("vm")
    if vms is None:
        raise ConfigError("vm", "required: describe at least one VM in a [vm] table")
    single = isinstance(vms, Mapping)
    raw["vm"] = [vms] if single else vms
    if not isinstance(raw["vm"], list) or not raw["vm"]:
        raise ConfigError("vm", "must be a [vm] table or a non-empty [[vm]] array")
    try:
        config = _converter().structure(raw, Config)
    except Exception as exc:  # cattrs raises an ExceptionGroup of everything wrong
        messages = _messages(exc)
        if single:
            messages = [m.replace("vm[0]", "vm", 1) for m in messages]
        first = messages[0] if messages else str(exc)
        path, _, reason = first.partition(": ")
        err = ConfigError(path, reason or first)
        for more in messages[1:]:
            err.add_note(more)
        raise err from None
    return _finish(config, base or Path.cwd(), single, source)


_QUICK_VM_KEYS = frozenset({"vcpus", "memory", "boot"})
_QUICK_BOOT_KEYS = frozenset({"mode", "kernel", "initrd", "cmdline", "firmware"})
_QUICK_PATHS = frozenset({"kernel", "initrd", "firmware"})


def quick_config(data: Mapping[str, Any], *, base: Path) -> Config:
    """:func:`from_dict` for the small dict of a quick launch (``avmm run --kernel``).

    Its few keys arrive typed by the command line, so the model's classes are
    built directly, running the same validators, without cattrs. Anything
    else (another key, a value the model refuses) goes through
    :func:`from_dict`, which names the key in its error as it does for a file.
    """
    vm = data.get("vm")
    boot = vm.get("boot") if isinstance(vm, Mapping) else None
    if (
        data.keys() != {"version", "vm"}
        or data["version"] != 1
        or not isinstance(vm, Mapping)
        or not vm.keys() <= _QUICK_VM_KEYS
        or not isinstance(boot, Mapping)
        or not boot.keys() <= _QUICK_BOOT_KEYS
        or boot.get("mode") not in ("direct", "firmware")
        or not all(type(v) is str for v in boot.values())
        or type(vm.get("vcpus", 1)) is not int
    ):
        return from_dict(data, base=base)
    try:
        boot_fields: dict[str, Any] = {
            k: Path(v) if k in _QUICK_PATHS else v for k, v in boot.items()
        }
        fields: dict[str, Any] = {"boot": BootConfig(**boot_fields)}
        if "vcpus" in vm:
            fields["vcpus"] = vm["vcpus"]
        if "memory" in vm:
            fields["memory"] = Size.parse(vm["memory"])
        config = Config(version=1, vm=(VmConfig(**fields),))
    except ValueError:  # FieldError, a bad size: from_dict says which key
        return from_dict(data, base=base)
    return _finish(config, base, True, None)


def _finish(config: Config, base: Path, single: bool, source: Path | None) -> Config:
    vms = []
    names: set[str] = set()
    for i, vm in enumerate(config.vm):
        where = "vm" if single else f"vm[{i}]"
        name = vm.name or ("vm" if single else f"vm{i}")
        if name in names:
            raise ConfigError(f"{where}.name", f'"{name}" is used by two VMs')
        names.add(name)
        if vm.virtio_devices > VIRTIO_SLOTS:
            raise ConfigError(
                where,
                f"{vm.virtio_devices} virtio devices do not fit "
                f"the board's {VIRTIO_SLOTS} virtio-mmio slots",
            )
        boot = _check_boot(vm.boot, base, f"{where}.boot")
        console = vm.console
        if console.backend == "file":
            if console.path is None:
                raise ConfigError(f"{where}.console.path", "required for the file backend")
            console = attrs.evolve(console, path=_resolve(console.path, base))
        disks = tuple(
            attrs.evolve(
                d,
                path=_disk_path(d, base, f"{where}.disks[{j}].path"),
                overlay=_new_file(d.overlay, base, f"{where}.disks[{j}].overlay"),
            )
            for j, d in enumerate(vm.disks)
        )
        restore = (
            _existing(vm.restore, base, f"{where}.restore") if vm.restore is not None else None
        )
        for j, net in enumerate(vm.nets):
            if net.mac is not None and not re.fullmatch(
                r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", net.mac
            ):
                raise ConfigError(f"{where}.nets[{j}].mac", f'"{net.mac}" is not a MAC address')
            for key in ("listen", "peer"):
                value = getattr(net, key)
                if value is not None and parse_host_port(value) is None:
                    raise ConfigError(
                        f"{where}.nets[{j}].{key}",
                        f'"{value}" is not HOST:PORT (e.g. 127.0.0.1:5000)',
                    )
        vms.append(
            attrs.evolve(vm, name=name, boot=boot, console=console, disks=disks, restore=restore)
        )
    if config.sched.policy == "deterministic" and config.sched.clock != "virtual":
        raise ConfigError("sched.clock", 'the deterministic policy needs clock = "virtual"')
    trace = attrs.evolve(config.trace, file=_resolve(config.trace.file, base))
    series = attrs.evolve(config.series, file=_resolve(config.series.file, base))
    api = config.api
    if api.path is not None:
        api = attrs.evolve(api, path=_resolve(api.path.expanduser(), base))
    return attrs.evolve(config, vm=tuple(vms), trace=trace, series=series, api=api, source=source)


def _check_boot(boot: BootConfig, base: Path, where: str) -> BootConfig:
    kernel = _existing(boot.kernel, base, f"{where}.kernel") if boot.kernel else None
    initrd = _existing(boot.initrd, base, f"{where}.initrd") if boot.initrd else None
    firmware = _existing(boot.firmware, base, f"{where}.firmware") if boot.firmware else None
    if boot.mode == "direct":
        if kernel is None:
            raise ConfigError(f"{where}.kernel", "required for direct boot")
        if firmware is not None:
            raise ConfigError(f"{where}.firmware", 'only used with mode = "firmware"')
    else:
        if firmware is None and kernel is None:
            raise ConfigError(f"{where}.firmware", "required for firmware boot")
        if firmware is None:
            # A kernel alone in firmware mode runs under Debian's OpenSBI, as QEMU's
            # `-bios default` does.
            firmware = _existing(DEBIAN_FW_DYNAMIC, base, f"{where}.firmware")
    if initrd is not None and kernel is None:
        raise ConfigError(f"{where}.initrd", "an initrd needs a kernel")
    return attrs.evolve(boot, kernel=kernel, initrd=initrd, firmware=firmware)


def _disk_path(disk: DiskConfig, base: Path, where: str) -> Path:
    if disk.create is None:
        return _existing(disk.path, base, where)
    full = _resolve(disk.path.expanduser(), base)
    if not _probe(full.parent, where).is_dir():
        raise ConfigError(where, f"{full.parent} does not exist (cannot create the disk there)")
    return full


def _probe(path: Path, where: str) -> Path:
    """``path``, once it is known that asking about it raises nothing: ``is_file``
    lets EACCES (a directory on the way that cannot be searched), ENAMETOOLONG
    and the like escape as exceptions."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass  # the caller says "does not exist"
    except OSError as err:
        raise ConfigError(where, f"{path}: cannot access: {err.strerror}") from None
    return path


def _new_file(path: Path | None, base: Path, where: str) -> Path | None:
    """A file avmm creates (an overlay): its folder must exist."""
    if path is None:
        return None
    full = _resolve(path.expanduser(), base)
    if not full.parent.is_dir():
        raise ConfigError(where, f"{full.parent} does not exist (cannot create the file there)")
    return full


def _resolve(path: Path, base: Path) -> Path:
    """``path`` against the config's folder, absolute and without ``..``: the
    form messages and ``avmm validate`` show, and the one the build hint needs."""
    return Path(os.path.abspath(path if path.is_absolute() else (base / path)))


def _existing(path: Path, base: Path, where: str) -> Path:
    full = _resolve(path.expanduser(), base)
    if not _probe(full, where).is_file():
        hint = ""
        try:
            recipe = full.relative_to(REPO / "guests" / "out").parts[0]
            hint = f" (build it with `python -m guests.build {recipe}`)"
        except (ValueError, IndexError):
            pass
        raise ConfigError(where, f"{full} does not exist{hint}")
    return full


# ----------------------------------------------------------------- overrides


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides to parsed TOML (in place) and return it.

    ``KEY`` is a dotted path; ``vm.X`` sets X on every VM, ``vm[N].X`` on VM N.
    ``VALUE`` is a TOML value (``8``, ``true``, ``"256MiB"``); a bare word that is
    not valid TOML is taken as a string (``--set sched.policy=deterministic``).
    """
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(item, "an override must look like KEY=VALUE")
        value = _parse_value(text.strip())
        parts = key.split(".")
        _set_path(data, parts, value, key)
    return data


def _parse_value(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


_INDEXED = re.compile(r"^([A-Za-z_][\w-]*)\[(\d+)\]$")


def _set_path(node: dict[str, Any], parts: list[str], value: Any, key: str) -> None:
    head, rest = parts[0], parts[1:]
    if m := _INDEXED.match(head):
        name, index = m.group(1), int(m.group(2))
        seq = node.get(name)
        if isinstance(seq, dict) and index == 0:  # a single [vm] table is vm[0]
            seq = node[name] = [seq]
        if not isinstance(seq, list) or index >= len(seq):
            raise ConfigError(key, f"there is no {name}[{index}] to override")
        targets = [seq[index]]
    elif not rest:
        node[head] = value
        return
    else:
        child = node.setdefault(head, {})
        targets = child if isinstance(child, list) else [child]  # vm.X: every VM
    if not rest:
        raise ConfigError(key, "name a key inside the table, e.g. vm[0].vcpus=2")
    for target in targets:
        if not isinstance(target, dict):
            raise ConfigError(key, f"{head} is not a table")
        _set_path(target, rest, value, key)


# --------------------------------------------------------------------- load


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a ConfigError naming ``what`` (config, experiment)
    when it cannot be read or parsed."""
    try:
        text = path.read_bytes().decode()
    except OSError as exc:
        raise ConfigError("", f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "", f"{path} is not a text file (byte {exc.start} is not UTF-8): not a {what}"
        ) from None
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{path} is not valid TOML: {exc}") from None


def load(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read, override and validate a config file."""
    path = Path(path)
    data = read_toml(path, "config")
    apply_overrides(data, overrides)
    return from_dict(data, base=path.resolve().parent, source=path)


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain data (``avmm validate`` prints it)."""
    import cattrs

    unstructure = cattrs.Converter()
    unstructure.register_unstructure_hook(Path, str)
    unstructure.register_unstructure_hook(Size, str)
    data: dict[str, Any] = unstructure.unstructure(config)
    data.pop("source", None)
    return data
