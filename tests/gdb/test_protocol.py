"""The remote protocol at the byte level, against a guest that keeps running
(``spin`` counts in ``ticks``): what gdb sends, and what it never would."""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import pytest

from avmm.errors import ConfigError
from avmm.gdb.packets import Ack, BadPacket, Interrupt, Packet, PacketReader, escape, unescape
from avmm.gdb.server import Listen
from tests.gdb.gdbrig import Avmm, Rsp, closed_by_peer

TICKS = 0x8000_1020  # the `ticks` variable of prog.S (.data at 0x80001000)


@pytest.fixture
def running(spin: Path, tmp_path: Path) -> Avmm:
    avmm = Avmm(["--kernel", str(spin), "--gdb", "127.0.0.1:0"], tmp_path)
    yield avmm
    avmm.kill()


def ticks(rsp: Rsp) -> int:
    return struct.unpack("<Q", bytes.fromhex(rsp.ask(b"m%x,8" % TICKS).decode()))[0]


TIME_REG = 65 + 0xC01  # the `time` CSR in the target description's numbering


def guest_time(rsp: Rsp) -> int:
    return struct.unpack("<Q", bytes.fromhex(rsp.ask(b"p%x" % TIME_REG).decode()))[0]


def test_guest_time_stands_still_while_the_vm_is_stopped(running: Avmm) -> None:
    """As QEMU stops its virtual clock for a debugger: a thread gdb resumes on its own
    (software single-step over a breakpoint) must not first take the timer interrupts
    of the time the user spent looking (a Linux tick handler can then wait forever
    for a stopped vCPU)."""
    rsp = Rsp(*running.host_port())
    try:
        stopped = guest_time(rsp)
        time.sleep(0.3)  # 3,000,000 ticks of host time at 10 MHz
        assert guest_time(rsp) == stopped
        rsp.send(b"vCont;c")
        time.sleep(0.3)
        rsp.send_raw(b"\x03")
        assert rsp.reply() == b"T02thread:1;"
        ran = guest_time(rsp) - stopped
        assert ran > 0  # time passes while the VM runs
        time.sleep(0.3)
        assert guest_time(rsp) == stopped + ran  # and stands still again
        assert rsp.ask(b"vCont;s:1") == b"T05thread:1;"
        assert guest_time(rsp) - (stopped + ran) < 0.1 * ran  # a step is not 0.3 s
        assert rsp.ask(b"D") == b"OK"
    finally:
        rsp.close()


def test_reader_frames_acks_interrupts_and_rejects_bad_packets() -> None:
    reader = PacketReader(max_size=16)
    items = list(reader.feed(b"+-\x03junk$qC#b4$qC#00$" + b"x" * 40 + b"#00$m1,2#fc"))
    assert items == [
        Ack(True),
        Ack(False),
        Interrupt(),
        Packet(b"qC"),
        BadPacket("bad checksum"),
        BadPacket("packet too long"),
        Packet(b"m1,2"),
    ]
    assert list(reader.feed(b"$0*\x22#%02x" % (sum(b"0*\x22") & 0xFF))) == [Packet(b"000000")]
    assert unescape(escape(b"a$b#c}d*e")) == b"a$b#c}d*e"


def test_reader_survives_random_bytes_with_a_bounded_buffer() -> None:
    rnd = random.Random(5)
    reader = PacketReader(max_size=64)
    alphabet = b"$#}*+-\x03abc0123456789"
    for _ in range(2000):
        chunk = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(1, 200)))
        for item in reader.feed(chunk):
            assert isinstance(item, Packet | BadPacket | Ack | Interrupt)
            if isinstance(item, Packet):
                assert len(item.data) <= 64 * 100  # run-length expansion of at most 64 bytes
        assert len(reader._buf) <= 64 + 3


def test_listen_addresses() -> None:
    assert Listen.parse("1234") == Listen("127.0.0.1", 1234)
    assert Listen.parse(":1234") == Listen("127.0.0.1", 1234)
    assert Listen.parse("0.0.0.0:99") == Listen("0.0.0.0", 99)
    assert str(Listen.parse("unix:/tmp/s")) == "unix:/tmp/s"
    with pytest.raises(ConfigError, match=r"gdb\.listen"):
        Listen.parse("host:port")


