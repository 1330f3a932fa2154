/*
 * avmm._core.Hart: one hart (hart_t) as a Python type: run a slice, reset,
 * registers and CSRs, interrupt lines, address translation, MMIO completion,
 * breakpoints, watchpoints and traces, state()/set_state(), counters.
 * Harts are made by Machine.create_hart (bind_machine.c).
 */
#include "binding.h"

static int Hart_traverse(HartObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->machine);
    return 0;
}

static int Hart_clear(HartObject *self)
{
    Py_CLEAR(self->machine);
    self->h = NULL;
    return 0;
}

static void Hart_dealloc(HartObject *self)
{
    PyObject_GC_UnTrack(self);
    Hart_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int hart_ok(HartObject *self)
{
    if (!self->h || !self->machine) {
        PyErr_SetString(CoreError, "hart is detached from its machine");
        return 0;
    }
    return 1;
}
#define HART(self)                                                                           \
    hart_t *h = (self)->h;                                                                   \
    if (!hart_ok(self))                                                                      \
    return NULL

static PyObject *Hart_run(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t budget;
    PyObject *tlb_o;
    if (!PyArg_ParseTuple(args, "O&O", conv_u64, &budget, &tlb_o))
        return NULL;
    if (!PyObject_TypeCheck(tlb_o, &TlbType)) {
        PyErr_SetString(PyExc_TypeError, "run() needs a Tlb");
        return NULL;
    }
    TlbObject *tlb = (TlbObject *)tlb_o;
    if (!tlb_ready(tlb))
        return NULL;
    if (budget < 1) {
        PyErr_SetString(PyExc_ValueError, "budget must be >= 1");
        return NULL;
    }
    if (h->mmio_pending) {
        PyErr_SetString(CoreError, "run() while an MMIO read waits for complete_mmio_read()");
        return NULL;
    }
    int r;
    Py_INCREF(tlb_o);
    Py_BEGIN_ALLOW_THREADS r = hart_run(h, budget, tlb->t);
    Py_END_ALLOW_THREADS Py_DECREF(tlb_o);
    return PyLong_FromLong(r);
}

static int conv_priv(PyObject *o, void *out)
{
    uint64_t v;
    if (!conv_u64(o, &v))
        return 0;
    if (v != PRIV_U && v != PRIV_S && v != PRIV_M) {
        PyErr_SetString(PyExc_ValueError, "priv must be PRIV_U, PRIV_S or PRIV_M");
        return 0;
    }
    *(int *)out = (int)v;
    return 1;
}

static int conv_pc(PyObject *o, void *out)
{
    if (!conv_u64(o, out))
        return 0;
    if (*(uint64_t *)out & 1) {
        PyErr_SetString(PyExc_ValueError, "pc must be 2-byte aligned");
        return 0;
    }
    return 1;
}

static PyObject *Hart_reset(HartObject *self, PyObject *args, PyObject *kw)
{
    HART(self);
    static char *kws[] = {"pc", "priv", NULL};
    uint64_t pc;
    int priv = PRIV_M;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O&", kws, conv_pc, &pc, conv_priv, &priv))
        return NULL;
    hart_reset(h, pc, priv);
    Py_RETURN_NONE;
}

static int reg_index(PyObject *o, void *out)
{
    uint64_t v;
    if (!conv_u64(o, &v))
        return 0;
    if (v > 31) {
        PyErr_SetString(PyExc_ValueError, "register index must be 0..31");
        return 0;
    }
    *(unsigned *)out = (unsigned)v;
    return 1;
}

static PyObject *Hart_get_x(HartObject *self, PyObject *args)
{
    HART(self);
    unsigned i;
    if (!PyArg_ParseTuple(args, "O&", reg_index, &i))
        return NULL;
    return u64(i ? h->x[i] : 0);
}

static PyObject *Hart_set_x(HartObject *self, PyObject *args)
{
    HART(self);
    unsigned i;
    uint64_t v;
    if (!PyArg_ParseTuple(args, "O&O&", reg_index, &i, conv_u64, &v))
        return NULL;
    if (i)
        h->x[i] = v;
    Py_RETURN_NONE;
}

static PyObject *Hart_get_f(HartObject *self, PyObject *args)
{
    HART(self);
    unsigned i;
    if (!PyArg_ParseTuple(args, "O&", reg_index, &i))
        return NULL;
    return u64(h->f[i]);
}

static PyObject *Hart_set_f(HartObject *self, PyObject *args)
{
    HART(self);
    unsigned i;
    uint64_t v;
    if (!PyArg_ParseTuple(args, "O&O&", reg_index, &i, conv_u64, &v))
        return NULL;
    h->f[i] = v;
    Py_RETURN_NONE;
}

static int csr_number(PyObject *o, void *out)
{
    uint64_t v;
    if (!conv_u64(o, &v))
        return 0;
    if (v > 0xfff) {
        PyErr_SetString(PyExc_ValueError, "CSR number must be 0..0xfff");
        return 0;
    }
    *(int *)out = (int)v;
    return 1;
}

static PyObject *Hart_get_csr(HartObject *self, PyObject *args)
{
    HART(self);
    int csr;
    uint64_t v;
    if (!PyArg_ParseTuple(args, "O&", csr_number, &csr))
        return NULL;
    if (csr_read(h, csr, &v, false) != MEM_OK) {
        PyErr_Format(PyExc_ValueError, "CSR 0x%03x is not implemented", csr);
        return NULL;
    }
    return u64(v);
}

static PyObject *Hart_set_csr(HartObject *self, PyObject *args)
{
    HART(self);
    int csr, eff = 0;
    uint64_t v;
    if (!PyArg_ParseTuple(args, "O&O&", csr_number, &csr, conv_u64, &v))
        return NULL;
    if (csr_write(h, csr, v, false, &eff) != MEM_OK) {
        PyErr_Format(PyExc_ValueError, "CSR 0x%03x is not implemented", csr);
        return NULL;
    }
    if (eff & CSR_FLUSH)
        fc_flush(h); /* satp, mstatus MPRV/MPP/SUM/MXR, triggers */
    Py_RETURN_NONE;
}

static PyObject *Hart_set_irq_line(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t mask;
    bool level;
    if (!PyArg_ParseTuple(args, "O&O&", conv_u64, &mask, conv_bool, &level))
        return NULL;
    if (mask & ~(MIP_MEIP | MIP_SEIP | MIP_MSIP)) {
        PyErr_SetString(PyExc_ValueError, "lines are MIP_MEIP, MIP_SEIP and MIP_MSIP");
        return NULL;
    }
    h->lines = level ? h->lines | mask : h->lines & ~mask;
    Py_RETURN_NONE;
}

static PyObject *Hart_post_mip(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t mask;
    if (!PyArg_ParseTuple(args, "O&", conv_u64, &mask))
        return NULL;
    if (mask & ~(MIP_SSIP | MIP_STIP | MIP_SEIP)) {
        PyErr_SetString(PyExc_ValueError, "software-visible bits are MIP_SSIP, MIP_STIP, MIP_SEIP");
        return NULL;
    }
    h->mip_sw |= mask;
    Py_RETURN_NONE;
}

static PyObject *Hart_next_deadline(HartObject *self, PyObject *unused)
{
    HART(self);
    uint64_t now = machine_time(h->m), best = DISARMED;
    bool any = false;
    uint64_t cmps[2] = {h->mtimecmp, h->stimecmp};
    for (int i = 0; i < 2; i++) {
        if (cmps[i] != DISARMED && now < cmps[i] && (!any || cmps[i] < best)) {
            best = cmps[i];
            any = true;
        }
    }
    if (!any)
        Py_RETURN_NONE;
    return u64(best);
}

static PyObject *Hart_wakeup_pending(HartObject *self, PyObject *unused)
{
    HART(self);
    return PyBool_FromLong(hart_wakeup_pending(h));
}

static PyObject *Hart_translate(HartObject *self, PyObject *args, PyObject *kw)
{
    HART(self);
    static char *kws[] = {"vaddr", "access", NULL};
    uint64_t va, acc = 0, pa;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O&", kws, conv_u64, &va, conv_u64, &acc))
        return NULL;
    if (acc > 2) {
        PyErr_SetString(PyExc_ValueError, "access must be 0 (load), 1 (store) or 2 (fetch)");
        return NULL;
    }
    static const int map[3] = {ACC_LOAD, ACC_STORE, ACC_FETCH};
    if (!mmu_probe(h, va, map[acc], &pa))
        Py_RETURN_NONE;
    return u64(pa);
}

static PyObject *Hart_complete_mmio_read(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t v;
    if (!PyArg_ParseTuple(args, "O&", conv_u64, &v))
        return NULL;
    if (!h->mmio_pending) {
        PyErr_SetString(CoreError, "no MMIO read is waiting for a value");
        return NULL;
    }
    hart_complete_mmio_read(h, v);
    Py_RETURN_NONE;
}

static PyObject *Hart_set_breakpoint(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t va;
    if (!PyArg_ParseTuple(args, "O&", conv_u64, &va))
        return NULL;
    for (int i = 0; i < h->nbps; i++)
        if (h->bps[i] == va)
            Py_RETURN_NONE;
    if (h->nbps >= MAX_BREAKPOINTS) {
        PyErr_Format(PyExc_ValueError, "at most %d breakpoints", MAX_BREAKPOINTS);
        return NULL;
    }
    h->bps[h->nbps++] = va;
    fc_flush(h); /* fetches in its page must take the slow path */
    Py_RETURN_NONE;
}

static PyObject *Hart_clear_breakpoint(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t va;
    if (!PyArg_ParseTuple(args, "O&", conv_u64, &va))
        return NULL;
    for (int i = 0; i < h->nbps; i++) {
        if (h->bps[i] == va) {
            h->bps[i] = h->bps[--h->nbps];
            break;
        }
    }
    fc_flush(h);
    Py_RETURN_NONE;
}

/* ---- guest debug and traces: watchpoints, debug exit details, trace buffers (issue 11) ---- */

static PyObject *Hart_set_watchpoint(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t va, len;
    unsigned kind;
    if (!PyArg_ParseTuple(args, "O&O&I", conv_u64, &va, conv_u64, &len, &kind))
        return NULL;
    if (len < 1 || va + (len - 1) < va || !kind || (kind & ~(WATCH_LOAD | WATCH_STORE))) {
        PyErr_SetString(PyExc_ValueError, "a watchpoint needs length >= 1 and a kind");
        return NULL;
    }
    for (int i = 0; i < h->nwps; i++)
        if (h->wps[i].addr == va && h->wps[i].len == len) {
            h->wps[i].kind |= kind;
            Py_RETURN_NONE;
        }
    if (h->nwps >= MAX_WATCHPOINTS) {
        PyErr_Format(PyExc_ValueError, "at most %d watchpoints", MAX_WATCHPOINTS);
        return NULL;
    }
    h->wps[h->nwps].addr = va;
    h->wps[h->nwps].len = len;
    h->wps[h->nwps].kind = kind;
    h->nwps++;
    trig_update(h);
    fc_flush(h); /* fast-cache entries are installed only where nothing is watched */
    Py_RETURN_NONE;
}

static PyObject *Hart_clear_watchpoint(HartObject *self, PyObject *args)
{
    HART(self);
    uint64_t va, len;
    unsigned kind;
    if (!PyArg_ParseTuple(args, "O&O&I", conv_u64, &va, conv_u64, &len, &kind))
        return NULL;
    for (int i = 0; i < h->nwps; i++) {
        if (h->wps[i].addr == va && h->wps[i].len == len) {
            h->wps[i].kind &= ~kind;
            if (!h->wps[i].kind)
                h->wps[i] = h->wps[--h->nwps];
            break;
        }
    }
    trig_update(h);
    fc_flush(h); /* fast-cache entries are installed only where nothing is watched */
    Py_RETURN_NONE;
}

static PyObject *Hart_get_debug_active(HartObject *self, void *c)
{
    HART(self);
    return PyBool_FromLong(hart_debug_active(h));
}

static PyObject *Hart_set_trace(HartObject *self, PyObject *args, PyObject *kw)
{
    HART(self);
    static char *kws[] = {"flags", "lo", "hi", "capacity", NULL};
    unsigned flags, capacity = 4096;
    uint64_t lo = 0, hi = UINT64_MAX;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "I|O&O&I", kws, &flags, conv_u64, &lo, conv_u64,
                                     &hi, &capacity))
        return NULL;
    if (flags & ~(unsigned)(TRACE_TRAPS | TRACE_INSNS) || capacity > (1u << 24)) {
        PyErr_SetString(PyExc_ValueError, "flags are TRACE_* bits; capacity at most 2**24");
        return NULL;
    }
    if (!trace_set(h, flags, lo, hi, capacity))
        return PyErr_NoMemory();
    fc_flush(h);
    Py_RETURN_NONE;
}

