"""Config files: what a user writes, and the one-line errors they get back."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmm import config
from avmm.config import Size
from avmm.errors import ConfigError


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    path = tmp_path / "Image"
    path.write_bytes(b"\0" * 64)
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vm.toml"
    path.write_text(text)
    return path


def error_of(path: Path, *overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        config.load(path, overrides)
    return str(info.value)


MINIMAL = """
version = 1
[vm]
boot.kernel = "Image"
"""


def test_minimal_file_gets_documented_defaults(tmp_path: Path, kernel: Path) -> None:
    cfg = config.load(write(tmp_path, MINIMAL))
    (vm,) = cfg.vm
    assert vm.name == "vm"
    assert vm.memory == 256 << 20
    assert vm.vcpus == 1
    assert vm.irqchip == "core"
    assert vm.boot.mode == "direct"
    assert vm.boot.kernel == kernel
    assert vm.console.backend == "stdio"
    assert cfg.sched.policy == "round-robin"
    assert cfg.sched.slice == 30_000
    assert cfg.sched.clock == "host"
    assert cfg.host.pcpus == 1
    assert cfg.host.vmid_bits == 8
    assert cfg.metrics.listen == "127.0.0.1"
    assert cfg.metrics.port == 9464
    assert not cfg.metrics.enabled


@pytest.mark.parametrize(
    ("text", "size"),
    [("256MiB", 256 << 20), ("1GiB", 1 << 30), ("64M", 64 << 20), (str(32 << 20), 32 << 20)],
)
def test_sizes_accept_binary_units(text: str, size: int) -> None:
    assert Size.parse(text) == size
    assert Size.parse(size) == size


def test_size_prints_in_its_largest_unit() -> None:
    assert str(Size(512 << 20)) == "512MiB"
    assert str(Size(3 << 30)) == "3GiB"


def test_bad_size_names_key_and_value(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL + 'memory = "12XB"\n')
    assert error_of(path).startswith('vm.memory: "12XB" is not a size')


def test_error_paths_index_vms_in_an_array(tmp_path: Path, kernel: Path) -> None:
    text = 'version = 1\n[[vm]]\nboot.kernel = "Image"\n[[vm]]\nboot.kernel = "Image"\nvcpus = 0\n'
    assert error_of(write(tmp_path, text)) == "vm[1].vcpus: 0 is out of range (1..64)"


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL + "[vm.boot.extra]\nx = 1\n")
    assert error_of(path) == "vm.boot.extra: unknown key"
    assert error_of(write(tmp_path, "version = 1\ncolour = 1\n[vm]\nboot.kernel='Image'\n")) == (
        "colour: unknown key"
    )


def test_wrong_types_are_not_coerced(tmp_path: Path, kernel: Path) -> None:
    assert error_of(write(tmp_path, MINIMAL + 'vcpus = "4"\n')) == 'vm.vcpus: "4" is not an integer'
    assert error_of(write(tmp_path, MINIMAL + "sstc = 1\n")) == "vm.sstc: 1 is not true or false"


def test_enumerated_values_list_the_choices(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL + '[sched]\npolicy = "fastest"\n')
    assert error_of(path) == (
        'sched.policy: "fastest" is not one of: round-robin, random, deterministic'
    )


def test_problems_in_several_tables_are_all_reported(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL + "[host]\npcpus = 0\n[sched]\nslice = 0\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value) == "host.pcpus: 0 is out of range (1..64)"
    assert info.value.__notes__ == ["sched.slice: 0 is out of range (1..100000000)"]


def test_missing_version_and_vm_are_named(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "[vm]\nvcpus = 1\n")).startswith("version: required")
    assert error_of(write(tmp_path, "version = 2\n")) == "version: 2 is not supported (only 1)"
    assert error_of(write(tmp_path, "version = 1\n")).startswith("vm: required")


def test_not_toml_says_so(tmp_path: Path) -> None:
    assert "is not valid TOML" in error_of(write(tmp_path, "version = = 1\n"))


def test_unreadable_config_is_named(tmp_path: Path) -> None:
    assert error_of(tmp_path / "absent.toml").startswith(f"cannot read config {tmp_path}")


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "guests"
    sub.mkdir()
    (sub / "k.elf").write_bytes(b"x")
    conf_dir = tmp_path / "configs"
    conf_dir.mkdir()
    path = conf_dir / "a.toml"
    path.write_text(
        'version = 1\n[vm]\nboot.mode = "firmware"\nboot.firmware = "../guests/k.elf"\n'
    )
    # Absolute and without "..": the form messages and `avmm validate` show.
    assert config.load(path).vm[0].boot.firmware == sub / "k.elf"


def test_missing_file_is_named_with_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'version = 1\n[vm]\nboot.kernel = "nope/Image"\n')
    assert error_of(path) == f"vm.boot.kernel: {tmp_path}/nope/Image does not exist"


def test_missing_guest_output_suggests_the_build_command(tmp_path: Path) -> None:
    out = config.REPO / "guests" / "out" / "no-such-recipe" / "x.elf"
    path = write(tmp_path, f'version = 1\n[vm]\nboot.kernel = "{out}"\n')
    assert error_of(path).endswith("(build it with `python -m guests.build no-such-recipe`)")


def test_overrides_set_keys_on_every_vm(tmp_path: Path, kernel: Path) -> None:
    text = 'version = 1\n[[vm]]\nboot.kernel = "Image"\n[[vm]]\nboot.kernel = "Image"\n'
    cfg = config.load(write(tmp_path, text), ["vm.vcpus=8", "sched.policy=random"])
    assert [vm.vcpus for vm in cfg.vm] == [8, 8]
    assert cfg.sched.policy == "random"


def test_indexed_override_sets_one_vm(tmp_path: Path, kernel: Path) -> None:
    text = 'version = 1\n[[vm]]\nboot.kernel = "Image"\n[[vm]]\nboot.kernel = "Image"\n'
    cfg = config.load(write(tmp_path, text), ["vm[1].memory=512MiB"])
    assert [vm.memory for vm in cfg.vm] == [256 << 20, 512 << 20]
    assert [vm.name for vm in cfg.vm] == ["vm0", "vm1"]


def test_overrides_are_validated_like_the_file(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert error_of(path, "vm.vcpus=65") == "vm.vcpus: 65 is out of range (1..64)"
    assert error_of(path, "vm.cpus=2") == "vm.cpus: unknown key"
    assert error_of(path, "vm[3].vcpus=2") == "vm[3].vcpus: there is no vm[3] to override"
    assert error_of(path, "novalue") == "novalue: an override must look like KEY=VALUE"


def test_deterministic_policy_requires_the_virtual_clock(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert error_of(path, "sched.policy=deterministic") == (
        'sched.clock: the deterministic policy needs clock = "virtual"'
    )
    cfg = config.load(path, ["sched.policy=deterministic", "sched.clock=virtual"])
    assert cfg.sched.policy == "deterministic"


def test_direct_boot_needs_a_kernel(tmp_path: Path) -> None:
    path = write(tmp_path, "version = 1\n[vm]\nvcpus = 2\n")
    assert error_of(path) == "vm.boot.kernel: required for direct boot"


def test_firmware_boot_of_a_kernel_defaults_to_debian_opensbi(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, 'version = 1\n[vm]\nboot.mode = "firmware"\nboot.kernel = "Image"\n')
    if config.DEBIAN_FW_DYNAMIC.is_file():
        assert config.load(path).vm[0].boot.firmware == config.DEBIAN_FW_DYNAMIC
    else:
        assert "fw_dynamic.bin does not exist" in error_of(path)


def test_too_many_virtio_devices_do_not_fit_the_board(tmp_path: Path, kernel: Path) -> None:
    disks = "".join(f'[[vm.nets]]\nswitch = "lan{i}"\n' for i in range(9))
    assert error_of(write(tmp_path, MINIMAL + disks)) == (
        "vm: 9 virtio devices do not fit the board's 8 virtio-mmio slots"
    )


def test_duplicate_vm_names_are_rejected(tmp_path: Path, kernel: Path) -> None:
    vm = '[[vm]]\nname="a"\nboot.kernel="Image"\n'
    text = "version = 1\n" + vm + vm
    assert error_of(write(tmp_path, text)) == 'vm[1].name: "a" is used by two VMs'


def test_bad_mac_is_rejected(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL + '[[vm.nets]]\nmac = "02:00:00:00:00"\n')
    assert error_of(path) == 'vm.nets[0].mac: "02:00:00:00:00" is not a MAC address'


def test_resolved_config_round_trips_to_plain_data(tmp_path: Path, kernel: Path) -> None:
    data = config.to_dict(config.load(write(tmp_path, MINIMAL + 'memory = "1GiB"\n')))
    assert data["vm"][0]["memory"] == "1GiB"
    assert data["vm"][0]["boot"]["kernel"] == str(kernel)
    assert data["version"] == 1


def test_a_disk_to_create_need_not_exist_yet(tmp_path: Path, kernel: Path) -> None:
    path = write(tmp_path, MINIMAL + '[[vm.disks]]\npath = "disk.img"\ncreate = "64MiB"\n')
    (disk,) = config.load(path).vm[0].disks
    assert disk.path == tmp_path / "disk.img"
    assert disk.create == 64 << 20
    assert not disk.path.exists()  # validation never creates anything


def test_a_disk_to_create_is_checked(tmp_path: Path, kernel: Path) -> None:
    base = MINIMAL + '[[vm.disks]]\npath = "{path}"\ncreate = "{size}"\n'
    odd = write(tmp_path, base.format(path="d.img", size="1000"))
    assert error_of(odd) == "vm.disks[0].create: 1000B is not a whole number of 512-byte sectors"
    nowhere = write(tmp_path, base.format(path="no/such/dir/d.img", size="1MiB"))
    assert error_of(nowhere) == (
        f"vm.disks[0].path: {tmp_path}/no/such/dir does not exist (cannot create the disk there)"
    )
    ro = write(tmp_path, base.format(path="d.img", size="1MiB") + "read_only = true\n")
    assert error_of(ro) == (
        "vm.disks[0].create: a disk avmm creates must be writable (read_only = false)"
    )


def _quick(kernel: Path, **vm: object) -> dict[str, object]:
    boot = vm.pop("boot", {"mode": "direct", "kernel": str(kernel)})
    return {"version": 1, "vm": {**vm, "boot": boot}}


@pytest.mark.parametrize(
    "vm",
    [
        {},
        {"vcpus": 4, "memory": "512MiB"},
        {"memory": "1GiB", "boot": {"mode": "firmware", "firmware": "Image", "cmdline": "x"}},
        {"boot": {"mode": "direct", "kernel": "Image", "initrd": "Image", "cmdline": "quiet"}},
    ],
)
def test_a_quick_launch_config_equals_the_same_dict_through_from_dict(
    tmp_path: Path, kernel: Path, vm: dict[str, object]
) -> None:
    # avmm run --kernel builds its config without cattrs (a start-up cost);
    # the result must be the config the general path makes of the same data.
    data = _quick(kernel, **vm)
    fast = config.quick_config(data, base=tmp_path)
    assert fast == config.from_dict(data, base=tmp_path)
    assert fast.vm[0].boot.kernel is None or fast.vm[0].boot.kernel.is_absolute()


@pytest.mark.parametrize(
    ("vm", "message"),
    [
        ({"vcpus": 0}, "vm.vcpus: 0 is out of range"),
        ({"memory": "12XB"}, 'vm.memory: "12XB" is not a size'),
        ({"memory": "8MiB"}, "vm.memory: 8MiB is less than the 16MiB minimum"),
        ({"boot": {"mode": "direct"}}, "vm.boot.kernel: required for direct boot"),
        ({"boot": {"mode": "direct", "kernel": "absent"}}, "vm.boot.kernel: "),
        ({"boot": {"mode": "sideways", "kernel": "Image"}}, "vm.boot.mode: "),
    ],
)
def test_a_bad_quick_launch_is_named_as_from_dict_names_it(
    tmp_path: Path, kernel: Path, vm: dict[str, object], message: str
) -> None:
    data = _quick(kernel, **vm)
    with pytest.raises(ConfigError) as fast:
        config.quick_config(data, base=tmp_path)
    with pytest.raises(ConfigError) as general:
        config.from_dict(data, base=tmp_path)
    assert str(fast.value) == str(general.value)
    assert str(fast.value).startswith(message)


def test_an_overlay_and_a_snapshot_to_restore_are_checked(tmp_path: Path, kernel: Path) -> None:
    (tmp_path / "base.img").write_bytes(bytes(4096))
    disk = MINIMAL + '[[vm.disks]]\npath = "base.img"\noverlay = "{overlay}"\n'
    good = write(tmp_path, disk.format(overlay="run.ovl"))
    (loaded,) = config.load(good).vm[0].disks
    assert loaded.overlay == tmp_path / "run.ovl"  # resolved; created when the VM is built
    ro = write(tmp_path, disk.format(overlay="run.ovl") + "read_only = true\n")
    assert error_of(ro) == (
        "vm.disks[0].overlay: an overlay takes the writes; drop read_only = true"
    )
    nowhere = write(tmp_path, disk.format(overlay="no/dir/run.ovl"))
    assert error_of(nowhere) == (
        f"vm.disks[0].overlay: {tmp_path}/no/dir does not exist (cannot create the file there)"
    )
    missing = write(tmp_path, MINIMAL.replace("[vm]", '[vm]\nrestore = "gone.snap"'))
    assert error_of(missing) == f"vm.restore: {tmp_path}/gone.snap does not exist"


def test_a_udp_link_needs_both_ends_and_no_switch(tmp_path: Path, kernel: Path) -> None:
    net = MINIMAL + "[[vm.nets]]\n{keys}\n"
    good = write(tmp_path, net.format(keys='listen = ":5000"\npeer = "127.0.0.1:5001"'))
    (loaded,) = config.load(good).vm[0].nets
    assert (loaded.listen, loaded.peer) == (":5000", "127.0.0.1:5001")
    half = write(tmp_path, net.format(keys='listen = ":5000"'))
    assert error_of(half) == "vm.nets[0].peer: a link needs both listen and peer"
    both = write(tmp_path, net.format(keys='listen = ":1"\npeer = ":2"\nswitch = "lan"'))
    assert error_of(both) == (
        "vm.nets[0].switch: a NIC is on a switch or on a link (listen/peer), not both"
    )
    bad = write(tmp_path, net.format(keys='listen = ":1"\npeer = "nowhere"'))
    assert error_of(bad) == 'vm.nets[0].peer: "nowhere" is not HOST:PORT (e.g. 127.0.0.1:5000)'
