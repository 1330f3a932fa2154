/*
 * avmm._core.Machine: one VM's machine (machine_t) as a Python type: guest
 * RAM slots and physical access, harts, the guest clock, the in-core CLINT
 * and PLIC and their state, HTIF, the broadcast TLBs, exit policy knobs and
 * the translator's switch and counters.
 */
#include "binding.h"
#include "jit.h"

static PyObject *Machine_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"timebase_hz", "jit", NULL};
    uint64_t tb = 10000000;
    PyObject *jit = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$O&O", kws, conv_u64, &tb, &jit))
        return NULL;
    int jit_on = jit == Py_None ? -1 : PyObject_IsTrue(jit);
    if (jit_on < -1 || (jit != Py_None && jit_on < 0))
        return NULL;
    if (tb == 0 || tb > (1ull << 40)) {
        PyErr_SetString(PyExc_ValueError, "timebase_hz must be in 1..2**40");
        return NULL;
    }
    MachineObject *self = (MachineObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->m = machine_new(tb);
    self->harts = PyList_New(0);
    self->slots = PyList_New(0);
    self->btlbs = PyTuple_New(0);
    if (!self->m || !self->harts || !self->slots || !self->btlbs) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    if (jit_on >= 0)
        self->m->jit_on = jit_on && !jit_unavailable_reason();
    return (PyObject *)self;
}

static int Machine_traverse(MachineObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->harts);
    Py_VISIT(self->slots);
    Py_VISIT(self->btlbs);
    return 0;
}

static int Machine_clear(MachineObject *self)
{
    Py_CLEAR(self->harts);
    Py_CLEAR(self->slots);
    Py_CLEAR(self->btlbs);
    return 0;
}

static void Machine_dealloc(MachineObject *self)
{
    PyObject_GC_UnTrack(self);
    Machine_clear(self);
    machine_free(self->m);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Machine_add_ram(MachineObject *self, PyObject *args)
{
    uint64_t base, size;
    if (!PyArg_ParseTuple(args, "O&O&", conv_u64, &base, conv_u64, &size))
        return NULL;
    if ((base | size) & 0xfff || size == 0) {
        PyErr_SetString(PyExc_ValueError, "RAM base and size must be non-zero multiples of 4 KiB");
        return NULL;
    }
    if (base >= (1ull << PA_BITS) || size > (1ull << PA_BITS) - base || size > (1ull << 40)) {
        PyErr_SetString(PyExc_ValueError, "RAM slot outside the 56-bit physical address space");
        return NULL;
    }
    machine_t *m = self->m;
    for (int i = 0; i < m->nslots; i++) {
        ram_slot_t *o = m->slots[i];
        if (base < o->base + o->size && o->base < base + size) {
            PyErr_Format(PyExc_ValueError, "RAM 0x%llx+0x%llx overlaps slot %d",
                         (unsigned long long)base, (unsigned long long)size, i);
            return NULL;
        }
    }
    if (m->nslots >= MAX_SLOTS) {
        PyErr_Format(PyExc_ValueError, "at most %d RAM slots", MAX_SLOTS);
        return NULL;
    }
    ram_slot_t *s = ram_slot_new(base, size);
    if (!s)
        return PyErr_NoMemory();
    RamSlotObject *o = PyObject_GC_New(RamSlotObject, &RamSlotType);
    if (!o) {
        ram_slot_free(s);
        return NULL;
    }
    o->s = s;
    o->machine = (MachineObject *)Py_NewRef((PyObject *)self);
    PyObject_GC_Track(o);
    if (PyList_Append(self->slots, (PyObject *)o)) {
        Py_DECREF(o);
        return NULL;
    }
    machine_add_slot(m, s); /* checked above */
    return (PyObject *)o;
}

static PyObject *Machine_ram_slots(MachineObject *self, void *c)
{
    return PyList_AsTuple(self->slots);
}

/* [addr, addr+len) must be RAM, possibly across adjacent slots */
static int phys_range(machine_t *m, uint64_t addr, uint64_t len)
{
    if (addr + len < addr)
        goto bad;
    uint64_t a = addr, end = addr + len;
    while (a < end) {
        ram_slot_t *s = ram_find(m, a, 1);
        if (!s)
            goto bad;
        a = s->base + s->size;
    }
    return 0;
bad:
    PyErr_Format(PyExc_ValueError, "guest-physical range 0x%llx+0x%llx is not RAM",
                 (unsigned long long)addr, (unsigned long long)len);
    return -1;
}

static PyObject *Machine_read_phys(MachineObject *self, PyObject *args)
{
    uint64_t addr, size;
    if (!PyArg_ParseTuple(args, "O&O&", conv_u64, &addr, conv_u64, &size))
        return NULL;
    if (size > PY_SSIZE_T_MAX || phys_range(self->m, addr, size))
        return NULL;
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!b)
        return NULL;
    char *out = PyBytes_AS_STRING(b);
    uint64_t a = addr;
    while (a < addr + size) {
        ram_slot_t *s = ram_find(self->m, a, 1);
        uint64_t n = s->base + s->size - a;
        if (n > addr + size - a)
            n = addr + size - a;
        memcpy(out + (a - addr), s->host + (a - s->base), n);
        a += n;
    }
    return b;
}

