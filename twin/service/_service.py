"""The started service: its runtime, pygeoapi API object, documents and plugin parts."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request

from twin.crs import served_crs
from twin.errors import CollectionNotFound
from twin.plugins import HttpApi, Plugin, WriteCheck
from twin.service import features as feat
from twin.service._runtime import RequestState, Runtime, register, unregister
from twin.service.auth import KeyRing, Role, require
from twin.service.settings import ServiceSettings
from twin.store.base import CollectionSpec, Extent, Feature, FeatureVersion, Store

__all__ = ["TwinService", "plugin_extensions"]

_WORLD = (-180.0, -90.0, 180.0, 90.0)


class TwinService:
    """A started service: runtime, pygeoapi API object and generated documents."""

    def __init__(
        self,
        store: Store,
        settings: ServiceSettings,
        *,
        processes: Mapping[str, Mapping[str, Any]] | None = None,
        workdir: Path,
        extensions: Sequence[HttpApi] = (),
        write_checks: Mapping[str, Sequence[WriteCheck]] | None = None,
    ) -> None:
        from pygeoapi.api import API
        from pygeoapi.openapi import get_oas

        from twin.service.config import KERNEL_PROCESSES, build_config, write_config
        from twin.service.openapi import complete_openapi

        specs = {c.name: c for c in store.collections()}
        extents = {name: store.extent(name) for name in specs}
        boxes = [e.bbox for e in extents.values() if e.bbox is not None]
        city = (
            (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            if boxes
            else _WORLD
        )
        self.runtime = Runtime(
            store=store,
            settings=settings,
            keys=KeyRing.load(settings.api_keys, settings.api_key_file),
            specs=specs,
            city_bbox=city,
            served_crs=served_crs(city),
        )
        register(self.runtime)
        procs = dict(KERNEL_PROCESSES) if processes is None else dict(processes)
        if processes is None:
            procs.update(_plugin_processes())
        procs = {
            name: {"processor": {**p["processor"], "twin_runtime": self.runtime.token}}
            for name, p in procs.items()
        }
        Path(settings.var_dir, "jobs").mkdir(parents=True, exist_ok=True)
        self.config = build_config(self.runtime, extents=extents, processes=procs)
        self.config_path = write_config(self.config, workdir)
        self.openapi = complete_openapi(get_oas(self.config), specs)
        self.extensions = list(extensions)
        for ext in self.extensions:
            self.openapi.setdefault("paths", {}).update(ext.openapi_paths)
        self.write_checks = dict(write_checks or {})
        self.plugin_cache: dict[str, Any] = {}
        self.plugin_lock = threading.Lock()
        self.openapi_path = workdir / "openapi.json"
        self.openapi_path.write_text(json.dumps(self.openapi), encoding="utf-8")
        self.api = API(self.config, self.openapi)
        self.base_url = settings.public_url()
        self.restricted_jobs = _JobMarks(Path(settings.var_dir) / "restricted-jobs.json")

    @property
    def store(self) -> Store:
        return self.runtime.store

    def close(self) -> None:
        from twin.service.examples import forget

        unregister(self.runtime.token)
        forget(self.runtime.token)

    def check_write(
        self, collection: str, old: FeatureVersion | None, new: Feature | None, actor: str
    ) -> Feature | None:
        """Run the plugins' rules for a write to ``collection``: they raise to refuse, and
        may change what is written; returns the feature to write."""
        for check in self.write_checks.get(collection, ()):
            changed = check(old, new, actor)
            if changed is not None and new is not None:
                new = changed
        return new

    # -- catalog -------------------------------------------------------------------
    def spec(self, name: str) -> CollectionSpec:
        spec = self.runtime.specs.get(name)
        if spec is None:
            msg = f"collection {name!r} does not exist"
            raise CollectionNotFound(msg)
        return spec

    def extent(self, name: str) -> Extent:
        """The collection's extent now, also written into pygeoapi's configuration."""
        ext = self.store.extent(name)
        if ext.bbox is not None:
            res = self.api.config["resources"].get(name)
            if res is not None:
                res["extents"]["spatial"]["bbox"] = list(ext.bbox)
        return ext

    # -- access --------------------------------------------------------------------
    def state_for(self, request: Request) -> RequestState:
        key = KeyRing.key_from_headers(request.headers)
        role = self.runtime.keys.role_of(key)
        return RequestState(role=role, actor=feat.actor_of(key))

    def readable(self, spec: CollectionSpec, state: RequestState) -> bool:
        return not spec.restricted or state.role is not None

    def check_read(self, spec: CollectionSpec, state: RequestState) -> None:
        if spec.restricted:
            require(state.role, Role.READER, action=f"reading collection {spec.name!r}")


class _JobMarks:
    """Ids of jobs that read restricted collections, kept in a file across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.ids = set(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            self.ids = set()

    def add(self, job_id: str) -> None:
        self.ids.add(job_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(sorted(self.ids)), encoding="utf-8")


def _plugin_processes() -> dict[str, dict[str, Any]]:
    from twin.plugins import load_plugins

    out: dict[str, dict[str, Any]] = {}
    for plugin in load_plugins():
        out.update(plugin.processes())
    return out


def plugin_extensions(
    plugins: Sequence[Plugin] | None = None,
) -> tuple[list[HttpApi], dict[str, list[WriteCheck]]]:
    """The HTTP endpoints and write rules of ``plugins`` (every registered one by default)."""
    from twin.plugins import load_plugins

    apis: list[HttpApi] = []
    checks: dict[str, list[WriteCheck]] = {}
    for plugin in load_plugins() if plugins is None else plugins:
        api = plugin.http()
        if api is not None:
            apis.append(api)
        for name, check in plugin.write_checks().items():
            checks.setdefault(name, []).append(check)
    return apis, checks
