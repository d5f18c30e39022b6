"""A proxy as a process of its own (``python -m reference_mesh.proxy``), for runtimes and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from reference_mesh.identity import WorkloadCredentials, write_credentials
from reference_mesh.proxy.config import ProxyConfig

__all__ = ["ProxyProcess", "spawn_proxy"]


@dataclass
class ProxyProcess:
    """A running proxy process; :meth:`push` writes a new snapshot to the file the proxy follows."""

    popen: subprocess.Popen[bytes]
    admin: str
    credentials_dir: Path
    config_path: Path

    def push(self, config: ProxyConfig) -> None:
        """Write a new snapshot atomically; the proxy applies it within its poll interval (0.5 s)."""
        tmp = self.config_path.with_name(self.config_path.name + ".tmp")
        tmp.write_text(config.model_dump_json())
        os.replace(tmp, self.config_path)

    def status(self) -> dict[str, object]:
        """The admin endpoint's ``/ready`` document (raises OSError if the proxy does not answer)."""
        try:
            with urllib.request.urlopen(f"http://{self.admin}/ready", timeout=2) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:  # 503 until the first snapshot: still a status document
            return json.loads(exc.read())  # type: ignore[no-any-return]

    def wait_ready(self, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.status().get("ready"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"proxy {self.admin} not ready after {timeout} s")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout``; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        if self.popen.stderr is not None:
            self.popen.stderr.close()
        return code


def spawn_proxy(
    workdir: Path,
    credentials: WorkloadCredentials,
    config: ProxyConfig,
    *,
    admin: str = "127.0.0.1:0",
    env: dict[str, str] | None = None,
) -> ProxyProcess:
    """Write ``credentials`` and ``config`` under ``workdir`` and start a proxy process on them.

    Returns once the process has printed its admin address (:meth:`ProxyProcess.wait_ready` waits for the
    snapshot to be applied). Rotate its certificate with ``write_credentials(proc.credentials_dir, new)``.
    """
    creds_dir, config_path = workdir / "credentials", workdir / "config.json"
    write_credentials(creds_dir, credentials)
    config_path.write_text(config.model_dump_json())
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reference_mesh.proxy",
            "--credentials",
            str(creds_dir),
            "--config",
            str(config_path),
            "--admin",
            admin,
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    assert popen.stderr is not None
    line = popen.stderr.readline()
    try:
        announced = json.loads(line)["admin"]
    except (ValueError, KeyError):
        popen.kill()
        rest = popen.stderr.read().decode(errors="replace")
        raise RuntimeError(f"proxy did not start: {line.decode(errors='replace')}{rest}") from None
    return ProxyProcess(popen, announced, creds_dir, config_path)
