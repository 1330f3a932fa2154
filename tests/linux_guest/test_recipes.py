"""Recipe plumbing that needs no build: config merging and checking, keys, the deb-src
error, and the parser of the console lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm.errors import GuestBuildError
from guests.build import load_recipes
from guests.linux import debsrc, report


def test_merge_replaces_both_spellings_of_an_option(tmp_path: Path) -> None:
    config = tmp_path / ".config"
    config.write_text("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=3\n# a comment\n")
    fragment = tmp_path / "frag"
    fragment.write_text("# CONFIG_A is not set\nCONFIG_B=y\n")
    debsrc.merge_config(config, fragment)
    assert debsrc.read_config(config) == {"CONFIG_A": None, "CONFIG_B": "y", "CONFIG_C": "3"}
    assert config.read_text().count("CONFIG_A") == 1
    assert "# a comment" in config.read_text()


def test_missing_options_names_each_dropped_line() -> None:
    wanted = {"CONFIG_A": "y", "CONFIG_B": None, "CONFIG_N": "64"}
    final = {"CONFIG_A": "y", "CONFIG_B": "y", "CONFIG_N": "32"}
    assert debsrc.missing_options(wanted, final) == [
        "CONFIG_B unset (got CONFIG_B=y)",
        "CONFIG_N=64 (got CONFIG_N=32)",
    ]
    assert debsrc.missing_options({"CONFIG_X": "y"}, {}) == ["CONFIG_X=y (got unset)"]
    assert debsrc.missing_options({"CONFIG_X": None}, {}) == []


def test_each_recipe_keys_on_its_own_inputs() -> None:
    recipes = load_recipes()
    assert "guests/linux/kernel.config" in recipes["linux"].inputs
    assert "guests/linux/busybox.config" in recipes["busybox"].inputs
    assert "guests/linux/init" in recipes["initramfs"].inputs
    files = {str(p) for p in recipes["initramfs"].input_files()}
    assert any(f.endswith("guests/linux/check/avmm-check.c") for f in files)
    assert any(f.endswith("guests/linux/rootfs/etc/passwd") for f in files)
    assert not any(f.endswith("kernel.config") for f in files)


def test_missing_deb_src_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An apt configuration without any deb-src entry, as on a fresh Debian machine.
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    conf = tmp_path / "apt.conf"
    conf.write_text(f'Dir::Etc::sourceparts "{sources}";\nDir::Etc::sourcelist "/dev/null";\n')
    monkeypatch.setenv("APT_CONFIG", str(conf))
    with pytest.raises(GuestBuildError) as err:
        debsrc.source_package_key("busybox")
    assert "deb-src" in str(err.value)
    assert "apt-get update" in str(err.value)


CONSOLE_FAIL = (
    "[    0.51] Run /init as init process\r\n"
    "avmm: userspace up\r\n"
    "avmm-check: start iterations=100 disk=/dev/vda\r\n"
    "avmm-check: cpus online=3 present=4 mismatch\r\n"
    "avmm-check: atomics ok threads=3 pinned=3 iterations=100 total=300\r\n"
    "[    0.93] random: crng init done\r\n"
    "avmm-check: disk skipped reason=missing dev=/dev/vda\r\n"
    "avmm-check: FAIL cpus,disk\r\n"
)


def test_report_reads_a_failed_check() -> None:
    r = report.parse(CONSOLE_FAIL)
    assert r.userspace_up
    assert (r.cpus_online, r.cpus_present) == (3, 4)
    assert (r.atomics_threads, r.atomics_total) == (3, 300)
    assert r.disk_skipped == "missing"
    assert r.disk_boots is None
    assert not r.passed and r.failed == "cpus,disk" and r.finished
    assert r.problems == ("avmm-check: cpus online=3 present=4 mismatch",)


def test_report_of_a_silent_console_is_unfinished() -> None:
    r = report.parse("OpenSBI v1.1\n[    0.000000] Linux version 6.1\n")
    assert not r.userspace_up and not r.finished
    assert r.cpus_online is None and r.disk_boots is None
