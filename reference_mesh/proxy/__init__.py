"""The reference mesh's sidecar proxy (data plane).

Public entry points (everything else is internal):

* :class:`~reference_mesh.proxy.config.ProxyConfig` and its parts: the snapshot the control plane produces.
* :class:`Proxy`: ``await proxy.start()``, ``await proxy.apply(config)`` / ``proxy.follow(source)``, ``await
  proxy.stop()``; telemetry at ``proxy.telemetry`` or over the admin endpoint.
* Config sources: :class:`ConfigSource` (protocol), :class:`FileConfigSource`, :class:`QueueConfigSource`,
  :class:`StaticConfigSource`.
* ``python -m reference_mesh.proxy``: one proxy as its own process; :func:`spawn_proxy` starts one and
  returns a :class:`ProxyProcess` (``push(config)``, ``status()``, ``wait_ready()``, ``stop()``).

See docs/reference-mesh/data-plane.md.
"""

from reference_mesh.proxy.config import ProxyConfig
from reference_mesh.proxy.process import ProxyProcess, spawn_proxy
from reference_mesh.proxy.server import ConfigRejected, Proxy
from reference_mesh.proxy.sources import ConfigSource, FileConfigSource, QueueConfigSource, StaticConfigSource
from reference_mesh.proxy.telemetry import Edge, LatencyHistogram, sum_window

__all__ = [
    "ConfigRejected",
    "ConfigSource",
    "Edge",
    "FileConfigSource",
    "LatencyHistogram",
    "Proxy",
    "ProxyConfig",
    "ProxyProcess",
    "QueueConfigSource",
    "StaticConfigSource",
    "spawn_proxy",
    "sum_window",
]
