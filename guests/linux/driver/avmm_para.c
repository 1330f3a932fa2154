// SPDX-License-Identifier: GPL-2.0-only
/*
 * avmm para-state pages: the guest side of avmm's own SBI extension
 * (0x0A766D6D; the avmm README, "The avmm SBI extension", is its spec).
 *
 * Built into the avmm Linux guest (guests/linux/kernel.py copies it into
 * arch/riscv/kernel/). When BASE probes the extension, every CPU, as it comes
 * online, first offers a page with a guest version newer than the host's and
 * checks the refusal (the error in a0 and in the record, the host's version
 * written back), then registers the page with the version it speaks and reads
 * the record back under its sequence counter: the hartid must be its own.
 * It prints one line per CPU and a verdict:
 *   avmm-para: cpu0 vcpu 0 pcpu 1 vmid 1 generation 1 host version 1
 *   avmm-para: ok cpus=4          (or: avmm-para: FAIL <what>)
 * Without the extension (QEMU, firmware boot) it prints nothing.
 */
#define pr_fmt(fmt) "avmm-para: " fmt

#include <linux/atomic.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/printk.h>
#include <linux/types.h>

#include <asm/barrier.h>
#include <asm/page.h>
#include <asm/sbi.h>
#include <asm/smp.h>

#define SBI_EXT_AVMM 0x0A766D6D
#define AVMM_REGISTER 1
#define AVMM_DEREGISTER 2
#define AVMM_GUEST_VERSION 1

struct avmm_para {
	u32 guest_version;
	u32 size;
	u32 host_version;
	s32 ret;
	u32 sequence;
	u32 vcpu;
	u32 pcpu;
	u32 flags;
	u64 vmid;
	u64 generation;
	u64 exits;
	u64 slices;
	u64 steal_ns;
	u64 yields;
};

static DEFINE_PER_CPU(struct avmm_para *, avmm_page);
static long avmm_host_version;
static atomic_t avmm_registered = ATOMIC_INIT(0);
static atomic_t avmm_failed = ATOMIC_INIT(0);

static struct sbiret avmm_register(struct avmm_para *p)
{
	return sbi_ecall(SBI_EXT_AVMM, AVMM_REGISTER, __pa(p), 0, 0, 0, 0, 0);
}

static int avmm_fail(unsigned int cpu, const char *what, long got)
{
	pr_err("FAIL cpu%u %s (got %ld)\n", cpu, what, got);
	atomic_inc(&avmm_failed);
	return 0; /* a CPU comes online whatever the page says */
}

static int avmm_para_online(unsigned int cpu)
{
	struct avmm_para *p = per_cpu(avmm_page, cpu);
	struct sbiret ret;
	u32 seq, vcpu, pcpu;
	u64 vmid, generation;

	if (!p) {
		p = (struct avmm_para *)get_zeroed_page(GFP_KERNEL);
		if (!p)
			return avmm_fail(cpu, "no page", 0);
		per_cpu(avmm_page, cpu) = p;
	}
	/* A guest newer than the host is refused, in a0 and in the record. */
	WRITE_ONCE(p->guest_version, avmm_host_version + 1);
	WRITE_ONCE(p->size, PAGE_SIZE);
	ret = avmm_register(p);
	if (ret.error != SBI_ERR_NOT_SUPPORTED)
		return avmm_fail(cpu, "newer version not refused", ret.error);
	if (READ_ONCE(p->ret) != SBI_ERR_NOT_SUPPORTED)
		return avmm_fail(cpu, "refusal not in the record", READ_ONCE(p->ret));
	if (READ_ONCE(p->host_version) != avmm_host_version)
		return avmm_fail(cpu, "host version not written back", READ_ONCE(p->host_version));
	/* The version we speak is accepted. */
	WRITE_ONCE(p->guest_version, AVMM_GUEST_VERSION);
	ret = avmm_register(p);
	if (ret.error)
		return avmm_fail(cpu, "register", ret.error);
	if (ret.value != avmm_host_version || READ_ONCE(p->ret) != 0)
		return avmm_fail(cpu, "handshake", READ_ONCE(p->ret));
	do {
		seq = READ_ONCE(p->sequence);
		virt_rmb();
		vcpu = READ_ONCE(p->vcpu);
		pcpu = READ_ONCE(p->pcpu);
		vmid = READ_ONCE(p->vmid);
		generation = READ_ONCE(p->generation);
		virt_rmb();
	} while ((seq & 1) || seq != READ_ONCE(p->sequence));
	if (vcpu != cpuid_to_hartid_map(cpu))
		return avmm_fail(cpu, "vcpu is not our hartid", vcpu);
	if (generation == 0)
		return avmm_fail(cpu, "no VMID generation", 0);
	pr_info("cpu%u vcpu %u pcpu %u vmid %llu generation %llu host version %u\n", cpu, vcpu,
		pcpu, vmid, generation, READ_ONCE(p->host_version));
	atomic_inc(&avmm_registered);
	return 0;
}

static int avmm_para_offline(unsigned int cpu)
{
	sbi_ecall(SBI_EXT_AVMM, AVMM_DEREGISTER, 0, 0, 0, 0, 0, 0);
	return 0;
}

static int __init avmm_para_init(void)
{
	int ret;

	if (sbi_spec_version < sbi_mk_version(2, 0))
		return 0;
	avmm_host_version = sbi_probe_extension(SBI_EXT_AVMM);
	if (avmm_host_version <= 0)
		return 0;
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "riscv/avmm_para:online", avmm_para_online,
				avmm_para_offline);
	if (ret < 0) {
		pr_err("FAIL cpuhp %d\n", ret);
		return ret;
	}
	if (atomic_read(&avmm_failed))
		pr_err("FAIL %d cpus\n", atomic_read(&avmm_failed));
	else
		pr_info("ok cpus=%d\n", atomic_read(&avmm_registered));
	return 0;
}
late_initcall(avmm_para_init);
