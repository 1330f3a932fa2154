"""Host backends behind the device models: consoles, disks and networks.

The names below are imported from their modules on first use, so a run
without disks or networks does not load those backends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module (in this package) that defines it
_EXPORTS = {
    "RawImage": "block",
    "ensure_image": "block",
    "FileChar": "char",
    "NullChar": "char",
    "PtyChar": "char",
    "StdioChar": "char",
    "TcpChar": "char",
    "OverlayImage": "overlay",
    "NullNet": "net",
    "Switch": "net",
    "SwitchPort": "net",
    "UdpLink": "net",
}

__all__ = [
    "FileChar",
    "NullChar",
    "NullNet",
    "OverlayImage",
    "PtyChar",
    "RawImage",
    "StdioChar",
    "Switch",
    "SwitchPort",
    "TcpChar",
    "UdpLink",
    "ensure_image",
]

if TYPE_CHECKING:
    from .block import RawImage as RawImage
    from .block import ensure_image as ensure_image
    from .char import FileChar as FileChar
    from .char import NullChar as NullChar
    from .char import PtyChar as PtyChar
    from .char import StdioChar as StdioChar
    from .char import TcpChar as TcpChar
    from .net import NullNet as NullNet
    from .net import Switch as Switch
    from .net import SwitchPort as SwitchPort
    from .net import UdpLink as UdpLink
    from .overlay import OverlayImage as OverlayImage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
