/*
 * avmm._core: the Python binding of the hart core (the only file that
 * includes Python.h). See avmm/_core.pyi for the contract.
 *
 * A Machine, its harts and the TLBs handed to them are used from one thread;
 * Hart.run releases the GIL around the slice (device threads may keep
 * touching guest RAM through memoryviews, nothing else).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "core.h"

static PyObject *CoreError;

typedef struct {
    PyObject_HEAD
    tlb_t *t;
} TlbObject;

typedef struct MachineObject {
    PyObject_HEAD
    machine_t *m;
    PyObject *harts; /* list of Hart */
    PyObject *slots; /* list of RamSlot */
    PyObject *btlbs; /* tuple of Tlb */
} MachineObject;

typedef struct {
    PyObject_HEAD
    MachineObject *machine;
    hart_t *h;
} HartObject;

typedef struct {
    PyObject_HEAD
    MachineObject *machine;
    ram_slot_t *s;
} RamSlotObject;

static PyTypeObject TlbType, MachineType, HartType, RamSlotType;

/* ------------------------------------------------------------ helpers */

/* an unsigned 64-bit int argument: TypeError if not an int, ValueError if out of range */
static int conv_u64(PyObject *o, void *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "expected an int, got %.80s", Py_TYPE(o)->tp_name);
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "value out of range for an unsigned 64-bit int");
        return 0;
    }
    *(uint64_t *)out = v;
    return 1;
}

static int conv_bool(PyObject *o, void *out)
{
    int r = PyObject_IsTrue(o);
    if (r < 0)
        return 0;
    *(bool *)out = r != 0;
    return 1;
}

static PyObject *u64(uint64_t v)
{
    return PyLong_FromUnsignedLongLong(v);
}

static int set_u64_attr(PyObject *v, uint64_t *dst)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_u64(v, dst) ? 0 : -1;
}

static int set_bool_attr(PyObject *v, bool *dst)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_bool(v, dst) ? 0 : -1;
}

/* dict helpers that steal the value reference */
static int dset(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int r = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return r;
}
static int dset_obj(PyObject *d, PyObject *k, PyObject *v)
{
    if (!k || !v) {
        Py_XDECREF(k);
        Py_XDECREF(v);
        return -1;
    }
    int r = PyDict_SetItem(d, k, v);
    Py_DECREF(k);
    Py_DECREF(v);
    return r;
}

static PyObject *u64_list(const uint64_t *a, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (!l)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *v = u64(a[i]);
        if (!v) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, v);
    }
    return l;
}
static PyObject *u32_list(const uint32_t *a, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    if (!l)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *v = u64(a[i]);
        if (!v) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, v);
    }
    return l;
}

/* state dict access: a required key */
static PyObject *dget(PyObject *d, const char *k)
{
    PyObject *v = PyDict_GetItemString(d, k); /* borrowed */
    if (!v)
        PyErr_Format(PyExc_ValueError, "state lacks %s", k);
    return v;
}
static int dget_u64(PyObject *d, const char *k, uint64_t *out)
{
    PyObject *v = dget(d, k);
    return v && conv_u64(v, out) ? 0 : -1;
}
/* a list of exactly n unsigned ints */
static int list_u64(PyObject *o, uint64_t *out, size_t n, const char *what)
{
    if (!PyList_Check(o) && !PyTuple_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list", what);
        return -1;
    }
    PyObject *seq = PySequence_Fast(o, what);
    if (!seq)
        return -1;
    if ((size_t)PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "%s must have %zu items", what, n);
        Py_DECREF(seq);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!conv_u64(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i), &out[i])) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

/* ------------------------------------------------------------ Tlb */

