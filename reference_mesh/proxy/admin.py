"""The proxy's loopback admin endpoint (plain HTTP/1.1).

GET /healthz                     200 while the process serves GET /ready                       200 once a
snapshot is applied (else 503); JSON status either way GET /config                      the current snapshot
(JSON) GET /telemetry?since=&until=     per-edge, per-second buckets (unix seconds; see telemetry.py) GET
/metrics                     Prometheus text format (cumulative since start) GET
/tap[?direction=&protocol=&source=&service=]   newline-delimited JSON, one finished request per line
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from reference_mesh.proxy import prometheus
from reference_mesh.proxy.http1 import (
    HttpProtocolError,
    MessageReader,
    RequestHead,
    encode_chunk,
    render_response_head,
)
from reference_mesh.proxy.telemetry import HIST_GROWTH, HIST_MIN_MS

if TYPE_CHECKING:
    from reference_mesh.proxy.server import Proxy

__all__ = ["serve", "status"]


def status(proxy: Proxy) -> dict[str, Any]:
    creds = proxy.tls.credentials
    return {
        "ready": proxy.ready,
        "version": proxy.version,
        "identity": creds.spiffe_id.uri,
        "certificate": {
            "not_before": creds.not_before.isoformat(),
            "not_after": creds.not_after.isoformat(),
            "serial": f"{creds.certificate.serial_number:x}",
        },
        "applied_at": proxy.state.applied_at if proxy.ready else None,
        "config_error": proxy.last_error,
        "source_error": getattr(proxy.source, "last_error", None),
        "uptime_s": round(time.time() - proxy.started_at, 3),
    }


def telemetry_json(proxy: Proxy, since: float, until: float | None) -> dict[str, Any]:
    workload = proxy.state.config.workload.model_dump(mode="json") if proxy.ready else None
    return {
        "identity": proxy.identity_uri,
        "workload": workload,
        "version": proxy.version,
        "now": time.time(),
        "histogram": {"min_ms": HIST_MIN_MS, "growth": HIST_GROWTH},
        "edges": proxy.telemetry.to_json(since, until),
    }


def _reply(writer: asyncio.StreamWriter, status_code: int, body: bytes, content_type: str) -> None:
    head = render_response_head(
        status_code,
        "OK" if status_code == 200 else "Error",
        [("content-type", content_type), ("content-length", str(len(body)))],
    )
    writer.write(head + body)


def _json(writer: asyncio.StreamWriter, status_code: int, data: Any) -> None:
    _reply(writer, status_code, json.dumps(data, indent=None).encode() + b"\n", "application/json")


async def _tap(
    proxy: Proxy, query: dict[str, list[str]], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Stream events until the client goes away (its end of the connection closes) or the proxy stops."""
    filters = {k: v[0] for k, v in query.items() if k in ("direction", "protocol", "source", "service")}

    def accept(event: dict[str, Any]) -> bool:
        return all(str(event.get(k)) == v for k, v in filters.items())

    writer.write(
        render_response_head(
            200, "OK", [("content-type", "application/x-ndjson"), ("transfer-encoding", "chunked")]
        )
    )
    await writer.drain()

    async def pump() -> None:
        async for event in proxy.tap.subscribe(accept):
            writer.write(encode_chunk(json.dumps(event).encode() + b"\n"))
            await writer.drain()

    streaming = asyncio.ensure_future(pump())
    client_gone = asyncio.ensure_future(reader.read())
    try:
        await asyncio.wait({streaming, client_gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (streaming, client_gone):
            task.cancel()
        await asyncio.gather(streaming, client_gone, return_exceptions=True)


async def serve(proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    messages = MessageReader(reader, response=False)
    try:
        while isinstance(head := await messages.next_head(), RequestHead):
            if head.framing != "none":  # a body-less request's end was consumed with its head
                while await messages.next_body() is not None:
                    pass
            path, _, qs = head.target.partition("?")
            query = parse_qs(qs)
            if head.method != "GET":
                _json(writer, 405, {"error": "only GET"})
            elif path == "/healthz":
                _reply(writer, 200, b"ok\n", "text/plain")
            elif path == "/ready":
                _json(writer, 200 if proxy.ready else 503, status(proxy))
            elif path == "/config":
                if proxy.ready:
                    _reply(writer, 200, proxy.state.config.model_dump_json().encode(), "application/json")
                else:
                    _json(writer, 404, {"error": "no snapshot applied yet"})
            elif path == "/telemetry":
                try:
                    since = float(query.get("since", ["0"])[0])
                    until = float(query["until"][0]) if "until" in query else None
                except ValueError:
                    _json(writer, 400, {"error": "since/until must be unix seconds"})
                else:
                    _json(writer, 200, telemetry_json(proxy, since, until))
            elif path == "/metrics":
                _reply(
                    writer,
                    200,
                    prometheus.render(proxy.telemetry, proxy.version).encode(),
                    "text/plain; version=0.0.4",
                )
            elif path == "/tap":
                await _tap(proxy, query, reader, writer)
                break
            else:
                _json(writer, 404, {"error": f"no such endpoint {path}"})
            await writer.drain()
    except (HttpProtocolError, ConnectionError, OSError):
        pass
    finally:
        writer.close()