static PyObject *Machine_write_phys(MachineObject *self, PyObject *args)
{
    uint64_t addr;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "O&y*", conv_u64, &addr, &buf))
        return NULL;
    uint64_t size = (uint64_t)buf.len;
    if (phys_range(self->m, addr, size)) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    uint64_t a = addr;
    while (a < addr + size) {
        ram_slot_t *s = ram_find(self->m, a, 1);
        uint64_t n = s->base + s->size - a;
        if (n > addr + size - a)
            n = addr + size - a;
        memcpy(s->host + (a - s->base), (const char *)buf.buf + (a - addr), n);
        a += n;
    }
    PyBuffer_Release(&buf);
    machine_host_wrote(self->m, addr, size);
    Py_RETURN_NONE;
}

static PyObject *Machine_create_hart(MachineObject *self, PyObject *unused)
{
    if (self->m->nharts >= MAX_HARTS) {
        PyErr_Format(PyExc_ValueError, "at most %d harts", MAX_HARTS);
        return NULL;
    }
    HartObject *o = PyObject_GC_New(HartObject, &HartType);
    if (!o)
        return NULL;
    o->h = machine_new_hart(self->m);
    if (!o->h) {
        o->machine = NULL;
        Py_DECREF(o);
        return PyErr_NoMemory();
    }
    o->machine = (MachineObject *)Py_NewRef((PyObject *)self);
    PyObject_GC_Track(o);
    if (PyList_Append(self->harts, (PyObject *)o)) {
        Py_DECREF(o);
        return NULL;
    }
    plic_update(self->m, NULL);
    return (PyObject *)o;
}

static PyObject *Machine_harts(MachineObject *self, void *c)
{
    return PyList_AsTuple(self->harts);
}

static PyObject *Machine_take_kicks(MachineObject *self, PyObject *unused)
{
    uint64_t k = self->m->kicks;
    self->m->kicks = 0;
    return u64(k);
}

static PyObject *Machine_set_clock(MachineObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"mode", "ips", NULL};
    uint64_t mode, ips = 100000000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O&", kws, conv_u64, &mode, conv_u64, &ips))
        return NULL;
    if (mode != CLOCK_HOST && mode != CLOCK_VIRTUAL) {
        PyErr_SetString(PyExc_ValueError, "mode must be CLOCK_HOST or CLOCK_VIRTUAL");
        return NULL;
    }
    if (ips == 0 || ips > (1ull << 40)) {
        PyErr_SetString(PyExc_ValueError, "ips must be in 1..2**40");
        return NULL;
    }
    machine_set_clock(self->m, (int)mode, ips);
    Py_RETURN_NONE;
}

static PyObject *Machine_warp(MachineObject *self, PyObject *args)
{
    uint64_t t;
    if (!PyArg_ParseTuple(args, "O&", conv_u64, &t))
        return NULL;
    self->m->time_offset += t;
    Py_RETURN_NONE;
}

static PyObject *Machine_enable_clint(MachineObject *self, PyObject *args)
{
    uint64_t base;
    if (!PyArg_ParseTuple(args, "O&", conv_u64, &base))
        return NULL;
    if (base & 0xfff || base >= (1ull << PA_BITS)) {
        PyErr_SetString(PyExc_ValueError, "CLINT base must be 4 KiB aligned");
        return NULL;
    }
    self->m->clint_on = true;
    self->m->clint_base = base;
    Py_RETURN_NONE;
}

