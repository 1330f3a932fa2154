"""The catalogue of avmm's Prometheus metrics, and how a snapshot becomes samples.

:data:`METRICS` names every family avmm exports (its type, meaning and
labels); dashboards/README.md lists them. :func:`families` turns a
:class:`Snapshot` (plain data copied from the runtime, see
:mod:`avmm.obs.exporter`) into ``prometheus_client`` metric families.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import attrs
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from avmm import logs
from avmm.devices.base import Metric as DeviceMetric
from avmm.runtime.counters import SLICE_BUCKETS
from avmm.sbi import spec as sbi
from avmm.version import __version__

if TYPE_CHECKING:
    from avmm.runtime.host import HostStatistics
    from avmm.runtime.vcpu import VcpuStatistics
    from avmm.runtime.vm import VmStatistics

Kind = Literal["counter", "gauge", "histogram", "summary", "info"]


# ---------------------------------------------------------------- catalogue


@attrs.frozen
class MetricInfo:
    """One metric family: its name as Prometheus shows it, type, meaning, labels."""

    name: str  # counters end in _total
    kind: Kind
    help: str
    labels: tuple[str, ...]

    @property
    def sample_names(self) -> tuple[str, ...]:
        """The names its samples carry (what a PromQL expression may use)."""
        if self.kind == "histogram":
            return tuple(f"{self.name}{s}" for s in ("_bucket", "_sum", "_count"))
        if self.kind == "summary":  # no quantiles: only the sum and the count
            return (f"{self.name}_sum", f"{self.name}_count")
        if self.kind == "info":
            return (f"{self.name}_info",)
        return (self.name,)


_VM = ("vm",)
_VCPU = ("vm", "vcpu")
_DEV = ("vm", "device")
_PCPU = ("pcpu",)


def _m(name: str, kind: Kind, labels: tuple[str, ...], help: str) -> MetricInfo:
    return MetricInfo(name, kind, help, labels)


# fmt: off
METRICS: tuple[MetricInfo, ...] = (
    # ---- per vCPU (KVM's per-vCPU stats where one exists)
    _m("avmm_vcpu_instructions_total", "counter", _VCPU,
       "Instructions the vCPU retired (minstret)."),
    _m("avmm_vcpu_exits_total", "counter", (*_VCPU, "reason"),
       "Slices ended, by reason: the core's exits (budget, mmio_read, mmio_write, ecall, "
       "wfi, pause, debug, htif, ipi, internal_error) and interrupted (a stop, pause or "
       "host-signal request: KVM_EXIT_INTR)."),
    _m("avmm_vcpu_slices_total", "counter", _VCPU, "Slices the vCPU ran."),
    _m("avmm_vcpu_slice_duration_seconds", "histogram", _VCPU,
       "Host time of each slice, the exits completed in place included."),
    _m("avmm_vcpu_halt_wait_seconds_total", "counter", _VCPU,
       "Host time the vCPU slept in WFI or an HSM stop/suspend (KVM halt_wait_ns)."),
    _m("avmm_vcpu_halt_wakeups_total", "counter", _VCPU,
       "Wake-ups from such a sleep (KVM halt_wakeup)."),
    _m("avmm_vcpu_halted", "gauge", _VCPU, "1 while the vCPU waits in WFI or an HSM suspend."),
    _m("avmm_vcpu_signal_exits_total", "counter", _VCPU,
       "Runs ended by a host signal (KVM signal_exits)."),
    _m("avmm_vcpu_mmio_accesses_total", "counter", (*_VCPU, "path"),
       "Device accesses by path: fast (the in-core CLINT/PLIC, no exit; KVM "
       "mmio_exit_kernel), bus (an exit completed by a device model) or user (nothing "
       "mapped: returned to the caller of run(); KVM mmio_exit_user)."),
    _m("avmm_vcpu_pause_exits_total", "counter", _VCPU,
       "Pause-loop exits: slices ended early at a Zihintpause pause."),
    _m("avmm_vcpu_directed_yields_total", "counter", _VCPU,
       "IPIs the vCPU sent whose target was made to run next."),
    _m("avmm_vcpu_ipis_received_total", "counter", _VCPU,
       "IPIs received: SBI IPI calls and CLINT msip writes (in-core or Python)."),
    _m("avmm_vcpu_steal_seconds_total", "counter", _VCPU,
       "Guest time the vCPU was runnable but had no modelled pCPU (steal time, as SBI "
       "STA reports it to the guest; counted when the vCPU next gets a pCPU)."),
    _m("avmm_vcpu_yield_hints_total", "counter", _VCPU,
       "avmm SBI yield_to hints the vCPU made that were passed on to the scheduler."),
    _m("avmm_vcpu_interrupts_total", "counter", (*_VCPU, "irq"),
       "Interrupts the hart took, by cause (ssi, msi, sti, mti, sei, mei)."),
    _m("avmm_vcpu_exceptions_total", "counter", (*_VCPU, "reason"),
       "Exceptions the hart raised, by cause (illegal_instruction, load_page_fault, ...)."),
    _m("avmm_vcpu_sbi_calls_total", "counter", _VCPU, "SBI calls the VMM served for the vCPU."),
    _m("avmm_vcpu_htif_requests_total", "counter", _VCPU, "HTIF tohost requests."),
    _m("avmm_vcpu_remote_tlb_flushes_total", "counter", _VCPU,
       "Remote fences (SBI RFENCE) requested on the vCPU (KVM remote_tlb_flush)."),
    _m("avmm_vcpu_remote_fences_merged_total", "counter", _VCPU,
       "Remote fences merged into one whole-VMID flush: more were queued on a vCPU "
       "that did not run than the bound allows."),
    _m("avmm_vcpu_sfence_vma_total", "counter", _VCPU, "sfence.vma the guest executed."),
    _m("avmm_vcpu_l1_tlb_hits_total", "counter", _VCPU,
       "Accesses translated by the hart's own direct-mapped fast cache."),
    _m("avmm_vcpu_tlb_lookups_total", "counter", _VCPU,
       "Translations looked up in the pCPU's TLB (the fast cache missed)."),
    _m("avmm_vcpu_page_walks_total", "counter", _VCPU, "Page-table walks (the TLB missed)."),
    _m("avmm_vcpu_instructions_translated_total", "counter", _VCPU,
       "Instructions retired by translated code (the rest of avmm_vcpu_instructions_total "
       "ran in the interpreter)."),
    _m("avmm_vcpu_wfi_yields_total", "counter", _VCPU,
       "Slices ended by WFI-exiting: a WFI loop that could not sleep (an interrupt "
       "pending but masked) gave up its pCPU."),
    # ---- per VM
    _m("avmm_vm_vcpus", "gauge", _VM, "vCPUs of the VM."),
    _m("avmm_vm_memory_bytes", "gauge", _VM, "Guest RAM: the sum of the memory slots."),
    _m("avmm_vm_dirty_pages", "gauge", _VM,
       "4 KiB pages marked in the dirty logs and not yet collected (slots with logging on)."),
    _m("avmm_vm_vmid", "gauge", _VM, "The VM's current VMID."),
    _m("avmm_vm_vmid_generation", "gauge", _VM, "The VMID generation the VM's VMID belongs to."),
    _m("avmm_vm_guest_time_seconds", "gauge", _VM, "Guest time (the CLINT's mtime) in seconds."),
    _m("avmm_vm_clock_warps_total", "counter", _VM,
       "Virtual clock: jumps to the next deadline while every vCPU slept."),
    _m("avmm_vm_unmapped_mmio_total", "counter", _VM,
       "Guest accesses to unmapped device addresses (read as all-ones, writes dropped)."),
    _m("avmm_vm_guest_errors_total", "counter", _VM,
       "Guest programming errors counted by the VM and its bus."),
    _m("avmm_vm_device_work_total", "counter", _VM,
       "Background device work submitted (disk I/O, network delivery)."),
    _m("avmm_vm_jit_enabled", "gauge", _VM,
       "1 while the VM's core translates guest code (Machine.jit), 0 when interpreting."),
    _m("avmm_vm_jit_blocks_total", "counter", _VM, "Guest blocks translated to host code."),
    _m("avmm_vm_jit_code_bytes", "gauge", _VM,
       "Host code bytes in the translation cache (emptied by a flush)."),
    _m("avmm_vm_jit_translate_seconds_total", "counter", _VM,
       "Host time spent translating guest code."),
    _m("avmm_vm_jit_flushes_total", "counter", (*_VM, "reason"),
       "Translation cache flushes by reason: full, fence_i, smc (a store to translated "
       "code), host (a device or host write to code), reset."),
    _m("avmm_vm_migrations_total", "counter", _VM,
       "Live migrations of the VM out of this process that completed."),
    _m("avmm_vm_migration_sent_bytes_total", "counter", _VM,
       "Bytes those migrations sent: RAM pages over every pre-copy round, the state."),
    _m("avmm_vm_migration_downtime_seconds", "gauge", _VM,
       "The last migration's downtime: from stopping the vCPUs to the target's OK."),
    _m("avmm_vm_migration_rounds", "gauge", _VM,
       "The last migration's pre-copy rounds (the first full pass included)."),
    _m("avmm_sbi_calls_total", "counter", (*_VM, "ext"),
       "SBI calls by extension (base, time, ipi, rfence, hsm, srst, dbcn, sta, avmm, "
       "legacy_*; other for any unknown extension)."),
    _m("avmm_sbi_not_supported_total", "counter", (*_VM, "ext"),
       "SBI calls answered SBI_ERR_NOT_SUPPORTED, by extension."),
    _m("avmm_sbi_errors_total", "counter", (*_VM, "ext"),
       "Calls of offered SBI functions answered with an error (bad address, bad "
       "parameter, already registered, ...), by extension."),
    _m("avmm_irq_injections_total", "counter", (*_VM, "irq"),
       "Rising edges of each wired PLIC input line."),
    _m("avmm_mmio_accesses_total", "counter", (*_VM, "device", "path"),
       "Device accesses by device and path: fast (in-core CLINT/PLIC) or bus (device "
       "model after an exit)."),
    _m("avmm_mmio_bad_accesses_total", "counter", _DEV,
       "Bus accesses with a wrong width or crossing the device's end."),
    _m("avmm_console_bytes_total", "counter", (*_DEV, "direction"),
       "Console bytes: out of the guest (out) and into it (in); device vmm is the "
       "SBI/HTIF console the VMM serves."),
    _m("avmm_console_dropped_bytes_total", "counter", (*_DEV, "direction"),
       "Console bytes lost (full FIFO or backlog)."),
    _m("avmm_device_interrupts_total", "counter", _DEV,
       "Rising edges of a device model's interrupt line."),
    _m("avmm_device_guest_errors_total", "counter", _DEV,
       "Guest programming errors a device model counted and survived."),
    _m("avmm_virtio_requests_total", "counter", _DEV,
       "Buffers a virtio device returned to the guest (used ring entries)."),
    _m("avmm_virtio_notifications_total", "counter", _DEV, "Queue notifications from the guest."),
    _m("avmm_virtio_bytes_total", "counter", (*_DEV, "direction"),
       "Payload bytes a virtio device moved: in = to the guest (disk reads, received "
       "packets, console input, entropy), out = from the guest."),
    _m("avmm_virtio_resets_total", "counter", _DEV, "Device resets by the driver."),
    _m("avmm_virtio_failures_total", "counter", _DEV,
       "Times a device entered DEVICE_NEEDS_RESET (a broken queue)."),
    _m("avmm_virtio_net_packets_total", "counter", (*_DEV, "direction"),
       "Ethernet frames a virtio-net device moved (in = received by the guest)."),
    _m("avmm_virtio_net_dropped_packets_total", "counter", (*_DEV, "direction"),
       "Ethernet frames dropped (no buffer, backlog full, malformed)."),
    _m("avmm_virtio_blk_flushes_total", "counter", _DEV, "Flush requests of a virtio-blk disk."),
    _m("avmm_virtio_blk_errors_total", "counter", (*_DEV, "reason"),
       "virtio-blk requests that failed: io (host I/O error) or unsupported."),
    # ---- host: scheduler, pCPUs, TLBs, VMIDs, event bus
    _m("avmm_host", "info", (), "The host's version, scheduling policy and clock."),
    _m("avmm_scheduler_slice_instructions", "gauge", (), "The slice budget in instructions."),
    _m("avmm_scheduler_slices_total", "counter", (), "Slices granted by the scheduler."),
    _m("avmm_scheduler_directed_yields_total", "counter", (),
       "Grants that went to a directed-yield target (an IPI's receiver)."),
    _m("avmm_scheduler_dispatch_seconds_total", "counter", (),
       "Host time spent choosing and granting the next vCPU."),
    _m("avmm_scheduler_runqueue_length", "gauge", (), "vCPUs waiting for a pCPU now."),
    _m("avmm_scheduler_runnable_vcpus", "summary", (),
       "Runnable vCPUs (waiting or running) seen by each slice request; "
       "rate(_sum) / rate(_count) is the mean run-queue length."),
    _m("avmm_pcpu_slices_total", "counter", _PCPU, "Slices run on the pCPU."),
    _m("avmm_pcpu_instructions_total", "counter", _PCPU, "Instructions run on the pCPU."),
    _m("avmm_pcpu_rollover_flushes_total", "counter", _PCPU,
       "Whole-TLB flushes owed to a VMID generation rollover."),
    _m("avmm_pcpu_migration_flushes_total", "counter", _PCPU,
       "VMID flushes because another vCPU of the same VM ran on the pCPU last."),
    _m("avmm_tlb_hits_total", "counter", _PCPU, "Lookups that hit in the pCPU's TLB."),
    _m("avmm_tlb_misses_total", "counter", _PCPU, "Lookups that missed (a page walk follows)."),
    _m("avmm_tlb_flushes_total", "counter", (*_PCPU, "reason"),
       "TLB invalidations by what they drop: all, vmid, asid or page."),
    _m("avmm_tlb_valid_entries", "gauge", _PCPU, "Valid entries in the pCPU's TLB."),
    _m("avmm_vmid_width", "gauge", (), "VMID width (in bits)."),
    _m("avmm_vmid_generation", "gauge", (), "The VMID allocator's current generation."),
    _m("avmm_vmid_rollovers_total", "counter", (), "VMID generation rollovers."),
    _m("avmm_vmid_allocations_total", "counter", (), "VMIDs handed out."),
    _m("avmm_vmid_in_use", "gauge", (), "VMIDs handed out in the current generation."),
    _m("avmm_events_published_total", "counter", (), "Events published on the event bus."),
    _m("avmm_events_delivered_total", "counter", (), "Events queued for subscribers."),
    _m("avmm_events_dropped_total", "counter", (), "Events dropped at a full subscriber queue."),
    _m(
        "avmm_log_dropped_lines_total",
        "counter",
        (),
        "Log lines dropped because stderr (or the log file) did not take them in time.",
    ),
    _m("avmm_events_subscribers", "gauge", (), "Event-bus subscribers."),
    _m("avmm_listener_connections", "gauge", ("listener",),
       "Peers connected to an avmm listener now (metrics, console:VM, gdb:VM)."),
    _m("avmm_listener_accepted_total", "counter", ("listener",), "Peers a listener served."),
    _m("avmm_listener_refused_total", "counter", ("listener",),
       "Peers a listener closed at once: its connection limit was reached."),
    _m("avmm_listener_idle_closed_total", "counter", ("listener",),
       "Peers a listener closed for staying silent past its idle timeout."),
    _m("avmm_exporter_snapshot_seconds", "gauge", (),
       "Host time the last snapshot held the event loop."),
    _m("avmm_exporter_scrapes_total", "counter", (), "Scrapes answered (this one included)."),
    _m("avmm_exporter_stale_scrapes_total", "counter", (),
       "Scrapes served the previous snapshot because the event loop did not answer."),
)
# fmt: on
BY_NAME: dict[str, MetricInfo] = {m.name: m for m in METRICS}

# Names of the process collector's samples (prometheus_client, Linux).
PROCESS_METRICS = (
    "process_cpu_seconds_total",
    "process_max_fds",
    "process_open_fds",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_virtual_memory_bytes",
)

_EXCEPTIONS = {
    0: "instruction_misaligned",
    1: "instruction_access_fault",
    2: "illegal_instruction",
    3: "breakpoint",
    4: "load_misaligned",
    5: "load_access_fault",
    6: "store_misaligned",
    7: "store_access_fault",
    8: "ecall_u",
    9: "ecall_s",
    11: "ecall_m",
    12: "instruction_page_fault",
    13: "load_page_fault",
    15: "store_page_fault",
}
_INTERRUPTS = {1: "ssi", 3: "msi", 5: "sti", 7: "mti", 9: "sei", 11: "mei"}
_SBI_EXTENSIONS = {
    sbi.EXT_BASE: "base",
    sbi.EXT_TIME: "time",
    sbi.EXT_IPI: "ipi",
    sbi.EXT_RFENCE: "rfence",
    sbi.EXT_HSM: "hsm",
    sbi.EXT_SRST: "srst",
    sbi.EXT_DBCN: "dbcn",
    sbi.EXT_PMU: "pmu",
    sbi.EXT_STA: "sta",
    sbi.EXT_AVMM: "avmm",
    sbi.LEGACY_SET_TIMER: "legacy_set_timer",
    sbi.LEGACY_CONSOLE_PUTCHAR: "legacy_console_putchar",
    sbi.LEGACY_CONSOLE_GETCHAR: "legacy_console_getchar",
    sbi.LEGACY_CLEAR_IPI: "legacy_clear_ipi",
    sbi.LEGACY_SEND_IPI: "legacy_send_ipi",
    sbi.LEGACY_REMOTE_FENCE_I: "legacy_remote_fence_i",
    sbi.LEGACY_REMOTE_SFENCE_VMA: "legacy_remote_sfence_vma",
    sbi.LEGACY_REMOTE_SFENCE_VMA_ASID: "legacy_remote_sfence_vma_asid",
    sbi.LEGACY_SHUTDOWN: "legacy_shutdown",
}


_JIT_FLUSH_CAUSES = ("full", "fence_i", "smc", "host", "reset")


def sbi_extension_name(eid: int) -> str:
    """The ``ext`` label of an SBI extension id; the guest chooses ids, so every
    unknown one shares the label ``other`` (bounded cardinality)."""
    return _SBI_EXTENSIONS.get(eid, "other")


# ---------------------------------------------------------------- snapshots


@attrs.frozen
class DeviceReading:
    """A copy of one :class:`DeviceStats` taken on the loop thread."""

    vm: str
    device: str
    values: dict[str, int]
    # stats field -> the families it feeds: the stats type's own METRICS
    metrics: Mapping[str, tuple[DeviceMetric, ...]] = attrs.field(factory=dict)


@attrs.frozen
class VmExtras:
    """What a VM's ``statistics()`` does not carry."""

    name: str
    memory_bytes: int
    dirty_pages: int
    timebase_hz: int
    halted: tuple[bool, ...]  # per vCPU


