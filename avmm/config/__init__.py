"""Config files: the data model (:mod:`.model`) and the TOML format (:mod:`.parse`).

``avmm.config.load(path)`` reads a file into a frozen :class:`Config`; the
names below are what the CLI, the board and tests use.
"""

from avmm.config.model import (
    ApiConfig,
    BootConfig,
    BootMode,
    ClockMode,
    Config,
    ConsoleBackend,
    ConsoleConfig,
    DiskConfig,
    FieldError,
    GdbConfig,
    HostConfig,
    MetricsConfig,
    NetConfig,
    Policy,
    SchedConfig,
    SeriesConfig,
    Size,
    TraceConfig,
    VmConfig,
    parse_host_port,
    parse_range,
)
from avmm.config.parse import (
    DEBIAN_FW_DYNAMIC,
    REPO,
    apply_overrides,
    from_dict,
    load,
    quick_config,
    to_dict,
)

__all__ = [
    "DEBIAN_FW_DYNAMIC",
    "REPO",
    "ApiConfig",
    "BootConfig",
    "BootMode",
    "ClockMode",
    "Config",
    "ConsoleBackend",
    "ConsoleConfig",
    "DiskConfig",
    "FieldError",
    "GdbConfig",
    "HostConfig",
    "MetricsConfig",
    "NetConfig",
    "Policy",
    "SchedConfig",
    "SeriesConfig",
    "Size",
    "TraceConfig",
    "VmConfig",
    "apply_overrides",
    "from_dict",
    "load",
    "parse_host_port",
    "parse_range",
    "quick_config",
    "to_dict",
]
