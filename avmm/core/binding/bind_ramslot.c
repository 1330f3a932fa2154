/*
 * avmm._core.RamSlot: one slot of guest RAM (ram_slot_t, machine.c) as a
 * Python type: a zero-copy writable buffer, its dirty log and host writes.
 * Slots are made by Machine.add_ram (bind_machine.c).
 */
#include "binding.h"
#include "jit.h"

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

/* a plain field of ram_slot_t (closure: FIELD(ram_slot_t, name)) */
static PyObject *RamSlot_get_field(RamSlotObject *self, void *c)
{
    return field_get(self->s, c);
}

static int RamSlot_set_dirty_logging(RamSlotObject *self, PyObject *v, void *c)
{
    if (field_set(self->s, c, v))
        return -1;
    if (self->s->dirty_logging && self->machine)
        machine_fc_invalidate(self->machine->m, true); /* clean pages get no store entry */
    return 0;
}

static PyObject *RamSlot_get_dirty_log(RamSlotObject *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"clear", NULL};
    bool clear = true;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O&", kws, conv_bool, &clear))
        return NULL;
    size_t n = (self->s->size / PAGE_SIZE + 7) / 8;
    PyObject *b = PyBytes_FromStringAndSize((const char *)self->s->dirty, (Py_ssize_t)n);
    if (b && clear) {
        memset(self->s->dirty, 0, n);
        /* pages clean again: a store to one must mark it (no store entry) */
        if (self->s->dirty_logging && self->machine)
            machine_fc_invalidate(self->machine->m, true);
    }
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
    if (self->machine) {
        break_reservations(self->machine->m, NULL, self->s->base + off, len);
        jit_note_host_write(self->machine->m, self->s->base + off, len);
    }
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
    {"base", (getter)RamSlot_get_field, NULL, "Guest-physical base.", FIELD(ram_slot_t, base)},
    {"size", (getter)RamSlot_get_field, NULL, "Size in bytes.", FIELD(ram_slot_t, size)},
    {"index", (getter)RamSlot_get_field, NULL, "Slot number.", FIELD(ram_slot_t, index)},
    {"dirty_logging", (getter)RamSlot_get_field, (setter)RamSlot_set_dirty_logging,
     "Mark pages dirty on guest stores.", FIELD(ram_slot_t, dirty_logging)},
    {NULL},
};

PyTypeObject RamSlotType = {
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