static PyObject *Hart_take_trace(HartObject *self, PyObject *unused)
{
    HART(self);
    PyObject *out = PyList_New(h->trace_len);
    if (!out)
        return NULL;
    for (uint32_t i = 0; i < h->trace_len; i++) {
        trace_rec_t *r = &h->trace_buf[i];
        PyObject *t = Py_BuildValue("(iKKKii)", r->kind, (unsigned long long)r->pc,
                                    (unsigned long long)r->a, (unsigned long long)r->b, r->from,
                                    r->to);
        if (!t) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, t);
    }
    h->trace_len = 0;
    return out;
}

/* ---- end of guest debug and traces ---- */

/* CSRs that are views or shadows of others: in state() for reading, not restored */
static bool csr_derived(int num)
{
    switch (num) {
    case 0x001: case 0x002: /* fflags, frm: fcsr */
    case 0x100: case 0x104: case 0x144: /* sstatus, sie, sip */
    case 0x344: /* mip: mip_sw + lines + comparators */
    case 0x301: case 0xf11: case 0xf12: case 0xf13: case 0xf14: case 0xf15:
    case 0x300: /* mstatus: restored last, see set_state */
        return true;
    }
    return (num >= 0xb03 && num <= 0xb1f) || (num >= 0x323 && num <= 0x33f);
}