static PyObject *Machine_enable_plic(MachineObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"base", "ndev", NULL};
    uint64_t base, ndev = 0x60;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O&", kws, conv_u64, &base, conv_u64, &ndev))
        return NULL;
    if (base & 0xfff || base >= (1ull << PA_BITS)) {
        PyErr_SetString(PyExc_ValueError, "PLIC base must be 4 KiB aligned");
        return NULL;
    }
    if (ndev < 2 || ndev > PLIC_MAX_SRC) {
        PyErr_Format(PyExc_ValueError, "ndev must be in 2..%d", PLIC_MAX_SRC);
        return NULL;
    }
    plic_t *p = calloc(1, sizeof(plic_t));
    if (!p)
        return PyErr_NoMemory();
    p->base = base;
    p->ndev = (uint32_t)ndev;
    free(self->m->plic);
    self->m->plic = p;
    plic_update(self->m, NULL);
    Py_RETURN_NONE;
}

static PyObject *Machine_set_irq(MachineObject *self, PyObject *args)
{
    uint64_t src;
    bool level;
    if (!PyArg_ParseTuple(args, "O&O&", conv_u64, &src, conv_bool, &level))
        return NULL;
    if (!self->m->plic) {
        PyErr_SetString(CoreError, "set_irq() needs the in-core PLIC (enable_plic)");
        return NULL;
    }
    if (src == 0 || src >= self->m->plic->ndev) {
        PyErr_Format(PyExc_ValueError, "PLIC source must be 1..%u", self->m->plic->ndev - 1);
        return NULL;
    }
    plic_set_irq(self->m, (uint32_t)src, level);
    Py_RETURN_NONE;
}

static PyObject *Machine_irqchip_state(MachineObject *self, PyObject *unused)
{
    machine_t *m = self->m;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (dset(d, "clint", m->clint_on ? u64(m->clint_base) : Py_NewRef(Py_None)))
        goto fail;
    if (!m->plic) {
        if (dset(d, "plic", Py_NewRef(Py_None)))
            goto fail;
        return d;
    }
    plic_t *p = m->plic;
    size_t words = (p->ndev + 31) / 32, nctx = 2 * (size_t)m->nharts;
    PyObject *pd = PyDict_New();
    if (!pd || PyDict_SetItemString(d, "plic", pd)) {
        Py_XDECREF(pd);
        goto fail;
    }
    Py_DECREF(pd);
    PyObject *prio = PyList_New(p->ndev);
    if (!prio)
        goto fail;
    for (uint32_t i = 0; i < p->ndev; i++)
        PyList_SET_ITEM(prio, i, PyLong_FromLong(p->prio[i]));
    if (dset(pd, "base", u64(p->base)) || dset(pd, "ndev", u64(p->ndev)) ||
        dset(pd, "priority", prio) || dset(pd, "line", u32_list(p->line, words)) ||
        dset(pd, "pending", u32_list(p->pending, words)) ||
        dset(pd, "claimed", u32_list(p->claimed, words)) ||
        dset(pd, "threshold", u32_list(p->threshold, nctx)))
        goto fail;
    PyObject *en = PyList_New((Py_ssize_t)nctx);
    if (!en)
        goto fail;
    for (size_t c = 0; c < nctx; c++) {
        PyObject *l = u32_list(p->enable[c], words);
        if (!l) {
            Py_DECREF(en);
            goto fail;
        }
        PyList_SET_ITEM(en, (Py_ssize_t)c, l);
    }
    if (dset(pd, "enable", en))
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *Machine_set_irqchip_state(MachineObject *self, PyObject *args)
{
    machine_t *m = self->m;
    PyObject *d, *o;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &d))
        return NULL;
    if (!(o = dget(d, "clint")))
        return NULL;
    bool clint_on = o != Py_None;
    uint64_t clint_base = 0;
    if (o != Py_None && !conv_u64(o, &clint_base))
        return NULL;
    PyObject *pd = dget(d, "plic");
    if (!pd)
        return NULL;
    plic_t *p = NULL;
    if (pd != Py_None) {
        if (!PyDict_Check(pd)) {
            PyErr_SetString(PyExc_TypeError, "plic state must be a dict or None");
            return NULL;
        }
        p = calloc(1, sizeof(plic_t));
        if (!p)
            return PyErr_NoMemory();
        uint64_t ndev;
        if (dget_u64(pd, "base", &p->base) || dget_u64(pd, "ndev", &ndev))
            goto fail;
        if (ndev < 2 || ndev > PLIC_MAX_SRC) {
            PyErr_SetString(PyExc_ValueError, "bad PLIC ndev in state");
            goto fail;
        }
        p->ndev = (uint32_t)ndev;
        size_t words = (p->ndev + 31) / 32, nctx = 2 * (size_t)m->nharts;
        uint32_t prio[PLIC_MAX_SRC];
        if (!(o = dget(pd, "priority")) || list_u32(o, prio, p->ndev, "priority") ||
            !(o = dget(pd, "line")) || list_u32(o, p->line, words, "line") ||
            !(o = dget(pd, "pending")) || list_u32(o, p->pending, words, "pending") ||
            !(o = dget(pd, "claimed")) || list_u32(o, p->claimed, words, "claimed") ||
            !(o = dget(pd, "threshold")) || list_u32(o, p->threshold, nctx, "threshold"))
            goto fail;
        for (uint32_t i = 0; i < p->ndev; i++)
            p->prio[i] = (uint8_t)(prio[i] & 7);
        for (size_t c = 0; c < nctx; c++)
            p->threshold[c] &= 7;
        if (!(o = dget(pd, "enable")))
            goto fail;
        if (!PyList_Check(o) || (size_t)PyList_GET_SIZE(o) != nctx) {
            PyErr_SetString(PyExc_ValueError, "PLIC enable must list every context");
            goto fail;
        }
        for (size_t c = 0; c < nctx; c++)
            if (list_u32(PyList_GET_ITEM(o, (Py_ssize_t)c), p->enable[c], words, "enable"))
                goto fail;
    }
    m->clint_on = clint_on;
    m->clint_base = clint_base;
    free(m->plic);
    m->plic = p;
    plic_update(m, NULL);
    Py_RETURN_NONE;
