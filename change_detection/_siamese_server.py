"""A long-lived siamese worker per process, so that tiled detection starts PyTorch once.

:func:`change_detection.siamese.predict` hands its pairs file to the worker of its
(interpreter, weights file, threads, turned/flipped averaging) and waits for the answer,
one request at a time per worker. A worker that dies is started again on the next request;
the workers end with the process.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from change_detection.siamese import worker_env, worker_failure

__all__ = ["WorkerServer", "server_for", "stop_servers"]


class WorkerServer:
    """One ``siamese_worker.py serve`` process and its request lock."""

    def __init__(self, python: str, worker: Path, weights: Path, *, threads: int, tta: bool):
        args = [python, str(worker), "serve", f"--weights={weights}", f"--threads={threads}"]
        self.proc = subprocess.Popen(
            [*args, *([] if tta else ["--no-tta"])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=worker_env(),
        )
        self.python = python
        self.lock = threading.Lock()
        first = self._line()
        if first is None:
            err = self._stderr()
            code = self.proc.wait()
            raise worker_failure(python, err.splitlines(), code)
        self.info: dict[str, Any] = json.loads(first)

    def _line(self) -> str | None:
        out: IO[str] | None = self.proc.stdout
        line = out.readline() if out is not None else ""
        return line if line else None

    def _stderr(self) -> str:
        err: IO[str] | None = self.proc.stderr
        return err.read() if err is not None else ""

    def alive(self) -> bool:
        """Whether the worker process still runs."""
        return self.proc.poll() is None

    def predict(self, data: Path, out: Path) -> dict[str, Any]:
        """Predict the pairs file ``data`` into ``out``; the worker's answer."""
        with self.lock:
            stdin = self.proc.stdin
            try:
                assert stdin is not None
                stdin.write(json.dumps({"data": str(data), "out": str(out)}) + "\n")
                stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # the worker is gone: its stderr says why
            line = self._line()
            if line is None:
                err = self._stderr()
                raise worker_failure(self.python, err.splitlines(), self.proc.wait())
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise worker_failure(self.python, [f"error: {answer['error']}"], 2)
        return answer

    def stop(self) -> None:
        """End the worker (closing its input ends its loop)."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


_LOCK = threading.Lock()
#: Running workers, least recently used first.
_SERVERS: dict[tuple[str, str, int, int, bool], WorkerServer] = {}
#: Most workers kept at once (each holds PyTorch and a model in memory).
MAX_SERVERS = 2


def server_for(
    python: str, worker: Path, weights: Path, *, threads: int, tta: bool
) -> WorkerServer:
    """The running worker for these settings (started, or started again, when needed); a
    weights file rewritten since gets a new worker."""
    key = (python, str(weights.resolve()), weights.stat().st_mtime_ns, threads, tta)
    with _LOCK:
        found = _SERVERS.pop(key, None)
        if found is not None and found.alive():
            _SERVERS[key] = found  # now the most recently used
            return found
        if found is not None:
            found.stop()
        for k in [k for k in _SERVERS if k[:2] == key[:2]]:
            _SERVERS.pop(k).stop()  # the same file, since rewritten
        while len(_SERVERS) >= MAX_SERVERS:
            _SERVERS.pop(next(iter(_SERVERS))).stop()
        server = WorkerServer(python, worker, weights, threads=threads, tta=tta)
        _SERVERS[key] = server
        return server


def stop_servers() -> None:
    """End every worker of this process."""
    with _LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for s in servers:
        s.stop()


atexit.register(stop_servers)