def test_handshake_threads_target_xml_registers_and_no_ack_mode(running: Avmm) -> None:
    rsp = Rsp(*running.host_port())
    try:
        features = rsp.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386")
        assert b"PacketSize=4000" in features and b"qXfer:features:read+" in features
        assert b"vContSupported+" in features and b"QStartNoAckMode+" in features
        assert rsp.ask(b"?") == b"T05thread:1;"
        assert rsp.ask(b"qfThreadInfo") == b"m1" and rsp.ask(b"qsThreadInfo") == b"l"
        assert rsp.ask(b"qC") == b"QC1" and rsp.ask(b"qAttached") == b"1"
        assert rsp.ask(b"qOffsets") == b"Text=0;Data=0;Bss=0"
        assert rsp.ask(b"vCont?") == b"vCont;c;C;s;S;t"
        assert rsp.ask(b"T1") == b"OK" and rsp.ask(b"T2") == b"E01"
        assert rsp.ask(b"Hg1") == b"OK" and rsp.ask(b"Hg5") == b"E01"
        xml = b""
        while True:
            part = rsp.ask(b"qXfer:features:read:target.xml:%x,200" % len(xml))
            xml += part[1:]
            if part[:1] == b"l":
                break
        assert b"<architecture>riscv:rv64</architecture>" in xml
        for feature in (b"riscv.cpu", b"riscv.fpu", b"riscv.csr", b"riscv.virtual"):
            assert b"org.gnu.gdb." + feature in xml
        assert rsp.ask(b"qXfer:features:read:other.xml:0,100") == b"E00"
        g = rsp.ask(b"g")
        assert len(g) == 33 * 16  # x0..x31, pc; the rest with p
        pc = int.from_bytes(bytes.fromhex(g[-16:].decode()), "little")
        assert 0x8000_0000 <= pc < 0x8000_1000
        assert rsp.ask(b"p%x" % (65 + 0x301)).endswith(b"0080")  # misa: MXL = 2
        assert rsp.ask(b"p1041") == b"0300000000000000"  # priv: M
        assert rsp.ask(b"p9999") == b"E45"
        assert rsp.ask(b"P5=2a00000000000000") == b"OK" and rsp.ask(b"p5") == b"2a" + b"0" * 14
        assert rsp.ask(b"m0,4") == b"E14"  # nothing there
        assert rsp.ask(b"QStartNoAckMode") == b"OK"
        rsp.send(b"qC")
        assert rsp.reply() == b"QC1"
        assert rsp.buf == b""
        rsp.send_raw(b"$qC#00")  # a bad checksum is not answered without acks
        assert rsp.ask(b"qAttached") == b"1"
    finally:
        rsp.close()


def test_continue_interrupt_step_and_detach(running: Avmm) -> None:
    rsp = Rsp(*running.host_port())
    try:
        before = ticks(rsp)
        time.sleep(0.2)
        assert ticks(rsp) == before  # stopped while a client is attached
        rsp.send(b"vCont;c")
        time.sleep(0.3)
        rsp.send_raw(b"\x03")
        assert rsp.reply() == b"T02thread:1;"
        after = ticks(rsp)
        assert after > before
        pc = rsp.ask(b"p20")
        assert rsp.ask(b"vCont;s:1") == b"T05thread:1;"
        assert rsp.ask(b"p20") != pc
        assert rsp.ask(b"s") == b"T05thread:1;"
        assert rsp.ask(b"vCont;x") == b"E01"
        assert rsp.ask(b"D") == b"OK"
    finally:
        rsp.close()
    assert running.proc.poll() is None  # detached: the VM runs on
    second = Rsp.attach(*running.host_port())
    try:
        assert ticks(second) > after
        assert second.ask(b"qRcmd," + b"exits".hex().encode())
        text = bytes.fromhex(second.ask(b"qRcmd," + b"phys 0x80001020 8".hex().encode()).decode())
        assert text.decode().startswith("0000000080001020  ")
        help_text = bytes.fromhex(second.ask(b"qRcmd," + b"help".hex().encode()).decode())
        assert b"device NAME" in help_text
        assert b"uart" in bytes.fromhex(second.ask(b"qRcmd," + b"device".hex().encode()).decode())
        second.send(b"k")
    finally:
        second.close()
    assert running.finish() == 0