@attrs.frozen
class Snapshot:
    """Everything a scrape reports, copied at one slice boundary."""

    host: HostStatistics
    vms: tuple[VmExtras, ...]
    devices: tuple[DeviceReading, ...]
    seconds: float  # host time taking it
    listeners: tuple[ListenerReading, ...] = ()


@attrs.frozen
class ListenerReading:
    """One listener's connection counters (a ``ConnectionGate``'s), copied."""

    name: str
    active: int
    accepted: int
    refused: int
    idle_closed: int


# ---------------------------------------------------------------- families


class _Families:
    """Metric families of the catalogue, filled sample by sample.

    Counter and gauge values with the same labels add up: two stats records
    of one device (a virtio transport's and its device's) may both count,
    e.g., guest errors, and a series must appear once.
    """

    def __init__(self) -> None:
        self._fams = {info.name: new_family(info) for info in METRICS}
        self._values: dict[str, dict[tuple[str, ...], float]] = {}

    def add(self, name: str, labels: Sequence[str], value: float) -> None:
        assert BY_NAME[name].kind in ("counter", "gauge"), name
        series = self._values.setdefault(name, {})
        key = tuple(labels)
        series[key] = series.get(key, 0) + value

    def family(self, name: str) -> Metric:
        return self._fams[name]

    def __iter__(self) -> Iterator[Metric]:
        for name, fam in self._fams.items():
            for labels, value in self._values.get(name, {}).items():
                assert isinstance(fam, CounterMetricFamily | GaugeMetricFamily)
                fam.add_metric(labels, value)
            yield fam


