"""The control API: drive a running avmm over a socket (``avmm run --api PATH``).

:mod:`~avmm.api.protocol` is the wire format (line-delimited JSON, QMP-shaped),
:mod:`~avmm.api.client` the blocking client ``avmm ctl`` (:mod:`~avmm.api.ctl`)
and tests share, :mod:`~avmm.api.server` the asyncio server and
:mod:`~avmm.api.commands` its command table. Importing this package loads
the client side only (no runtime, no core).
"""

from avmm.api.client import ApiClient, ApiConnectionError, parse_address
from avmm.api.protocol import ERROR_CLASSES, ApiError

__all__ = ["ERROR_CLASSES", "ApiClient", "ApiConnectionError", "ApiError", "parse_address"]