def test_random_and_malformed_packets_never_crash_or_hang_the_vm(running: Avmm) -> None:
    rnd = random.Random(11)
    commands = [b"?", b"g", b"p", b"m", b"Z0", b"z0", b"Z2", b"z2", b"Z9", b"H", b"T", b"q",
                b"qXfer:features:read:", b"qRcmd,", b"qThreadExtraInfo,", b"vCont;", b"vCont?",
                b"c", b"s", b"C", b"S", b"D", b"Q", b"v", b"X", b""]  # fmt: skip
    host, port = running.host_port()
    for _conn in range(6):
        rsp = Rsp(host, port)
        rsp.sock.settimeout(10)
        try:
            for _ in range(60):
                kind = rnd.random()
                if kind < 0.15:
                    rsp.send_raw(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 64))))
                    continue
                head = rnd.choice(commands)
                tail = bytes(
                    rnd.choice(b"0123456789abcdef,:;=-xp.") for _ in range(rnd.randint(0, 40))
                )
                payload = head + tail
                if kind < 0.25:
                    rsp.send_raw(b"$" + payload + b"#zz")  # bad checksum
                elif kind < 0.3:
                    rsp.send(b"M" + b"0" * 40000)  # too long
                elif kind < 0.35:
                    rsp.send_raw(b"\x03")
                else:
                    rsp.send(payload)
                    if payload[:1] in (b"c", b"s", b"C", b"S") or payload.startswith(b"vCont;"):
                        rsp.send_raw(b"\x03")  # whatever ran, stop it again
        except (ConnectionError, OSError):
            pass  # the server hung up (a D, or the previous session still closing)
        finally:
            rsp.close()
    time.sleep(0.5)
    assert running.proc.poll() is None, running.stderr
    # a sane client afterwards finds a VM that still runs
    rsp = Rsp.attach(host, port)
    try:
        first = ticks(rsp)
        rsp.send(b"vCont;c")
        time.sleep(0.2)
        rsp.send_raw(b"\x03")
        while not rsp.reply().startswith(b"T02"):
            pass
        assert ticks(rsp) > first
    finally:
        rsp.close()
    assert "Traceback" not in running.stderr, running.stderr
    assert "session failed" not in running.stderr, running.stderr


def test_an_idle_client_is_dropped_and_the_vm_runs_on(spin: Path, tmp_path: Path) -> None:
    avmm = Avmm(
        ["--kernel", str(spin), "--gdb", "127.0.0.1:0", "--set", "vm[0].gdb.idle_timeout=0.5"],
        tmp_path,
    )
    try:
        rsp = Rsp(*avmm.host_port())
        first = ticks(rsp)
        assert closed_by_peer(rsp.sock, guard=10)
        rsp.close()
        again = Rsp.attach(*avmm.host_port())
        assert ticks(again) > first
        again.close()
        assert "idle for 0.5s: dropped" in avmm.stderr
    finally:
        avmm.kill()


def test_stepping_one_vcpu_leaves_the_others_stopped(spin: Path, tmp_path: Path) -> None:
    avmm = Avmm(["--kernel", str(spin), "--vcpus", "2", "--gdb", "127.0.0.1:0"], tmp_path)
    try:
        rsp = Rsp(*avmm.host_port())
        assert rsp.ask(b"qfThreadInfo") == b"m1,2"
        assert rsp.ask(b"Hg2") == b"OK"
        other = rsp.ask(b"p20")
        assert rsp.ask(b"Hg1") == b"OK"
        mine = rsp.ask(b"p20")
        for _ in range(5):
            assert rsp.ask(b"vCont;s:1") == b"T05thread:1;"
        assert rsp.ask(b"p20") != mine
        assert rsp.ask(b"Hg2") == b"OK" and rsp.ask(b"p20") == other
        assert rsp.ask(b"vCont;s:2;c") == b"T05thread:2;"  # gdb asks for the others too
        assert rsp.ask(b"qThreadExtraInfo,2") == b"vcpu1 M-mode started".hex().encode()
        rsp.send(b"k")
        rsp.close()
        assert avmm.finish() == 0
    finally:
        avmm.kill()