static int Tlb_init(TlbObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"entries", NULL};
    uint64_t entries = 1024;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O&", kws, conv_u64, &entries))
        return -1;
    if (entries < 16 || entries > 65536 || (entries & (entries - 1))) {
        PyErr_SetString(PyExc_ValueError, "Tlb entries must be a power of two in 16..65536");
        return -1;
    }
    tlb_free(self->t);
    self->t = tlb_new((uint32_t)entries);
    if (!self->t) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void Tlb_dealloc(TlbObject *self)
{
    tlb_free(self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int tlb_ready(TlbObject *self)
{
    if (!self->t) {
        PyErr_SetString(CoreError, "Tlb is not initialised");
        return 0;
    }
    return 1;
}

static PyObject *Tlb_entries(TlbObject *self, void *c)
{
    if (!tlb_ready(self))
        return NULL;
    return u64(self->t->entries);
}

static PyObject *Tlb_flush(TlbObject *self, PyObject *unused)
{
    if (!tlb_ready(self))
        return NULL;
    tlb_flush_all(self->t);
    Py_RETURN_NONE;
}

static int conv_vmid(PyObject *o, void *out)
{
    uint64_t v;
    if (!conv_u64(o, &v))
        return 0;
    if (v > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "vmid must fit in 32 bits");
        return 0;
    }
    *(uint32_t *)out = (uint32_t)v;
    return 1;
}

static int conv_asid(PyObject *o, void *out)
{
    uint64_t v;
    if (!conv_u64(o, &v))
        return 0;
    if (v > 0xffff) {
        PyErr_SetString(PyExc_ValueError, "asid must fit in 16 bits");
        return 0;
    }
    *(int *)out = (int)v;
    return 1;
}

static PyObject *Tlb_flush_vmid(TlbObject *self, PyObject *args)
{
    uint32_t vmid;
    if (!tlb_ready(self) || !PyArg_ParseTuple(args, "O&", conv_vmid, &vmid))
        return NULL;
    tlb_flush_vmid(self->t, vmid);
    Py_RETURN_NONE;
}

static PyObject *Tlb_flush_asid(TlbObject *self, PyObject *args)
{
    uint32_t vmid;
    int asid;
    if (!tlb_ready(self) || !PyArg_ParseTuple(args, "O&O&", conv_vmid, &vmid, conv_asid, &asid))
        return NULL;
    tlb_flush_asid(self->t, vmid, (uint16_t)asid);
    Py_RETURN_NONE;
}

static PyObject *Tlb_flush_page(TlbObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"vmid", "vaddr", "asid", NULL};
    uint32_t vmid;
    uint64_t va;
    PyObject *asid_o = Py_None;
    int asid = -1;
    if (!tlb_ready(self) || !PyArg_ParseTupleAndKeywords(args, kw, "O&O&|O", kws, conv_vmid,
                                                         &vmid, conv_u64, &va, &asid_o))
        return NULL;
    if (asid_o != Py_None && !conv_asid(asid_o, &asid))
        return NULL;
    tlb_flush_page(self->t, vmid, va, asid);
    Py_RETURN_NONE;
}

static PyObject *Tlb_stats(TlbObject *self, PyObject *unused)
{
    if (!tlb_ready(self))
        return NULL;
    tlb_t *t = self->t;
    return Py_BuildValue("{sKsKsKsKsKsKsK}", "hits", (unsigned long long)t->hits, "misses",
                         (unsigned long long)t->misses, "flush_all",
                         (unsigned long long)t->flush_all, "flush_vmid",
                         (unsigned long long)t->flush_vmid, "flush_asid",
                         (unsigned long long)t->flush_asid, "flush_page",
                         (unsigned long long)t->flush_page, "entries_valid",
                         (unsigned long long)tlb_valid_entries(t));
}

static PyMethodDef Tlb_methods[] = {
    {"flush", (PyCFunction)Tlb_flush, METH_NOARGS, "Invalidate every entry."},
    {"flush_vmid", (PyCFunction)Tlb_flush_vmid, METH_VARARGS, "Invalidate one VMID's entries."},
    {"flush_asid", (PyCFunction)Tlb_flush_asid, METH_VARARGS,
     "Invalidate the non-global entries of (vmid, asid)."},
    {"flush_page", (PyCFunction)(void (*)(void))Tlb_flush_page, METH_VARARGS | METH_KEYWORDS,
     "Invalidate the entries mapping vaddr (with asid: that ASID's, globals kept)."},
    {"stats", (PyCFunction)Tlb_stats, METH_NOARGS, "Counters as a dict."},
    {NULL},
};

static PyGetSetDef Tlb_getset[] = {
    {"entries", (getter)Tlb_entries, NULL, "Number of entries.", NULL},
    {NULL},
};

static PyTypeObject TlbType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "avmm._core.Tlb",
    .tp_basicsize = sizeof(TlbObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A modelled host CPU's TLB: set-associative, entries tagged (VMID, ASID).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tlb_init,
    .tp_dealloc = (destructor)Tlb_dealloc,
    .tp_methods = Tlb_methods,
    .tp_getset = Tlb_getset,
};