def new_family(info: MetricInfo) -> Metric:
    labels = list(info.labels)
    if info.kind == "counter":
        return CounterMetricFamily(info.name, info.help, labels=labels)
    if info.kind == "gauge":
        return GaugeMetricFamily(info.name, info.help, labels=labels)
    if info.kind == "histogram":
        return HistogramMetricFamily(info.name, info.help, labels=labels)
    if info.kind == "summary":
        return SummaryMetricFamily(info.name, info.help, labels=labels)
    return InfoMetricFamily(info.name, info.help, labels=labels)


_BUCKET_BOUNDS = [repr(b) for b in SLICE_BUCKETS] + ["+Inf"]  # "1e-06", ..., "0.01"


def families(snap: Snapshot, *, scrapes: int = 0, stale_scrapes: int = 0) -> Iterator[Metric]:
    """The catalogue's families with the samples of ``snap``."""
    f = _Families()
    host = snap.host
    extras = {v.name: v for v in snap.vms}
    for vm in host.vms:
        _vm_samples(f, vm, extras[vm.name])
    _device_samples(f, snap.devices)
    info = f.family("avmm_host")
    assert isinstance(info, InfoMetricFamily)
    info.add_metric([], {"version": __version__, "policy": host.policy, "clock": host.clock})
    f.add("avmm_scheduler_slice_instructions", [], host.slice)
    s = host.scheduler
    f.add("avmm_scheduler_slices_total", [], s.slices)
    f.add("avmm_scheduler_directed_yields_total", [], s.directed_yields)
    f.add("avmm_scheduler_dispatch_seconds_total", [], s.dispatch_seconds)
    f.add("avmm_scheduler_runqueue_length", [], s.ready)
    runnable = f.family("avmm_scheduler_runnable_vcpus")
    assert isinstance(runnable, SummaryMetricFamily)
    runnable.add_metric([], count_value=s.requests, sum_value=s.runnable_sum)
    for p in host.pcpus:
        pcpu = [str(p.index)]
        f.add("avmm_pcpu_slices_total", pcpu, p.slices)
        f.add("avmm_pcpu_instructions_total", pcpu, p.instructions)
        f.add("avmm_pcpu_rollover_flushes_total", pcpu, p.rollover_flushes)
        f.add("avmm_pcpu_migration_flushes_total", pcpu, p.migration_flushes)
        f.add("avmm_tlb_hits_total", pcpu, p.tlb["hits"])
        f.add("avmm_tlb_misses_total", pcpu, p.tlb["misses"])
        for scope in ("all", "vmid", "asid", "page"):
            f.add("avmm_tlb_flushes_total", [*pcpu, scope], p.tlb[f"flush_{scope}"])
        f.add("avmm_tlb_valid_entries", pcpu, p.tlb["entries_valid"])
    v = host.vmids
    f.add("avmm_vmid_width", [], v.bits)
    f.add("avmm_vmid_generation", [], v.generation)
    f.add("avmm_vmid_rollovers_total", [], v.rollovers)
    f.add("avmm_vmid_allocations_total", [], v.allocations)
    f.add("avmm_vmid_in_use", [], v.in_use)
    e = host.events
    f.add("avmm_events_published_total", [], e.published)
    f.add("avmm_events_delivered_total", [], e.delivered)
    f.add("avmm_events_dropped_total", [], e.dropped)
    f.add("avmm_log_dropped_lines_total", [], logs.dropped())
    f.add("avmm_events_subscribers", [], e.subscribers)
    for li in snap.listeners:
        f.add("avmm_listener_connections", [li.name], li.active)
        f.add("avmm_listener_accepted_total", [li.name], li.accepted)
        f.add("avmm_listener_refused_total", [li.name], li.refused)
        f.add("avmm_listener_idle_closed_total", [li.name], li.idle_closed)
    f.add("avmm_exporter_snapshot_seconds", [], snap.seconds)
    f.add("avmm_exporter_scrapes_total", [], scrapes)
    f.add("avmm_exporter_stale_scrapes_total", [], stale_scrapes)
    return iter(f)


