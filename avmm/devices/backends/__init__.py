"""Host backends behind the device models: consoles, disks and networks."""

from .block import RawImage, ensure_image
from .char import FileChar, NullChar, PtyChar, StdioChar, TcpChar
from .net import NullNet, Switch, SwitchPort, UdpLink
from .overlay import OverlayImage

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