static bool csr_in_state(int num)
{
    return !(num >= 0xc00 && num <= 0xc1f); /* user counter shadows */
}

static PyObject *Hart_state(HartObject *self, PyObject *unused)
{
    HART(self);
    PyObject *d = PyDict_New(), *csrs = NULL;
    if (!d)
        return NULL;
    if (dset(d, "x", u64_list(h->x, 32)) || dset(d, "f", u64_list(h->f, 32)) ||
        dset(d, "pc", u64(h->pc)) || dset(d, "priv", PyLong_FromLong(h->priv)))
        goto fail;
    csrs = PyDict_New();
    if (!csrs)
        goto fail;
    for (int i = 0; i < csr_names_count; i++) {
        uint64_t v;
        if (!csr_in_state(csr_names[i].num) || csr_read(h, csr_names[i].num, &v, false))
            continue;
        if (dset(csrs, csr_names[i].name, u64(v)))
            goto fail;
    }
    if (PyDict_SetItemString(d, "csr", csrs))
        goto fail;
    Py_CLEAR(csrs);
    if (dset(d, "mip_sw", u64(h->mip_sw)) || dset(d, "mtimecmp", u64(h->mtimecmp)) ||
        dset(d, "stimecmp", u64(h->stimecmp)) || dset(d, "lines", u64(h->lines)))
        goto fail;
    PyObject *resv = h->resv_valid ? Py_BuildValue("[KIK]", (unsigned long long)h->resv_addr,
                                                   (unsigned)h->resv_size,
                                                   (unsigned long long)h->resv_va)
                                   : Py_NewRef(Py_None);
    if (dset(d, "reservation", resv))
        goto fail;
    PyObject *mmio = h->mmio_pending
                         ? Py_BuildValue("{sisisKsKsi}", "rd", h->mmio_rd, "kind", h->mmio_kind,
                                         "next_pc", (unsigned long long)h->mmio_next_pc, "addr",
                                         (unsigned long long)h->mmio_addr, "size", h->mmio_size)
                         : Py_NewRef(Py_None);
    if (dset(d, "mmio_pending", mmio))
        goto fail;
    /* the retired-instruction counter of stats() and the firmware-call flag: a
     * restored hart counts on and keeps its firmware grace (optional in set_state) */
    if (dset(d, "instret", u64(h->st.instret)) || dset(d, "fw_call", PyBool_FromLong(h->fw_call)))
        goto fail;
    return d;
fail:
    Py_XDECREF(csrs);
    Py_DECREF(d);
    return NULL;
}

