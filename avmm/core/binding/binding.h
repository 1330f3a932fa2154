/*
 * The CPython binding's shared part: the object structs of the four Python
 * types (Tlb, RamSlot, Hart, Machine), their type objects (each defined in its
 * own bind_*.c), argument converters, dict/list helpers and the table-driven
 * accessors for plain fields of the C structs. Only the binding (module.c and
 * binding/) includes this header, and with it Python.h.
 */
#ifndef AVMM_BINDING_H
#define AVMM_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#include "core.h"

/* avmm.errors.CoreError, looked up by PyInit__core (module.c) */
extern PyObject *CoreError;

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

extern PyTypeObject TlbType;     /* bind_tlb.c */
extern PyTypeObject RamSlotType; /* bind_ramslot.c */
extern PyTypeObject HartType;    /* bind_hart.c */
extern PyTypeObject MachineType; /* bind_machine.c */

/* ------------------------------------------------------------ converters (bind_util.c) */

/* O& converters: 1 on success, 0 with an exception set */
int conv_u64(PyObject *o, void *out);  /* uint64_t (TypeError, ValueError) */
int conv_bool(PyObject *o, void *out); /* bool: the truth value */
int conv_vmid(PyObject *o, void *out); /* uint32_t */

/* state dict access: a required key (borrowed; ValueError "state lacks KEY") */
PyObject *dget(PyObject *d, const char *k);
int dget_u64(PyObject *d, const char *k, uint64_t *out);
/* a list (or tuple) of exactly n unsigned ints into out; 0 or -1 */
int list_u64(PyObject *o, uint64_t *out, size_t n, const char *what);
int list_u32(PyObject *o, uint32_t *out, size_t n, const char *what);
/* new lists of ints */
PyObject *u64_list(const uint64_t *a, size_t n);
PyObject *u32_list(const uint32_t *a, size_t n);

static inline PyObject *u64(uint64_t v)
{
    return PyLong_FromUnsignedLongLong(v);
}

static inline int set_u64_attr(PyObject *v, uint64_t *dst)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_u64(v, dst) ? 0 : -1;
}

static inline int set_bool_attr(PyObject *v, bool *dst)
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted");
        return -1;
    }
    return conv_bool(v, dst) ? 0 : -1;
}

/* dict helpers that steal the value reference (and the key's, for dset_obj) */
static inline int dset(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int r = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return r;
}

static inline int dset_obj(PyObject *d, PyObject *k, PyObject *v)
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

/* a Tlb made by Tlb(): CoreError if its __init__ never ran */
static inline int tlb_ready(TlbObject *self)
{
    if (!self->t) {
        PyErr_SetString(CoreError, "Tlb is not initialised");
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ table-driven accessors */

/*
 * A plain field of a C struct (hart_t, machine_t, tlb_t, ram_slot_t), passed
 * as the closure of a PyGetSetDef: FIELD(hart_t, mtimecmp). The kind follows
 * from the field's declared type, so a table entry cannot misread a field.
 * Reading: uint64_t and uint32_t as unsigned ints, int as a signed int, bool
 * as a bool. Writing (field_set): uint64_t and bool only; attributes with
 * checks or side effects keep their own setter.
 */
typedef enum { FIELD_U64, FIELD_U32, FIELD_INT, FIELD_BOOL } field_kind_t;

typedef struct {
    size_t off;
    field_kind_t kind;
} field_t;

#define FIELD_KIND(lvalue)                                                                   \
    _Generic((lvalue), uint64_t: FIELD_U64, uint32_t: FIELD_U32, int: FIELD_INT, bool: FIELD_BOOL)
#define FIELD(type, member)                                                                  \
    ((void *)&(field_t){offsetof(type, member), FIELD_KIND(((type *)0)->member)})

PyObject *field_get(const void *base, const field_t *f);
int field_set(void *base, const field_t *f, PyObject *v); /* 0 or -1 */

#endif
