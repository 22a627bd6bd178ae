"""The job manager: asynchronous jobs on disk, synchronous runs in memory only.

pygeoapi's TinyDB manager records every execution as a job in one JSON file, which it
reads and rewrites whole on every change, and writes every result to a file. For a
synchronous execution (the answer goes back in the response) nothing of that is ever
read again, yet each one made the next slower and the disk fuller. This manager keeps
asynchronous jobs in TinyDB as before, so that they survive a restart, and lets
synchronous runs leave no trace.

A synchronous run that fails answers with the status of the error that failed it (404 for
an unknown code, 422 for an impossible computation ...): pygeoapi would answer every
failure 400.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pygeoapi.process.base import ProcessorExecuteError
from pygeoapi.process.manager.tinydb_ import TinyDBManager
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode

__all__ = ["FAILURE_KEY", "TwinJobManager", "job_failure"]

#: Where a failed asynchronous job keeps the status, code and message of its failure.
FAILURE_KEY = "twin_failure"


@dataclass
class _SyncRun:
    """The jobs a synchronous execution recorded in memory."""

    job_ids: list[str] = field(default_factory=list)


_SYNC: ContextVar[_SyncRun | None] = ContextVar("twin_sync_execution", default=None)


class TwinJobManager(TinyDBManager):
    """TinyDB for asynchronous jobs; synchronous executions are not recorded."""

    def __init__(self, manager_def: dict[str, Any]) -> None:
        super().__init__(manager_def)
        self._memory: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, dict[str, Any]] = {}
        self._memory_lock = threading.Lock()

    def _runs_sync(self, process_id: str, execution_mode: Any) -> bool:
        options = self.get_processor(process_id).metadata.get("jobControlOptions", [])
        if "sync-execute" not in options:
            return False
        return bool(execution_mode != RequestedProcessExecutionMode.respond_async)

    def execute_process(
        self, process_id: str, data_dict: dict[str, Any], execution_mode: Any = None, **kw: Any
    ) -> Any:
        run = _SyncRun() if self._runs_sync(process_id, execution_mode) else None
        token = _SYNC.set(run)
        try:
            return super().execute_process(process_id, data_dict, execution_mode, **kw)
        finally:
            _SYNC.reset(token)
            for job_id in run.job_ids if run is not None else ():
                with self._memory_lock:
                    record = self._memory.pop(job_id, None)
                location = (record or {}).get("location")
                if location and location != "None":
                    Path(location).unlink(missing_ok=True)

    def _execute_handler_sync(
        self, p: Any, job_id: str, data_dict: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        failures: list[ProcessorExecuteError] = []
        execute = p.execute
        asynchronous = _SYNC.get() is None

        def keep_failure(*a: Any, **k: Any) -> Any:
            try:
                return execute(*a, **k)
            except ProcessorExecuteError as err:
                failures.append(err)
                if asynchronous:
                    # pygeoapi records every failure as a 400; the job keeps what it was,
                    # written in the same update that marks it failed (see update_job)
                    with self._memory_lock:
                        self._failures[job_id] = _failure(err)
                raise

        p.execute = keep_failure
        try:
            out = super()._execute_handler_sync(p, job_id, data_dict, *args, **kw)
        finally:
            with self._memory_lock:
                self._failures.pop(job_id, None)
        if asynchronous or out[2] != JobStatus.failed or not failures:
            return out
        if _failure(failures[-1])["status"] != 400:
            # an error other than 400 (404, 409, 422, a server fault's 500) keeps its
            # status; pygeoapi would answer every failure 400
            raise failures[-1]
        return out

    def add_job(self, job_metadata: dict[str, Any]) -> str:
        run = _SYNC.get()
        if run is not None:
            job_id = str(job_metadata["identifier"])
            with self._memory_lock:
                self._memory[job_id] = dict(job_metadata)
            run.job_ids.append(job_id)
            return job_id
        return str(super().add_job(job_metadata))

    def update_job(self, job_id: str, update_dict: dict[str, Any]) -> bool:
        with self._memory_lock:
            failure = self._failures.get(job_id)
            if failure is not None and update_dict.get("status") == JobStatus.failed.value:
                # the status document's message is the error's own ("InvalidParameterValue:
                # Error executing process: ..." from pygeoapi otherwise, whatever the error)
                update_dict = {
                    **update_dict,
                    FAILURE_KEY: failure,
                    "message": failure["description"],
                }
            record = self._memory.get(job_id)
            if record is not None:
                record.update(update_dict)
                return True
        return bool(super().update_job(job_id, update_dict))


def _failure(err: ProcessorExecuteError) -> dict[str, Any]:
    status = int(getattr(err, "http_status_code", 400) or 400)
    return {"status": status, "code": err.ogc_exception_code, "description": err.message}


def job_failure(job: dict[str, Any]) -> tuple[int, str, str]:
    """The HTTP status, OGC exception code and message of a failed job.

    A job failed by a twin processor recorded them (see
    :meth:`TwinJobManager._execute_handler_sync`); for any other failure they come from
    pygeoapi's message, ``"<code>: Error executing process: <reason>"``, as a 400.
    """
    failure = job.get(FAILURE_KEY)
    if isinstance(failure, dict):
        return int(failure["status"]), str(failure["code"]), str(failure["description"])
    code, _, reason = str(job.get("message") or "the job failed").partition(": ")
    reason = reason.removeprefix("Error executing process: ") or code
    return 400, code if reason != code else "InvalidParameterValue", reason
