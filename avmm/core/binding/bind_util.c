/*
 * The binding's helpers (declared in binding.h): argument converters, state
 * dict and list conversions, and the generic getter/setter behind the
 * PyGetSetDef tables of plain struct fields.
 */
#include "binding.h"

/* an unsigned 64-bit int argument: TypeError if not an int, ValueError if out of range */
int conv_u64(PyObject *o, void *out)
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

int conv_bool(PyObject *o, void *out)
{
    int r = PyObject_IsTrue(o);
    if (r < 0)
        return 0;
    *(bool *)out = r != 0;
    return 1;
}

int conv_vmid(PyObject *o, void *out)
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

PyObject *u64_list(const uint64_t *a, size_t n)
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

PyObject *u32_list(const uint32_t *a, size_t n)
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
PyObject *dget(PyObject *d, const char *k)
{
    PyObject *v = PyDict_GetItemString(d, k); /* borrowed */
    if (!v)
        PyErr_Format(PyExc_ValueError, "state lacks %s", k);
    return v;
}

int dget_u64(PyObject *d, const char *k, uint64_t *out)
{
    PyObject *v = dget(d, k);
    return v && conv_u64(v, out) ? 0 : -1;
}

/* a list of exactly n unsigned ints */
int list_u64(PyObject *o, uint64_t *out, size_t n, const char *what)
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

int list_u32(PyObject *o, uint32_t *out, size_t n, const char *what)
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

/* ------------------------------------------------------------ table-driven accessors */

PyObject *field_get(const void *base, const field_t *f)
{
    const char *p = (const char *)base + f->off;
    switch (f->kind) {
    case FIELD_U64:
        return u64(*(const uint64_t *)p);
    case FIELD_U32:
        return u64(*(const uint32_t *)p);
    case FIELD_INT:
        return PyLong_FromLong(*(const int *)p);
    case FIELD_BOOL:
        return PyBool_FromLong(*(const bool *)p);
    }
    PyErr_SetString(PyExc_SystemError, "bad field kind");
    return NULL;
}

int field_set(void *base, const field_t *f, PyObject *v)
{
    char *p = (char *)base + f->off;
    switch (f->kind) {
    case FIELD_U64:
        return set_u64_attr(v, (uint64_t *)p);
    case FIELD_BOOL:
        return set_bool_attr(v, (bool *)p);
    default:
        break;
    }
    PyErr_SetString(PyExc_SystemError, "field has no generic setter");
    return -1;
}
