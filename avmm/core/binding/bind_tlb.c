/*
 * avmm._core.Tlb: a modelled host CPU's TLB (tlb_t, mmu.c) as a Python type:
 * construction, flushes by scope, counters.
 */
#include "binding.h"

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

/* a plain field of tlb_t (closure: FIELD(tlb_t, name)) */
static PyObject *Tlb_get_field(TlbObject *self, void *c)
{
    if (!tlb_ready(self))
        return NULL;
    return field_get(self->t, c);
}

static PyObject *Tlb_flush(TlbObject *self, PyObject *unused)
{
    if (!tlb_ready(self))
        return NULL;
    tlb_flush_all(self->t);
    Py_RETURN_NONE;
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
    {"entries", (getter)Tlb_get_field, NULL, "Number of entries.", FIELD(tlb_t, entries)},
    {NULL},
};

PyTypeObject TlbType = {
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
