/*
 * avmm._core: the Python binding of the hart core. See avmm/_core.pyi for the
 * contract. This file is the module: CoreError, the four types readied and
 * added, the constants (EXIT_*, DEBUG_*, PRIV_*, MIP_*, CLOCK_*, ...), EXIT_NAMES,
 * CSRS and ISA. Each type lives in its own file under binding/ (bind_tlb.c,
 * bind_ramslot.c, bind_hart.c, bind_machine.c; shared helpers in binding.h and
 * bind_util.c). Only the binding includes Python.h.
 *
 * A Machine, its harts and the TLBs handed to them are used from one thread;
 * Hart.run releases the GIL around the slice (device threads may keep
 * touching guest RAM through memoryviews, nothing else).
 */
#include "binding/binding.h"

PyObject *CoreError;

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
        {"DEBUG_WATCHPOINT", DEBUG_WATCHPOINT}, {"WATCH_LOAD", WATCH_LOAD},
        {"WATCH_STORE", WATCH_STORE},
        {"DEBUG_TRACE", DEBUG_TRACE}, {"TRACE_TRAPS", TRACE_TRAPS}, {"TRACE_INSNS", TRACE_INSNS},
        {"TR_INSN", TR_INSN}, {"TR_TRAP", TR_TRAP}, {"TR_IRQ", TR_IRQ},
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