/* ------------------------------------------------------------ RamSlot */

static int RamSlot_traverse(RamSlotObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->machine);
    return 0;
}

static int RamSlot_clear(RamSlotObject *self)
{
    Py_CLEAR(self->machine);
    return 0;
}

static void RamSlot_dealloc(RamSlotObject *self)
{
    PyObject_GC_UnTrack(self);
    RamSlot_clear(self);
    ram_slot_free(self->s);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int RamSlot_getbuffer(RamSlotObject *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, self->s->host, (Py_ssize_t)self->s->size, 0,
                             flags);
}

static PyBufferProcs RamSlot_as_buffer = {
    .bf_getbuffer = (getbufferproc)RamSlot_getbuffer,
};

static PyObject *RamSlot_base(RamSlotObject *self, void *c)
{
    return u64(self->s->base);
}
static PyObject *RamSlot_size(RamSlotObject *self, void *c)
{
    return u64(self->s->size);
}
static PyObject *RamSlot_index(RamSlotObject *self, void *c)
{
    return PyLong_FromLong(self->s->index);
}
static PyObject *RamSlot_get_dirty_logging(RamSlotObject *self, void *c)
{
    return PyBool_FromLong(self->s->dirty_logging);
}
static int RamSlot_set_dirty_logging(RamSlotObject *self, PyObject *v, void *c)
{
    return set_bool_attr(v, &self->s->dirty_logging);
}

static PyObject *RamSlot_get_dirty_log(RamSlotObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"clear", NULL};
    bool clear = true;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O&", kws, conv_bool, &clear))
        return NULL;
    size_t n = (self->s->size / PAGE_SIZE + 7) / 8;
    PyObject *b = PyBytes_FromStringAndSize((const char *)self->s->dirty, (Py_ssize_t)n);
    if (b && clear)
        memset(self->s->dirty, 0, n);
    return b;
}

static PyObject *RamSlot_mark_dirty(RamSlotObject *self, PyObject *args)
{
    uint64_t off, len;
    if (!PyArg_ParseTuple(args, "O&O&", conv_u64, &off, conv_u64, &len))
        return NULL;
    if (off > self->s->size || len > self->s->size - off) {
        PyErr_SetString(PyExc_ValueError, "range outside the slot");
        return NULL;
    }
    if (self->s->dirty_logging)
        ram_mark_dirty(self->s, off, len);
    if (self->machine)
        break_reservations(self->machine->m, NULL, self->s->base + off, len);
    Py_RETURN_NONE;
}

static PyMethodDef RamSlot_methods[] = {
    {"get_dirty_log", (PyCFunction)(void (*)(void))RamSlot_get_dirty_log,
     METH_VARARGS | METH_KEYWORDS, "Dirty bitmap (one bit per 4 KiB page); clears it by default."},
    {"mark_dirty", (PyCFunction)RamSlot_mark_dirty, METH_VARARGS,
     "Record a host write (DMA) of [offset, offset+length)."},
    {NULL},
};

static PyGetSetDef RamSlot_getset[] = {
    {"base", (getter)RamSlot_base, NULL, "Guest-physical base.", NULL},
    {"size", (getter)RamSlot_size, NULL, "Size in bytes.", NULL},
    {"index", (getter)RamSlot_index, NULL, "Slot number.", NULL},
    {"dirty_logging", (getter)RamSlot_get_dirty_logging, (setter)RamSlot_set_dirty_logging,
     "Mark pages dirty on guest stores.", NULL},
    {NULL},
};

static PyTypeObject RamSlotType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "avmm._core.RamSlot",
    .tp_basicsize = sizeof(RamSlotObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Guest RAM at [base, base + size); a writable zero-copy buffer.",
    .tp_traverse = (traverseproc)RamSlot_traverse,
    .tp_clear = (inquiry)RamSlot_clear,
    .tp_dealloc = (destructor)RamSlot_dealloc,
    .tp_as_buffer = &RamSlot_as_buffer,
    .tp_methods = RamSlot_methods,
    .tp_getset = RamSlot_getset,
};

/* ------------------------------------------------------------ Hart */

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
    Py_RETURN_NONE;
}

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
    return d;
fail_sub:
    Py_XDECREF(sub);
