"""The job manager: asynchronous jobs on disk, synchronous runs in memory only.

pygeoapi's TinyDB manager records every execution as a job in one JSON file, which it
reads and rewrites whole on every change, and writes every result to a file. For a
synchronous execution (the answer goes back in the response) nothing of that is ever
read again, yet each one made the next slower and the disk fuller. This manager keeps
asynchronous jobs in TinyDB as before, so that they survive a restart, and lets
synchronous runs leave no trace.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pygeoapi.process.manager.tinydb_ import TinyDBManager
from pygeoapi.util import RequestedProcessExecutionMode

__all__ = ["TwinJobManager"]

_SYNC: ContextVar[bool] = ContextVar("twin_sync_execution", default=False)


class TwinJobManager(TinyDBManager):
    """TinyDB for asynchronous jobs; synchronous executions are not recorded."""

    def __init__(self, manager_def: dict[str, Any]) -> None:
        super().__init__(manager_def)
        self._memory: dict[str, dict[str, Any]] = {}
        self._memory_lock = threading.Lock()

    def _runs_sync(self, process_id: str, execution_mode: Any) -> bool:
        options = self.get_processor(process_id).metadata.get("jobControlOptions", [])
        if "sync-execute" not in options:
            return False
        return bool(execution_mode != RequestedProcessExecutionMode.respond_async)

    def execute_process(
        self, process_id: str, data_dict: dict[str, Any], execution_mode: Any = None, **kw: Any
    ) -> Any:
        sync = self._runs_sync(process_id, execution_mode)
        token = _SYNC.set(sync)
        try:
            out = super().execute_process(process_id, data_dict, execution_mode, **kw)
        finally:
            _SYNC.reset(token)
        if sync:
            with self._memory_lock:
                record = self._memory.pop(out[0], None)
            location = (record or {}).get("location")
            if location and location != "None":
                Path(location).unlink(missing_ok=True)
        return out

    def add_job(self, job_metadata: dict[str, Any]) -> str:
        if _SYNC.get():
            job_id = str(job_metadata["identifier"])
            with self._memory_lock:
                self._memory[job_id] = dict(job_metadata)
            return job_id
        return str(super().add_job(job_metadata))

    def update_job(self, job_id: str, update_dict: dict[str, Any]) -> bool:
        with self._memory_lock:
            record = self._memory.get(job_id)
            if record is not None:
                record.update(update_dict)
                return True
        return bool(super().update_job(job_id, update_dict))