def _vm_samples(f: _Families, vm: VmStatistics, extra: VmExtras) -> None:
    name = vm.name
    f.add("avmm_vm_vcpus", [name], len(vm.vcpus))
    f.add("avmm_vm_memory_bytes", [name], extra.memory_bytes)
    f.add("avmm_vm_dirty_pages", [name], extra.dirty_pages)
    f.add("avmm_vm_vmid", [name], vm.vmid)
    f.add("avmm_vm_vmid_generation", [name], vm.vmid_generation)
    f.add("avmm_vm_guest_time_seconds", [name], vm.time / extra.timebase_hz)
    f.add("avmm_vm_clock_warps_total", [name], vm.warps)
    f.add("avmm_vm_unmapped_mmio_total", [name], vm.unmapped_mmio)
    f.add("avmm_vm_guest_errors_total", [name], vm.guest_errors)
    f.add("avmm_vm_device_work_total", [name], vm.device_work)
    moved = vm.migrations
    f.add("avmm_vm_migrations_total", [name], moved.migrations)
    f.add("avmm_vm_migration_sent_bytes_total", [name], moved.bytes_sent)
    f.add("avmm_vm_migration_downtime_seconds", [name], moved.last_downtime)
    f.add("avmm_vm_migration_rounds", [name], moved.last_rounds)
    jit = vm.jit
    f.add("avmm_vm_jit_enabled", [name], int(vm.jit_on))
    f.add("avmm_vm_jit_blocks_total", [name], cast(int, jit.get("blocks", 0)))
    f.add("avmm_vm_jit_code_bytes", [name], cast(int, jit.get("code_bytes", 0)))
    f.add(
        "avmm_vm_jit_translate_seconds_total", [name], cast(int, jit.get("translate_ns", 0)) / 1e9
    )
    flushes = dict.fromkeys(_JIT_FLUSH_CAUSES, 0) | _counts(jit.get("flushes", {}))
    for cause, n in sorted(flushes.items()):
        f.add("avmm_vm_jit_flushes_total", [name, str(cause)], n)
    for family, counts in (
        ("avmm_sbi_calls_total", vm.sbi_calls),
        ("avmm_sbi_not_supported_total", vm.sbi_not_supported),
        ("avmm_sbi_errors_total", vm.sbi_errors),
    ):
        # Every known extension has a series from the start (0 until called).
        by_ext = dict.fromkeys([*_SBI_EXTENSIONS.values(), "other"], 0)
        for eid, n in counts.items():
            ext = sbi_extension_name(eid)
            by_ext[ext] = by_ext.get(ext, 0) + n
        for ext, n in sorted(by_ext.items()):
            f.add(family, [name, ext], n)
    for source, n in sorted(vm.irq_injections.items()):
        f.add("avmm_irq_injections_total", [name, str(source)], n)
    f.add("avmm_console_bytes_total", [name, "vmm", "out"], vm.console_tx_bytes)
    f.add("avmm_console_bytes_total", [name, "vmm", "in"], vm.console_rx_bytes)
    f.add("avmm_console_dropped_bytes_total", [name, "vmm", "in"], vm.console_rx_dropped)
    f.add("avmm_console_dropped_bytes_total", [name, "host", "out"], vm.console_host_dropped)
    f.add("avmm_console_bytes_total", [name, "host", "in"], vm.console_host_in)
    for d in vm.bus.devices:
        f.add("avmm_mmio_accesses_total", [name, d.name, "bus"], d.reads + d.writes)
        f.add("avmm_mmio_bad_accesses_total", [name, d.name], d.bad_accesses)
    fast = {"clint": 0, "plic": 0}
    for c, halted in zip(vm.vcpus, extra.halted, strict=True):
        _vcpu_samples(f, c, halted, fast)
    if vm.irqchip == "core":
        for device, n in fast.items():
            f.add("avmm_mmio_accesses_total", [name, device, "fast"], n)