fail:
    Py_DECREF(d);
    return NULL;
}

/* properties */
static PyObject *Hart_get_in_firmware_call(HartObject *self, void *c)
{
    return PyBool_FromLong(self->h->priv == PRIV_M && self->h->fw_call);
}
static PyObject *Hart_get_hartid(HartObject *self, void *c)
{
    HART(self);
    return PyLong_FromLong(h->hartid);
}
static PyObject *Hart_get_machine(HartObject *self, void *c)
{
    if (!hart_ok(self))
        return NULL;
    return Py_NewRef((PyObject *)self->machine);
}
static PyObject *Hart_get_pc(HartObject *self, void *c)
{
    HART(self);
    return u64(h->pc);
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
static PyObject *Hart_get_priv(HartObject *self, void *c)
{
    HART(self);
    return PyLong_FromLong(h->priv);
}
static int Hart_set_priv(HartObject *self, PyObject *v, void *c)
{
    if (!hart_ok(self))
        return -1;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_priv(v, &self->h->priv) ? 0 : -1;
}
static PyObject *Hart_get_instret(HartObject *self, void *c)
{
    HART(self);
    return u64(h->st.instret);
}
static PyObject *Hart_get_mtimecmp(HartObject *self, void *c)
{
    HART(self);
    return u64(h->mtimecmp);
}
static int Hart_set_mtimecmp(HartObject *self, PyObject *v, void *c)
{
    return hart_ok(self) ? set_u64_attr(v, &self->h->mtimecmp) : -1;
}
static PyObject *Hart_get_stimecmp(HartObject *self, void *c)
{
    HART(self);
    return u64(h->stimecmp);
}
static int Hart_set_stimecmp(HartObject *self, PyObject *v, void *c)
{
    return hart_ok(self) ? set_u64_attr(v, &self->h->stimecmp) : -1;
}
static PyObject *Hart_get_mmio_addr(HartObject *self, void *c)
{
    HART(self);
    return u64(h->mmio_addr);
}
static PyObject *Hart_get_mmio_size(HartObject *self, void *c)
{
    HART(self);
    return PyLong_FromLong(h->mmio_size);
}
static PyObject *Hart_get_mmio_value(HartObject *self, void *c)
{
    HART(self);
    return u64(h->mmio_value);
}
static PyObject *Hart_get_htif_value(HartObject *self, void *c)
{
    HART(self);
    return u64(h->htif_value);
}
static PyObject *Hart_get_debug_cause(HartObject *self, void *c)
{
    HART(self);
    return PyLong_FromLong(h->debug_cause);
}
static PyObject *Hart_get_error(HartObject *self, void *c)
{
    HART(self);
    return PyUnicode_FromString(h->error);
}
static PyObject *Hart_get_single_step(HartObject *self, void *c)
{
    HART(self);
    return PyBool_FromLong(h->single_step);
}
static int Hart_set_single_step(HartObject *self, PyObject *v, void *c)
{
    return hart_ok(self) ? set_bool_attr(v, &self->h->single_step) : -1;
}
static PyObject *Hart_get_debug_ebreak(HartObject *self, void *c)
{
    HART(self);
    return PyBool_FromLong(h->debug_ebreak);
}
static int Hart_set_debug_ebreak(HartObject *self, PyObject *v, void *c)
{
    return hart_ok(self) ? set_bool_attr(v, &self->h->debug_ebreak) : -1;
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
    {"state", (PyCFunction)Hart_state, METH_NOARGS, "The whole hart as plain data."},
    {"set_state", (PyCFunction)Hart_set_state, METH_VARARGS, "Restore state()."},
    {"stats", (PyCFunction)Hart_stats, METH_NOARGS, "Counters."},
    {NULL},
};

static PyGetSetDef Hart_getset[] = {
    {"hartid", (getter)Hart_get_hartid, NULL, NULL, NULL},
    {"machine", (getter)Hart_get_machine, NULL, NULL, NULL},
    {"pc", (getter)Hart_get_pc, (setter)Hart_set_pc, NULL, NULL},
    {"priv", (getter)Hart_get_priv, (setter)Hart_set_priv, NULL, NULL},
    {"in_firmware_call", (getter)Hart_get_in_firmware_call, NULL, NULL, NULL},
    {"instret", (getter)Hart_get_instret, NULL, NULL, NULL},
    {"mtimecmp", (getter)Hart_get_mtimecmp, (setter)Hart_set_mtimecmp, NULL, NULL},
    {"stimecmp", (getter)Hart_get_stimecmp, (setter)Hart_set_stimecmp, NULL, NULL},
    {"mmio_addr", (getter)Hart_get_mmio_addr, NULL, NULL, NULL},
    {"mmio_size", (getter)Hart_get_mmio_size, NULL, NULL, NULL},
    {"mmio_value", (getter)Hart_get_mmio_value, NULL, NULL, NULL},
    {"htif_value", (getter)Hart_get_htif_value, NULL, NULL, NULL},
    {"debug_cause", (getter)Hart_get_debug_cause, NULL, NULL, NULL},
    {"error", (getter)Hart_get_error, NULL, NULL, NULL},
    {"single_step", (getter)Hart_get_single_step, (setter)Hart_set_single_step, NULL, NULL},
    {"debug_ebreak", (getter)Hart_get_debug_ebreak, (setter)Hart_set_debug_ebreak, NULL, NULL},
    {NULL},
};

static PyTypeObject HartType = {
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

/* ------------------------------------------------------------ Machine */

static PyObject *Machine_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"timebase_hz", NULL};
    uint64_t tb = 10000000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$O&", kws, conv_u64, &tb))
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

static int list_u32(PyObject *o, uint32_t *out, size_t n, const char *what)
{
    uint64_t tmp[PLIC_MAX_CTX > PLIC_MAX_SRC ? PLIC_MAX_CTX : PLIC_MAX_SRC];
    if (n > sizeof(tmp) / sizeof(tmp[0]) || list_u64(o, tmp, n, what) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] > UINT32_MAX) {
            PyErr_Format(PyExc_ValueError, "%s values must fit in 32 bits", what);
            return -1;
        }
        out[i] = (uint32_t)tmp[i];
    }
    return 0;
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
    Py_RETURN_NONE;
}