static PyObject *Hart_set_state(HartObject *self, PyObject *args)
{
    HART(self);
    PyObject *d, *o;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &d))
        return NULL;
    /* validate everything into a scratch copy first, so a bad state changes nothing */
    hart_t *t = malloc(sizeof(hart_t));
    if (!t)
        return PyErr_NoMemory();
    memcpy(t, h, sizeof(hart_t));
    uint64_t pc, priv, v;
    if (!(o = dget(d, "x")) || list_u64(o, t->x, 32, "x") < 0)
        goto fail;
    if (!(o = dget(d, "f")) || list_u64(o, t->f, 32, "f") < 0)
        goto fail;
    t->x[0] = 0;
    if (dget_u64(d, "pc", &pc) || dget_u64(d, "priv", &priv))
        goto fail;
    if ((priv != PRIV_U && priv != PRIV_S && priv != PRIV_M) || (pc & 1)) {
        PyErr_SetString(PyExc_ValueError, "state has a bad pc or priv");
        goto fail;
    }
    t->pc = pc;
    t->priv = (int)priv;
    PyObject *csrs = dget(d, "csr");
    if (!csrs)
        goto fail;
    if (!PyDict_Check(csrs)) {
        PyErr_SetString(PyExc_TypeError, "state csr must be a dict");
        goto fail;
    }
    uint64_t mstatus = t->mstatus;
    bool have_mstatus = false;
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(csrs, &pos, &key, &val)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (!name) {
            PyErr_SetString(PyExc_TypeError, "CSR names must be str");
            goto fail;
        }
        int num = -1;
        for (int i = 0; i < csr_names_count; i++)
            if (!strcmp(csr_names[i].name, name))
                num = csr_names[i].num;
        if (num < 0) {
            PyErr_Format(PyExc_ValueError, "unknown CSR %s in state", name);
            goto fail;
        }
        if (!conv_u64(val, &v))
            goto fail;
        if (num == 0x300) {
            mstatus = v;
            have_mstatus = true;
            continue;
        }
        if (csr_derived(num) || !csr_in_state(num))
            continue;
        int eff = 0;
        csr_write(t, num, v, false, &eff);
    }
    if (have_mstatus) {
        int eff = 0;
        csr_write(t, 0x300, mstatus, false, &eff);
    }
    if (dget_u64(d, "mip_sw", &v))
        goto fail;
    t->mip_sw = v & (MIP_SSIP | MIP_STIP | MIP_SEIP);
    if (dget_u64(d, "mtimecmp", &t->mtimecmp) || dget_u64(d, "stimecmp", &t->stimecmp) ||
        dget_u64(d, "lines", &v))
        goto fail;
    t->lines = v & (MIP_MEIP | MIP_SEIP | MIP_MSIP);
    if (!(o = dget(d, "reservation")))
        goto fail;
    bool resv = o != Py_None;
    uint64_t rv[3] = {0, 0, 0};
    if (resv && list_u64(o, rv, 3, "reservation") < 0)
        goto fail;
    if (resv && rv[1] != 4 && rv[1] != 8) {
        PyErr_SetString(PyExc_ValueError, "reservation size must be 4 or 8");
        goto fail;
    }
    if (!(o = dget(d, "mmio_pending")))
        goto fail;
    bool mmio = o != Py_None;
    if (mmio) {
        uint64_t rd, kind, npc, addr, size;
        if (!PyDict_Check(o)) {
            PyErr_SetString(PyExc_TypeError, "mmio_pending must be a dict or None");
            goto fail;
        }
        if (dget_u64(o, "rd", &rd) || dget_u64(o, "kind", &kind) ||
            dget_u64(o, "next_pc", &npc) || dget_u64(o, "addr", &addr) ||
            dget_u64(o, "size", &size))
            goto fail;
        if (rd > 31 || kind > LK_F64 || (size != 1 && size != 2 && size != 4 && size != 8)) {
            PyErr_SetString(PyExc_ValueError, "bad mmio_pending in state");
            goto fail;
        }
        t->mmio_rd = (int)rd;
        t->mmio_kind = (int)kind;
        t->mmio_next_pc = npc;
        t->mmio_addr = addr;
        t->mmio_size = (int)size;
    }
    t->mmio_pending = mmio;
    if ((o = PyDict_GetItemString(d, "instret")) && !conv_u64(o, &t->st.instret))
        goto fail;
    if ((o = PyDict_GetItemString(d, "fw_call"))) {
        int on = PyObject_IsTrue(o);
        if (on < 0)
            goto fail;
        t->fw_call = on;
    }
    /* commit */
    bool had_resv = h->resv_valid;
    memcpy(h, t, sizeof(hart_t));
    free(t);
    h->resv_valid = had_resv;
    hart_clear_resv(h);
    if (resv) {
        h->resv_valid = true;
        h->m->nresv++;
        h->resv_addr = rv[0];
        h->resv_size = (uint32_t)rv[1];
        h->resv_va = rv[2];
        machine_fc_invalidate(h->m, true); /* others' store entries in its page */
    }
    fc_flush(h);
    Py_RETURN_NONE;