fail:
    free(p);
    return NULL;
}

static PyObject *Machine_set_htif(MachineObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"tohost", "fromhost", NULL};
    PyObject *to = Py_None, *from = Py_None;
    uint64_t t = 0, f = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kws, &to, &from))
        return NULL;
    if ((to != Py_None && !conv_u64(to, &t)) || (from != Py_None && !conv_u64(from, &f)))
        return NULL;
    self->m->htif_on = to != Py_None;
    self->m->tohost = t;
    self->m->fromhost = f;
    machine_fc_invalidate(self->m, true); /* no store entry in the tohost page */
    Py_RETURN_NONE;
}

/* properties: plain fields of machine_t (closure: FIELD(machine_t, name)) */
static PyObject *Machine_get_field(MachineObject *self, void *c)
{
    return field_get(self->m, c);
}
static int Machine_set_field(MachineObject *self, PyObject *v, void *c)
{
    return field_set(self->m, c, v);
}

/* properties with checks or side effects, or not a field */
static int Machine_set_pause_window(MachineObject *self, PyObject *v, void *c)
{
    uint64_t w;
    if (set_u64_attr(v, &w))
        return -1;
    if (w < 1 || w > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "pause_window must be >= 1");
        return -1;
    }
    self->m->pause_window = (uint32_t)w;
    return 0;
}
static int Machine_set_wfi_window(MachineObject *self, PyObject *v, void *c)
{
    uint64_t w;
    if (set_u64_attr(v, &w))
        return -1;
    if (w > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "wfi_window must be 0 (off) or a 32-bit count");
        return -1;
    }
    self->m->wfi_window = (uint32_t)w;
    return 0;
}
static int Machine_set_vmid(MachineObject *self, PyObject *v, void *c)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    uint32_t old = self->m->vmid;
    if (!conv_vmid(v, &self->m->vmid))
        return -1;
    if (self->m->vmid != old)
        machine_fc_invalidate(self->m, false);
    return 0;
}
static PyObject *Machine_get_btlbs(MachineObject *self, void *c)
{
    return Py_NewRef(self->btlbs);
}
static int Machine_set_btlbs(MachineObject *self, PyObject *v, void *c)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    PyObject *t = PySequence_Tuple(v);
    if (!t)
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    tlb_t **arr = calloc((size_t)n + 1, sizeof(tlb_t *));
    if (!arr) {
        Py_DECREF(t);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(t, i);
        if (!PyObject_TypeCheck(o, &TlbType) || !((TlbObject *)o)->t) {
            PyErr_SetString(PyExc_TypeError, "broadcast_tlbs must hold Tlb objects");
            free(arr);
            Py_DECREF(t);
            return -1;
        }
        arr[i] = ((TlbObject *)o)->t;
    }
    free(self->m->btlbs);
    self->m->btlbs = arr;
    self->m->nbtlbs = (int)n;
    Py_SETREF(self->btlbs, t);
    return 0;
}
static PyObject *Machine_get_time(MachineObject *self, void *c)
{
    return u64(machine_time(self->m));
}
static int Machine_set_time(MachineObject *self, PyObject *v, void *c)
{
    uint64_t t;
    if (set_u64_attr(v, &t))
        return -1;
    machine_set_time(self->m, t);
    return 0;
}
/* Machine.instret is writable for snapshots: a restored machine goes on counting
 * from the saved total, and guest time stays where it was (the offset absorbs it). */