/* properties */
#define MACHINE_BOOL(name)                                                                   \
    static PyObject *Machine_get_##name(MachineObject *self, void *c)                        \
    {                                                                                        \
        return PyBool_FromLong(self->m->name);                                               \
    }                                                                                        \
    static int Machine_set_##name(MachineObject *self, PyObject *v, void *c)                 \
    {                                                                                        \
        return set_bool_attr(v, &self->m->name);                                             \
    }
MACHINE_BOOL(sbi_in_vmm)
MACHINE_BOOL(pause_exit)
MACHINE_BOOL(ipi_exit)
MACHINE_BOOL(sstc)

static PyObject *Machine_get_pause_window(MachineObject *self, void *c)
{
    return u64(self->m->pause_window);
}
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
static PyObject *Machine_get_wfi_window(MachineObject *self, void *c)
{
    return u64(self->m->wfi_window);
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
static PyObject *Machine_get_vmid(MachineObject *self, void *c)
{
    return u64(self->m->vmid);
}
static int Machine_set_vmid(MachineObject *self, PyObject *v, void *c)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_vmid(v, &self->m->vmid) ? 0 : -1;
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
static PyObject *Machine_get_timebase(MachineObject *self, void *c)
{
    return u64(self->m->timebase);
}
static PyObject *Machine_get_instret(MachineObject *self, void *c)
{
    return u64(self->m->instret);
}

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
    {NULL},
};

