"""``HOST:PORT`` as a command-line option type, shared by every process the runtime starts (echo workload,
proxy, sidecar): a malformed value is a usage error naming the option, never a traceback."""

from __future__ import annotations

import click

__all__ = ["HOST_PORT", "HostPort"]


class HostPort(click.ParamType):  # type: ignore[type-arg]
    """``HOST:PORT`` -> ``(host, port)``; ``:PORT`` means 127.0.0.1, port 0 lets the system pick."""

    name = "HOST:PORT"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        if isinstance(value, tuple):  # a default given as a tuple, or converted already
            return value
        text = str(value)
        host, _, port = text.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            self.fail(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8080)", param, ctx)
        return host or "127.0.0.1", int(port)


HOST_PORT = HostPort()