fail:
    free(t);
    return NULL;
}

static PyObject *Hart_stats(HartObject *self, PyObject *unused)
{
    HART(self);
    hart_stats_t *s = &h->st;
    PyObject *d = PyDict_New(), *sub;
    if (!d)
        return NULL;
    if (dset(d, "instret", u64(s->instret)))
        goto fail;
    if (!(sub = PyDict_New()) || PyDict_SetItemString(d, "exits", sub))
        goto fail_sub;
    for (int i = 0; i < EXIT_COUNT; i++)
        if (dset(sub, exit_names[i], u64(s->exits[i])))
            goto fail_sub;
    Py_DECREF(sub);
    if (!(sub = PyDict_New()) || PyDict_SetItemString(d, "exceptions", sub))
        goto fail_sub;
    for (int i = 0; i < 16; i++)
        if (s->exceptions[i] && dset_obj(sub, PyLong_FromLong(i), u64(s->exceptions[i])))
            goto fail_sub;
    Py_DECREF(sub);
    if (!(sub = PyDict_New()) || PyDict_SetItemString(d, "interrupts", sub))
        goto fail_sub;
    for (int i = 0; i < 16; i++)
        if (s->interrupts[i] && dset_obj(sub, PyLong_FromLong(i), u64(s->interrupts[i])))
            goto fail_sub;
    Py_DECREF(sub);
    if (dset(d, "tlb_l1_hits", u64(s->fc_hits)) || dset(d, "tlb_lookups", u64(s->tlb_lookups)) ||
        dset(d, "page_walks", u64(s->page_walks)) || dset(d, "sfence", u64(s->sfence)))
        goto fail;
    if (dset(d, "mmio", Py_BuildValue("{sKsK}", "read", (unsigned long long)s->mmio_read,
                                      "write", (unsigned long long)s->mmio_write)))
        goto fail;
    if (dset(d, "mmio_fast",
             Py_BuildValue("{sKsK}", "clint", (unsigned long long)s->fast_mmio[FAST_CLINT],
                           "plic", (unsigned long long)s->fast_mmio[FAST_PLIC])) ||
        dset(d, "ipis", u64(s->ipis)) || dset(d, "wfi_yields", u64(s->wfi_yields)))
        goto fail;
    if (dset(d, "jit_insns", u64(s->jit_insns)) ||
        dset(d, "interp_insns", u64(s->instret - s->jit_insns)))
        goto fail;
    return d;
fail_sub:
    Py_XDECREF(sub);
fail:
    Py_DECREF(d);
    return NULL;
}