static PyGetSetDef Machine_getset[] = {
    {"ram_slots", (getter)Machine_ram_slots, NULL, NULL, NULL},
    {"harts", (getter)Machine_harts, NULL, NULL, NULL},
    {"sbi_in_vmm", (getter)Machine_get_sbi_in_vmm, (setter)Machine_set_sbi_in_vmm, NULL, NULL},
    {"pause_exit", (getter)Machine_get_pause_exit, (setter)Machine_set_pause_exit, NULL, NULL},
    {"wfi_window", (getter)Machine_get_wfi_window, (setter)Machine_set_wfi_window, NULL, NULL},
    {"pause_window", (getter)Machine_get_pause_window, (setter)Machine_set_pause_window, NULL,
     NULL},
    {"ipi_exit", (getter)Machine_get_ipi_exit, (setter)Machine_set_ipi_exit, NULL, NULL},
    {"sstc", (getter)Machine_get_sstc, (setter)Machine_set_sstc, NULL, NULL},
    {"vmid", (getter)Machine_get_vmid, (setter)Machine_set_vmid, NULL, NULL},
    {"broadcast_tlbs", (getter)Machine_get_btlbs, (setter)Machine_set_btlbs, NULL, NULL},
    {"time", (getter)Machine_get_time, (setter)Machine_set_time, NULL, NULL},
    {"timebase_hz", (getter)Machine_get_timebase, NULL, NULL, NULL},
    {"instret", (getter)Machine_get_instret, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject MachineType = {
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

/* ------------------------------------------------------------ module */

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "avmm._core",
    .m_doc = "The compiled RV64GC hart core of avmm.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *errors = PyImport_ImportModule("avmm.errors");
    if (!errors)
        return NULL;
    CoreError = PyObject_GetAttrString(errors, "CoreError");
    Py_DECREF(errors);
    if (!CoreError)
        return NULL;
    PyTypeObject *types[] = {&TlbType, &RamSlotType, &HartType, &MachineType};
    for (size_t i = 0; i < 4; i++)
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    PyObject *mod = PyModule_Create(&core_module);
    if (!mod)
        return NULL;
    if (PyModule_AddObjectRef(mod, "Tlb", (PyObject *)&TlbType) ||
        PyModule_AddObjectRef(mod, "RamSlot", (PyObject *)&RamSlotType) ||
        PyModule_AddObjectRef(mod, "Hart", (PyObject *)&HartType) ||
        PyModule_AddObjectRef(mod, "Machine", (PyObject *)&MachineType))
        goto fail;
    static const struct {
        const char *name;
        long value;
    } consts[] = {
        {"EXIT_BUDGET", EXIT_BUDGET}, {"EXIT_MMIO_READ", EXIT_MMIO_READ},
        {"EXIT_MMIO_WRITE", EXIT_MMIO_WRITE}, {"EXIT_ECALL", EXIT_ECALL},
        {"EXIT_WFI", EXIT_WFI}, {"EXIT_PAUSE", EXIT_PAUSE}, {"EXIT_DEBUG", EXIT_DEBUG},
        {"EXIT_HTIF", EXIT_HTIF}, {"EXIT_IPI", EXIT_IPI},
        {"EXIT_INTERNAL_ERROR", EXIT_INTERNAL_ERROR},
        {"DEBUG_BREAKPOINT", DEBUG_BREAKPOINT}, {"DEBUG_STEP", DEBUG_STEP},
        {"DEBUG_EBREAK", DEBUG_EBREAK},
        {"PRIV_U", PRIV_U}, {"PRIV_S", PRIV_S}, {"PRIV_M", PRIV_M},
        {"MIP_SSIP", (long)MIP_SSIP}, {"MIP_MSIP", (long)MIP_MSIP},
        {"MIP_STIP", (long)MIP_STIP}, {"MIP_MTIP", (long)MIP_MTIP},
        {"MIP_SEIP", (long)MIP_SEIP}, {"MIP_MEIP", (long)MIP_MEIP},
        {"CLOCK_HOST", CLOCK_HOST}, {"CLOCK_VIRTUAL", CLOCK_VIRTUAL},
    };
    for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
        if (PyModule_AddIntConstant(mod, consts[i].name, consts[i].value))
            goto fail;
    PyObject *names = PyTuple_New(EXIT_COUNT);
    if (!names)
        goto fail;
    for (int i = 0; i < EXIT_COUNT; i++)
        PyTuple_SET_ITEM(names, i, PyUnicode_FromString(exit_names[i]));
    if (PyModule_AddObject(mod, "EXIT_NAMES", names)) {
        Py_DECREF(names);
        goto fail;
    }
    PyObject *csrs = PyDict_New();
    if (!csrs)
        goto fail;
    for (int i = 0; i < csr_names_count; i++)
        if (dset(csrs, csr_names[i].name, PyLong_FromLong(csr_names[i].num))) {
            Py_DECREF(csrs);
            goto fail;
        }
    if (PyModule_AddObject(mod, "CSRS", csrs)) {
        Py_DECREF(csrs);
        goto fail;
    }
    if (PyModule_AddStringConstant(mod, "ISA",
                                   "rv64imafdc_zicntr_zicsr_zifencei_zihintpause"))
        goto fail;
    return mod;
fail:
    Py_DECREF(mod);
    return NULL;
}