static int Machine_set_instret(MachineObject *self, PyObject *v, void *c)
{
    uint64_t n;
    if (set_u64_attr(v, &n))
        return -1;
    uint64_t now = machine_time(self->m);
    self->m->instret = n;
    machine_set_time(self->m, now);
    return 0;
}

static PyObject *Machine_get_clock_held(MachineObject *self, void *c)
{
    return PyBool_FromLong(self->m->clock_held);
}
static int Machine_set_clock_held(MachineObject *self, PyObject *v, void *c)
{
    bool hold;
    if (set_bool_attr(v, &hold))
        return -1;
    machine_hold_clock(self->m, hold);
    return 0;
}

/* ---- translator (jit.c): Machine.jit, Machine.jit_unavailable, Machine.jit_stats() ---- */

static int Machine_set_jit(MachineObject *self, PyObject *v, void *c)
{
    bool on;
    if (set_bool_attr(v, &on))
        return -1;
    self->m->jit_on = on && !jit_unavailable_reason(); /* stays off where it cannot work */
    return 0;
}
static PyObject *Machine_get_jit_unavailable(MachineObject *self, void *c)
{
    const char *why = jit_unavailable_reason();
    return why ? PyUnicode_FromString(why) : Py_NewRef(Py_None);
}
static PyObject *Machine_jit_stats(MachineObject *self, PyObject *unused)
{
    jit_stats_t st;
    jit_get_stats(self->m, &st);
    PyObject *d = PyDict_New(), *fl = PyDict_New();
    if (!d || !fl)
        goto fail;
    for (int i = 0; i < JF_COUNT; i++)
        if (dset(fl, jit_flush_names[i], u64(st.flushes[i])))
            goto fail;
    if (dset(d, "blocks", u64(st.blocks)) || dset(d, "live_blocks", u64(st.live_blocks)) ||
        dset(d, "insns", u64(st.insns)) || dset(d, "code_bytes", u64(st.code_bytes)) ||
        dset(d, "code_size", u64(st.code_size)) || dset(d, "translate_ns", u64(st.translate_ns)) ||
        dset(d, "lookups", u64(st.lookups)) || dset(d, "chain_links", u64(st.chain_links)))
        goto fail;
    if (PyDict_SetItemString(d, "flushes", fl))
        goto fail;
    Py_DECREF(fl);
    return d;
fail:
    Py_XDECREF(d);
    Py_XDECREF(fl);
    return NULL;
}

/* ---- end of translator section ---- */

