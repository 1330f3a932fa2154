"""The guest build: kernel options really set, image formats, initramfs contents, caching."""

from __future__ import annotations

import gzip
import stat
import subprocess
import tempfile
from pathlib import Path

import attrs
import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from avmm.errors import GuestBuildError
from guests.build import Step, build, load_recipes
from guests.linux import debsrc, initramfs, kernel

pytestmark = pytest.mark.slow


# What `make tinyconfig` / `olddefconfig` read from the kernel source.
KCONFIG_FILES = (
    "*Kconfig*",
    "*/Makefile*",
    "*/Kbuild*",
    "*/scripts/*",
    "*/arch/riscv/*",
    "*/kernel/configs/*",
)


@attrs.frozen
class Entry:
    name: str
    mode: int
    uid: int
    gid: int
    mtime: int
    rdev: tuple[int, int]
    data: bytes


def read_newc(blob: bytes) -> dict[str, Entry]:
    """Parse a 'newc' cpio archive (the format the kernel unpacks)."""
    entries: dict[str, Entry] = {}
    pos = 0
    while True:
        head = blob[pos : pos + 110]
        assert head[:6] in (b"070701", b"070702"), f"bad cpio magic at {pos}"
        f = [int(head[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = blob[pos + 110 : pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        data = blob[pos : pos + filesize]
        pos = (pos + filesize + 3) & ~3
        if name == "TRAILER!!!":
            return entries
        entries["/" + name.lstrip("/")] = Entry(name, f[1], f[2], f[3], f[5], (f[9], f[10]), data)


@pytest.fixture(scope="module")
def archive(initramfs_dir: Path) -> dict[str, Entry]:
    return read_newc(gzip.decompress((initramfs_dir / "initramfs.cpio.gz").read_bytes()))


def test_every_fragment_option_is_in_the_final_config(linux_dir: Path) -> None:
    wanted = debsrc.read_config(kernel.FRAGMENT)
    final = debsrc.read_config(linux_dir / "config")
    assert debsrc.missing_options(wanted, final) == []
    # The ones the rest of avmm leans on, spelled out.
    for name in ("CONFIG_SMP", "CONFIG_RISCV_SBI_V01", "CONFIG_VIRTIO_BLK", "CONFIG_SERIAL_8250"):
        assert final[name] == "y"
    assert int(final["CONFIG_NR_CPUS"] or 0) >= 64
    # 6.12 with SBI STA steal time accounted in /proc/stat
    assert final["CONFIG_PARAVIRT"] == final["CONFIG_PARAVIRT_TIME_ACCOUNTING"] == "y"


def test_the_kernel_is_6_12_with_the_avmm_para_driver_built_in(linux_dir: Path) -> None:
    symbols = (linux_dir / "System.map").read_text()
    assert " t avmm_para_init\n" in symbols
    assert " T pv_time_init\n" in symbols  # arch/riscv/kernel/paravirt.c: SBI STA
    image = (linux_dir / "Image").read_bytes()
    assert b"Linux version 6.12." in image


def test_image_has_the_riscv_boot_header(linux_dir: Path) -> None:
    image = (linux_dir / "Image").read_bytes()
    assert image[0x30:0x38] == b"RISCV\0\0\0"
    assert image[0x38:0x3C] == b"RSC\x05"
    text_offset = int.from_bytes(image[0x08:0x10], "little")
    image_size = int.from_bytes(image[0x10:0x18], "little")
    assert text_offset == 0x200000
    assert image_size >= len(image)  # includes bss


def test_vmlinux_and_system_map_are_there_for_debugging(linux_dir: Path) -> None:
    with (linux_dir / "vmlinux").open("rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == "EM_RISCV"
        assert elf.has_dwarf_info()
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        assert symtab.get_symbol_by_name("start_kernel")
    assert " T start_kernel\n" in (linux_dir / "System.map").read_text()


def test_initramfs_is_owned_by_root_with_explicit_modes(archive: dict[str, Entry]) -> None:
    assert all(e.uid == 0 and e.gid == 0 for e in archive.values())
    assert all(e.mtime == 0 for e in archive.values())
    init = archive["/init"]
    assert stat.S_ISREG(init.mode) and stat.S_IMODE(init.mode) == 0o755
    assert init.data.startswith(b"#!/bin/sh\n")
    console = archive["/dev/console"]
    assert stat.S_ISCHR(console.mode) and console.rdev == (5, 1)
    assert stat.S_IMODE(archive["/tmp"].mode) == 0o1777
    assert archive["/etc/passwd"].data.startswith(b"root:x:0:0:")


def test_initramfs_has_busybox_with_applet_links(archive: dict[str, Entry]) -> None:
    for link in ("/bin/sh", "/bin/mount", "/sbin/poweroff", "/usr/bin/setsid", "/bin/cttyhack"):
        entry = archive[link]
        assert stat.S_ISLNK(entry.mode), link
        assert entry.data.rstrip(b"\0") == b"/bin/busybox"  # gen_init_cpio adds the NUL


@pytest.mark.parametrize("path", ["/bin/busybox", "/bin/avmm-check"])
def test_binaries_are_static_riscv64(archive: dict[str, Entry], path: str) -> None:
    with tempfile.TemporaryFile() as f:
        f.write(archive[path].data)
        f.seek(0)
        elf = ELFFile(f)
        assert elf["e_machine"] == "EM_RISCV"
        assert elf.elfclass == 64
        assert not any(seg["p_type"] == "PT_INTERP" for seg in elf.iter_segments())


def test_initramfs_build_is_reproducible(initramfs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    initramfs.build(Step("initramfs", out, tmp_path / "build.log", quiet=True))
    again = (out / "initramfs.cpio.gz").read_bytes()
    assert again == (initramfs_dir / "initramfs.cpio.gz").read_bytes()


def test_warm_build_is_a_cache_hit(linux_dir: Path, initramfs_dir: Path) -> None:
    def must_not_run(step: Step) -> None:
        raise AssertionError(f"{step.recipe} was rebuilt although nothing changed")

    recipes = load_recipes()
    for name, built in (("linux", linux_dir), ("busybox", None), ("initramfs", initramfs_dir)):
        again = build(attrs.evolve(recipes[name], build=must_not_run), quiet=True)
        if built is not None:
            assert again == built


def test_a_dropped_kernel_option_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # VIRTIO_PCI needs PCI, which the fragment leaves off: olddefconfig drops it silently.
    fragment = tmp_path / "kernel.config"
    fragment.write_text(kernel.FRAGMENT.read_text() + "CONFIG_VIRTIO_PCI=y\n")
    monkeypatch.setattr(kernel, "FRAGMENT", fragment)
    # Configuring reads only the kconfig and make files (40 MB of the 1.5 GB source).
    with tempfile.TemporaryDirectory(prefix="linux-kconfig-") as tmp:
        tree = Path(tmp)
        subprocess.run(
            ["tar", "-xJf", str(debsrc.KERNEL_TARBALL), "-C", tmp, "--wildcards", *KCONFIG_FILES],
            check=True,
        )
        src = next(p for p in tree.iterdir() if p.is_dir())
        obj = tree / "obj"
        obj.mkdir()
        step = Step("linux", tmp_path, tmp_path / "build.log", quiet=True)
        with pytest.raises(GuestBuildError, match=r"CONFIG_VIRTIO_PCI=y \(got unset\)"):
            kernel.configure(step, src, obj)


def test_pruning_keeps_the_newest_builds_and_ignores_their_logs(tmp_path: Path) -> None:
    import os

    from guests.build import KEEP_BUILDS, _prune

    names = [f"linux-{i}" for i in range(5)]
    for i, name in enumerate(names):  # linux-4 is the newest
        build_dir = tmp_path / name
        build_dir.mkdir()
        log = tmp_path / f"{name}.log"
        log.write_text("log")
        for p in (build_dir, log):
            os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "linux-9.log").write_text("newer log, no build")
    _prune(tmp_path, "linux", keep=tmp_path / "linux-0")
    kept = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert KEEP_BUILDS == 3
    assert kept == ["linux-0", "linux-3", "linux-4"]  # the one in use and the two newest
    assert not (tmp_path / "linux-1.log").exists()
    assert (tmp_path / "linux-3.log").exists()