def _vcpu_samples(f: _Families, c: VcpuStatistics, halted: bool, fast: dict[str, int]) -> None:
    lv = [c.vm, str(c.vcpu)]
    core = c.core
    f.add("avmm_vcpu_instructions_total", lv, c.instret)
    for reason, n in c.exits.items():
        f.add("avmm_vcpu_exits_total", [*lv, reason], n)
    f.add("avmm_vcpu_slices_total", lv, c.slices)
    hist = f.family("avmm_vcpu_slice_duration_seconds")
    assert isinstance(hist, HistogramMetricFamily)
    cumulative, buckets = 0, []
    for bound, n in zip(_BUCKET_BOUNDS, c.slice_buckets, strict=True):
        cumulative += n
        buckets.append((bound, cumulative))
    hist.add_metric(lv, buckets, sum_value=c.slice_seconds)
    f.add("avmm_vcpu_halt_wait_seconds_total", lv, c.halt_wait_seconds)
    f.add("avmm_vcpu_halt_wakeups_total", lv, c.halt_wakeups)
    f.add("avmm_vcpu_halted", lv, int(halted))
    f.add("avmm_vcpu_signal_exits_total", lv, c.signal_exits)
    mmio_fast = _counts(core["mmio_fast"])
    f.add("avmm_vcpu_mmio_accesses_total", [*lv, "fast"], sum(mmio_fast.values()))
    f.add("avmm_vcpu_mmio_accesses_total", [*lv, "bus"], c.mmio_exits_bus)
    f.add("avmm_vcpu_mmio_accesses_total", [*lv, "user"], c.mmio_exits_user)
    for device in fast:
        fast[device] += mmio_fast[device]
    f.add("avmm_vcpu_pause_exits_total", lv, c.pause_exits)
    f.add("avmm_vcpu_directed_yields_total", lv, c.directed_yields)
    f.add("avmm_vcpu_ipis_received_total", lv, c.ipis)
    f.add("avmm_vcpu_steal_seconds_total", lv, c.steal_seconds)
    f.add("avmm_vcpu_yield_hints_total", lv, c.yield_hints)
    # Known causes have series from the start; the core reports only those seen.
    for family, key, names in (
        ("avmm_vcpu_interrupts_total", "interrupts", _INTERRUPTS),
        ("avmm_vcpu_exceptions_total", "exceptions", _EXCEPTIONS),
    ):
        seen = _counts(core[key])
        for cause in sorted(names.keys() | seen.keys()):
            f.add(family, [*lv, names.get(cause, f"cause{cause}")], seen.get(cause, 0))
    f.add("avmm_vcpu_sbi_calls_total", lv, c.sbi_calls)
    f.add("avmm_vcpu_htif_requests_total", lv, c.htif_requests)
    f.add("avmm_vcpu_remote_tlb_flushes_total", lv, c.remote_tlb_flushes)
    f.add("avmm_vcpu_remote_fences_merged_total", lv, c.remote_fences_merged)
    for family, key in (
        ("avmm_vcpu_sfence_vma_total", "sfence"),
        ("avmm_vcpu_l1_tlb_hits_total", "tlb_l1_hits"),
        ("avmm_vcpu_tlb_lookups_total", "tlb_lookups"),
        ("avmm_vcpu_page_walks_total", "page_walks"),
        ("avmm_vcpu_wfi_yields_total", "wfi_yields"),
    ):
        f.add(family, lv, cast(int, core[key]))
    f.add("avmm_vcpu_instructions_translated_total", lv, cast(int, core["jit_insns"]))


def _counts(value: object) -> dict[Any, int]:
    # Hart.stats() nests plain {key: int} dicts; typed as object by the stub.
    return cast("dict[Any, int]", value)


def _device_samples(f: _Families, readings: Iterable[DeviceReading]) -> None:
    """Every device's counters, as its stats type's METRICS declares them; every
    record's interrupts and guest errors feed the common device families."""
    for r in readings:
        lv = [r.vm, r.device]
        if "interrupts" in r.values:
            f.add("avmm_device_interrupts_total", lv, r.values["interrupts"])
        if "guest_errors" in r.values:
            f.add("avmm_device_guest_errors_total", lv, r.values["guest_errors"])
        for field, metrics in r.metrics.items():
            if field in r.values:
                for family, extra in metrics:
                    f.add(family, [*lv, *extra], r.values[field])
