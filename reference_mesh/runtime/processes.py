"""Child processes of the embedded mesh (applications and sidecars), kubelet-style.

Each child runs in its own session (a terminal's Ctrl-C reaches only ``reference-mesh up``, which then stops
the children in order) and is told by the kernel to exit if ``up`` itself dies (``PR_SET_PDEATHSIG``), so
nothing outlives the mesh. A child that exits while the mesh is running is *crashed*: ``on_exit`` is called
(the runtime marks its Pod not ready), and it is restarted after a backoff that doubles from 0.5 s to 10 s
(kubelet's CrashLoopBackOff idea); ``restarts`` counts it. Output goes to a log file per child.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ChildProcess"]

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ChildProcess:
    name: str
    argv: Sequence[str]
    log_path: Path
    on_exit: Callable[[ChildProcess], Awaitable[None]] | None = None
    on_start: Callable[[ChildProcess], Awaitable[None]] | None = None
    restart: bool = True
    #: The environment (None: this process's) and working directory (None: this process's).
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    last_exit: int | None = None
    state: str = "pending"  # pending | running | crashed | stopped
    started_at: float | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _stopping: bool = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.state == "running" else None

    async def start(self) -> None:
        await self._spawn()
        self._task = asyncio.ensure_future(self._watch())

    async def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logfile = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it; closed below once handed over
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                env=None if self.env is None else dict(self.env),
                cwd=self.cwd,
            )
        finally:
            logfile.close()
        self.state, self.started_at = "running", time.time()
        if self.on_start is not None:
            await self.on_start(self)

    async def _watch(self) -> None:
        backoff = 0.5
        while True:
            assert self.process is not None
            code = await self.process.wait()
            if self._stopping:
                self.state = "stopped"
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)  # what it left behind goes with it, as in a pod
            self.last_exit, self.state = code, "crashed"
            log.warning("%s exited with %s", self.name, code)
            if self.on_exit is not None:
                await self.on_exit(self)
            if not self.restart:
                return
            lived = time.time() - (self.started_at or 0)
            backoff = 0.5 if lived > 30 else min(10.0, backoff * 2)
            await asyncio.sleep(backoff)
            if self._stopping:
                return
            self.restarts += 1
            await self._spawn()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (tests use it to crash a workload); the watcher then restarts the process."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)

    async def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM to its process group (a user's ``sh -c`` command has children), then SIGKILL to what is
        left after ``timeout`` or once the process itself is gone; waits until the process is gone."""
        self._stopping = True
        proc = self.process
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group (start_new_session: pgid = pid)
            await proc.wait()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # never swallows our own cancellation
        self.state = "stopped"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "state": self.state,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(self.log_path),
        }