/* properties: plain fields of hart_t (closure: FIELD(hart_t, name)) */
static PyObject *Hart_get_field(HartObject *self, void *c)
{
    HART(self);
    return field_get(h, c);
}
static int Hart_set_field(HartObject *self, PyObject *v, void *c)
{
    return hart_ok(self) ? field_set(self->h, c, v) : -1;
}

/* properties with checks, or not a field */
static PyObject *Hart_get_in_firmware_call(HartObject *self, void *c)
{
    HART(self);
    return PyBool_FromLong(h->priv == PRIV_M && h->fw_call);
}
static PyObject *Hart_get_machine(HartObject *self, void *c)
{
    if (!hart_ok(self))
        return NULL;
    return Py_NewRef((PyObject *)self->machine);
}
static int Hart_set_pc(HartObject *self, PyObject *v, void *c)
{
    if (!hart_ok(self))
        return -1;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_pc(v, &self->h->pc) ? 0 : -1;
}
static int Hart_set_priv(HartObject *self, PyObject *v, void *c)
{
    if (!hart_ok(self))
        return -1;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    if (!conv_priv(v, &self->h->priv))
        return -1;
    fc_flush(self->h);
    return 0;
}
static PyObject *Hart_get_error(HartObject *self, void *c)
{
    HART(self);
    return PyUnicode_FromString(h->error);
}