static PyMethodDef Machine_methods[] = {
    {"add_ram", (PyCFunction)Machine_add_ram, METH_VARARGS, "Add a RAM slot."},
    {"read_phys", (PyCFunction)Machine_read_phys, METH_VARARGS, "Read guest RAM."},
    {"write_phys", (PyCFunction)Machine_write_phys, METH_VARARGS,
     "Write guest RAM (marks dirty, breaks LR/SC reservations)."},
    {"create_hart", (PyCFunction)Machine_create_hart, METH_NOARGS, "Add a hart."},
    {"take_kicks", (PyCFunction)Machine_take_kicks, METH_NOARGS,
     "Harts whose interrupt state changed in-core (cleared on read)."},
    {"set_clock", (PyCFunction)(void (*)(void))Machine_set_clock, METH_VARARGS | METH_KEYWORDS,
     "Select the guest clock."},
    {"warp", (PyCFunction)Machine_warp, METH_VARARGS, "Advance guest time."},
    {"enable_clint", (PyCFunction)Machine_enable_clint, METH_VARARGS, "In-core CLINT."},
    {"enable_plic", (PyCFunction)(void (*)(void))Machine_enable_plic,
     METH_VARARGS | METH_KEYWORDS, "In-core PLIC."},
    {"set_irq", (PyCFunction)Machine_set_irq, METH_VARARGS, "Drive an in-core PLIC input."},
    {"irqchip_state", (PyCFunction)Machine_irqchip_state, METH_NOARGS,
     "In-core irqchip as plain data."},
    {"set_irqchip_state", (PyCFunction)Machine_set_irqchip_state, METH_VARARGS,
     "Restore irqchip_state()."},
    {"set_htif", (PyCFunction)(void (*)(void))Machine_set_htif, METH_VARARGS | METH_KEYWORDS,
     "Watch the tohost address (None: off)."},
    {"jit_stats", (PyCFunction)Machine_jit_stats, METH_NOARGS, "Translator counters."},
    {NULL},
};

static PyGetSetDef Machine_getset[] = {
    {"ram_slots", (getter)Machine_ram_slots, NULL, NULL, NULL},
    {"harts", (getter)Machine_harts, NULL, NULL, NULL},
    {"sbi_in_vmm", (getter)Machine_get_field, (setter)Machine_set_field, NULL,
     FIELD(machine_t, sbi_in_vmm)},
    {"pause_exit", (getter)Machine_get_field, (setter)Machine_set_field, NULL,
     FIELD(machine_t, pause_exit)},
    {"wfi_window", (getter)Machine_get_field, (setter)Machine_set_wfi_window, NULL,
     FIELD(machine_t, wfi_window)},
    {"pause_window", (getter)Machine_get_field, (setter)Machine_set_pause_window, NULL,
     FIELD(machine_t, pause_window)},
    {"ipi_exit", (getter)Machine_get_field, (setter)Machine_set_field, NULL,
     FIELD(machine_t, ipi_exit)},
    {"sstc", (getter)Machine_get_field, (setter)Machine_set_field, NULL, FIELD(machine_t, sstc)},
    {"vmid", (getter)Machine_get_field, (setter)Machine_set_vmid, NULL, FIELD(machine_t, vmid)},
    {"broadcast_tlbs", (getter)Machine_get_btlbs, (setter)Machine_set_btlbs, NULL, NULL},
    {"time", (getter)Machine_get_time, (setter)Machine_set_time, NULL, NULL},
    {"clock_held", (getter)Machine_get_clock_held, (setter)Machine_set_clock_held, NULL, NULL},
    {"timebase_hz", (getter)Machine_get_field, NULL, NULL, FIELD(machine_t, timebase)},
    {"instret", (getter)Machine_get_field, (setter)Machine_set_instret, NULL,
     FIELD(machine_t, instret)},
    {"jit", (getter)Machine_get_field, (setter)Machine_set_jit, NULL, FIELD(machine_t, jit_on)},
    {"jit_unavailable", (getter)Machine_get_jit_unavailable, NULL, NULL, NULL},
    {NULL},
};


PyTypeObject MachineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "avmm._core.Machine",
    .tp_basicsize = sizeof(MachineObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Guest RAM, clock, in-core irqchip and harts of one VM.",
    .tp_new = Machine_new,
    .tp_traverse = (traverseproc)Machine_traverse,
    .tp_clear = (inquiry)Machine_clear,
    .tp_dealloc = (destructor)Machine_dealloc,
    .tp_methods = Machine_methods,
    .tp_getset = Machine_getset,
};
