"""The handlers of processes and jobs: descriptions, execution, job status and results.

Executing a process needs the role its processor names; a job over restricted
collections is kept from callers without a key; a failed job's results are its
exception document.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from twin.errors import InvalidInput
from twin.service._bridge import answer_doc, call_pygeoapi, is_json_answer, to_response
from twin.service._runtime import RequestState
from twin.service._service import TwinService
from twin.service.auth import Role, require
from twin.service.body import parse_json, read_body
from twin.service.errors import NoSuchJob, exception_document
from twin.service.jobs import job_failure
from twin.service.params import Endpoint, check_known

__all__ = ["execute", "jobs", "processes"]

_EXECUTE_SHAPE = 'a JSON object with an "inputs" object'


async def processes(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.processes import describe_processes

    pid = request.path_params.get("process_id")
    check_known(request.query_params, Endpoint.PROCESSES)
    return to_response(*await call_pygeoapi(svc.api, describe_processes, request, pid))


async def execute(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.processes import execute_process

    from twin.service.processes import requested_collections

    body = await read_body(request)
    restricted = False
    doc = (
        parse_json(body, what="the execute request", hint=f"send {_EXECUTE_SHAPE}")
        if body.strip()
        else None
    )
    inputs = doc.get("inputs", {}) if isinstance(doc, dict) else None
    if not isinstance(inputs, dict):
        msg = f"the execute request must be {_EXECUTE_SHAPE}"
        raise InvalidInput(msg)
    res = svc.config["resources"].get(request.path_params["process_id"], {})
    needed = res.get("processor", {}).get("twin_role") if res.get("type") == "process" else None
    if needed:
        pid = request.path_params["process_id"]
        require(state.role, Role.parse(str(needed)), action=f"executing process {pid!r}")
    names = requested_collections(inputs)
    for name in names or ():
        spec = svc.runtime.specs.get(name)
        if spec is not None and spec.restricted:
            svc.check_read(spec, state)
            restricted = True
    headers, status, content = await call_pygeoapi(
        svc.api, execute_process, request, request.path_params["process_id"], body=body
    )
    if status != 201:
        # Only an accepted asynchronous job is kept; a synchronous run leaves no job.
        headers.pop("Location", None)
    if restricted:
        loc = headers.get("Location", "")
        job_id = loc.rstrip("/").rsplit("/", 1)[-1] if "/jobs/" in loc else None
        if job_id:
            svc.restricted_jobs.add(job_id)
    return to_response(headers, status, content)


def _json_unless_html(request: Request) -> dict[str, str] | None:
    """The query with ``f=json`` when neither ``f`` nor the ``Accept`` header asks for HTML.

    pygeoapi answers a request that names no format (``Accept: */*``, curl's default) with
    HTML; an API client expects JSON. A browser asks for ``text/html`` and still gets it.
    """
    if "f" in request.query_params or "text/html" in request.headers.get("accept", ""):
        return None
    return {**request.query_params, "f": "json"}


def _job(svc: TwinService, job_id: str) -> dict[str, Any]:
    from pygeoapi.process.base import JobNotFoundError

    try:
        job: dict[str, Any] = svc.api.manager.get_job(job_id)
    except JobNotFoundError:
        msg = f"no job {job_id!r} on this service (it may have been dismissed)"
        raise NoSuchJob(msg) from None
    return job


async def jobs(request: Request, svc: TwinService, state: RequestState) -> Response:
    from pygeoapi.api.processes import delete_job, get_job_result, get_jobs

    job_id = request.path_params.get("job_id")
    check_known(request.query_params, Endpoint.JOBS)
    params = _json_unless_html(request)
    if job_id is not None and job_id in svc.restricted_jobs.ids:
        require(state.role, Role.READER, action="reading a job over restricted collections")
    if job_id is None:
        headers, status, content = await call_pygeoapi(svc.api, get_jobs, request, params=params)
        if is_json_answer(headers, status) and state.role is None and svc.restricted_jobs.ids:
            doc = answer_doc(content)
            doc["jobs"] = [
                j for j in doc.get("jobs", []) if j.get("jobID") not in svc.restricted_jobs.ids
            ]
            content = json.dumps(doc)
        return to_response(headers, status, content)
    job = _job(svc, job_id)
    if request.url.path.endswith("/results"):
        if job.get("status") == "failed":
            code_status, code, reason = job_failure(job)
            return Response(
                exception_document(code_status, code, f"job {job_id!r} failed: {reason}"),
                status_code=code_status,
                media_type="application/json",
            )
        return to_response(
            *await call_pygeoapi(svc.api, get_job_result, request, job_id, params=params)
        )
    if request.method == "DELETE":
        require(state.role, Role.EDITOR, action="dismissing a job")
        return to_response(
            *await call_pygeoapi(svc.api, delete_job, request, job_id, params=params)
        )
    return to_response(*await call_pygeoapi(svc.api, get_jobs, request, job_id, params=params))