static PyMethodDef Hart_methods[] = {
    {"run", (PyCFunction)Hart_run, METH_VARARGS, "Execute at most budget instructions."},
    {"reset", (PyCFunction)(void (*)(void))Hart_reset, METH_VARARGS | METH_KEYWORDS,
     "Architectural reset."},
    {"get_x", (PyCFunction)Hart_get_x, METH_VARARGS, "Integer register."},
    {"set_x", (PyCFunction)Hart_set_x, METH_VARARGS, "Set an integer register."},
    {"get_f", (PyCFunction)Hart_get_f, METH_VARARGS, "FP register (raw 64 bits)."},
    {"set_f", (PyCFunction)Hart_set_f, METH_VARARGS, "Set an FP register (raw 64 bits)."},
    {"get_csr", (PyCFunction)Hart_get_csr, METH_VARARGS, "Read a CSR (no privilege checks)."},
    {"set_csr", (PyCFunction)Hart_set_csr, METH_VARARGS, "Write a CSR (WARL masks apply)."},
    {"set_irq_line", (PyCFunction)Hart_set_irq_line, METH_VARARGS, "Drive external lines."},
    {"post_mip", (PyCFunction)Hart_post_mip, METH_VARARGS, "Set software-visible mip bits."},
    {"next_deadline", (PyCFunction)Hart_next_deadline, METH_NOARGS, "Earliest armed timer."},
    {"wakeup_pending", (PyCFunction)Hart_wakeup_pending, METH_NOARGS,
     "An enabled interrupt is pending."},
    {"translate", (PyCFunction)(void (*)(void))Hart_translate, METH_VARARGS | METH_KEYWORDS,
     "Guest-physical address of vaddr, or None (no side effects)."},
    {"complete_mmio_read", (PyCFunction)Hart_complete_mmio_read, METH_VARARGS,
     "Complete a pending MMIO load."},
    {"set_breakpoint", (PyCFunction)Hart_set_breakpoint, METH_VARARGS, "Add a breakpoint."},
    {"clear_breakpoint", (PyCFunction)Hart_clear_breakpoint, METH_VARARGS,
     "Remove a breakpoint."},
    {"set_watchpoint", (PyCFunction)Hart_set_watchpoint, METH_VARARGS,
     "Add a watchpoint (vaddr, length, WATCH_* kind)."},
    {"clear_watchpoint", (PyCFunction)Hart_clear_watchpoint, METH_VARARGS,
     "Remove kinds of a watchpoint."},
    {"set_trace", (PyCFunction)(void (*)(void))Hart_set_trace, METH_VARARGS | METH_KEYWORDS,
     "Trace traps and/or instructions into a buffer."},
    {"take_trace", (PyCFunction)Hart_take_trace, METH_NOARGS, "Drain the trace buffer."},
    {"state", (PyCFunction)Hart_state, METH_NOARGS, "The whole hart as plain data."},
    {"set_state", (PyCFunction)Hart_set_state, METH_VARARGS, "Restore state()."},
    {"stats", (PyCFunction)Hart_stats, METH_NOARGS, "Counters."},
    {NULL},
};

static PyGetSetDef Hart_getset[] = {
    {"hartid", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, hartid)},
    {"machine", (getter)Hart_get_machine, NULL, NULL, NULL},
    {"pc", (getter)Hart_get_field, (setter)Hart_set_pc, NULL, FIELD(hart_t, pc)},
    {"priv", (getter)Hart_get_field, (setter)Hart_set_priv, NULL, FIELD(hart_t, priv)},
    {"in_firmware_call", (getter)Hart_get_in_firmware_call, NULL, NULL, NULL},
    {"instret", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, st.instret)},
    {"mtimecmp", (getter)Hart_get_field, (setter)Hart_set_field, NULL, FIELD(hart_t, mtimecmp)},
    {"stimecmp", (getter)Hart_get_field, (setter)Hart_set_field, NULL, FIELD(hart_t, stimecmp)},
    {"mmio_addr", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, mmio_addr)},
    {"mmio_size", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, mmio_size)},
    {"mmio_value", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, mmio_value)},
    {"htif_value", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, htif_value)},
    {"debug_cause", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, debug_cause)},
    {"debug_addr", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, debug_addr)},
    {"debug_write", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, debug_write)},
    {"debug_active", (getter)Hart_get_debug_active, NULL, NULL, NULL},
    {"trace_lost", (getter)Hart_get_field, NULL, NULL, FIELD(hart_t, trace_lost)},
    {"error", (getter)Hart_get_error, NULL, NULL, NULL},
    {"single_step", (getter)Hart_get_field, (setter)Hart_set_field, NULL,
     FIELD(hart_t, single_step)},
    {"debug_ebreak", (getter)Hart_get_field, (setter)Hart_set_field, NULL,
     FIELD(hart_t, debug_ebreak)},
    {NULL},
};


PyTypeObject HartType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "avmm._core.Hart",
    .tp_basicsize = sizeof(HartObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One RV64GC hart (M, S, U; Sv39/Sv48). Created by Machine.create_hart.",
    .tp_traverse = (traverseproc)Hart_traverse,
    .tp_clear = (inquiry)Hart_clear,
    .tp_dealloc = (destructor)Hart_dealloc,
    .tp_methods = Hart_methods,
    .tp_getset = Hart_getset,
};
