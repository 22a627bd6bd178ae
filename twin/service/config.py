"""The pygeoapi configuration, generated from the catalog when the service starts.

Every collection of the store becomes a pygeoapi resource served by
:class:`~twin.service.provider.TwinProvider`; every process a plugin
registers, plus the kernel's own, becomes a process resource. No YAML is kept by hand:
a new layer or process appears by being registered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twin.crs import CRS84
from twin.service._runtime import Runtime
from twin.service.provider import field_schema
from twin.store.base import CollectionSpec, Extent

__all__ = ["KERNEL_PROCESSES", "build_config", "collection_extent", "write_config"]

logger = logging.getLogger(__name__)

WORLD = (-180.0, -90.0, 180.0, 90.0)

#: Templates of the twin's own that replace pygeoapi's of the same name.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

#: The kernel's own processes: name -> pygeoapi processor definition.
KERNEL_PROCESSES: dict[str, dict[str, Any]] = {
    "features-in-polygon": {
        "processor": {"name": "twin.service.processes.FeaturesInPolygonProcessor"}
    },
}


def collection_extent(extent: Extent, *, fallback: tuple[float, ...]) -> dict[str, Any]:
    """A pygeoapi ``extents`` block from a store extent (spatial part only).

    The temporal part is added to the collection documents by the app, from the same
    :class:`~twin.store.base.Extent`, so that pygeoapi's own ``datetime`` range check
    never rejects an instant before the first version (that instant shows an empty city).
    """
    bbox = list(extent.bbox) if extent.bbox is not None else list(fallback)
    return {"spatial": {"bbox": bbox, "crs": CRS84}}


def _resource(
    spec: CollectionSpec, extent: Extent, runtime: Runtime, *, fallback: tuple[float, ...]
) -> dict[str, Any]:
    keywords = list(spec.keywords) or [spec.name]
    return {
        "type": "collection",
        "title": spec.title,
        "description": spec.description or spec.title,
        "keywords": keywords,
        "links": [],
        "extents": collection_extent(extent, fallback=fallback),
        "limits": {
            "default_items": runtime.settings.default_limit,
            "max_items": runtime.settings.max_limit,
            "on_exceed": "throttle",
        },
        "providers": [
            {
                "type": "feature",
                "name": "twin.service.provider.TwinProvider",
                "data": runtime.token,
                "collection": spec.name,
                "id_field": "id",
                "editable": True,
                "crs": list(runtime.served_crs),
                "storage_crs": CRS84,
                "twin_fields": field_schema(spec.fields),
            },
        ],
    }


def build_config(
    runtime: Runtime,
    *,
    extents: Mapping[str, Extent],
    processes: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The whole pygeoapi configuration of a running service.

    Parameters
    ----------
    runtime
        The service's store, settings and catalog.
    extents
        The current extent of each collection.
    processes
        Process name -> pygeoapi processor definition (``{"processor": {"name": ...}}``).
    """
    settings = runtime.settings
    var = Path(settings.var_dir).resolve()
    resources: dict[str, Any] = {}
    for name, spec in sorted(runtime.specs.items()):
        resources[name] = _resource(spec, extents[name], runtime, fallback=runtime.city_bbox)
    for name, proc in sorted(processes.items()):
        resources[name] = {"type": "process", "processor": dict(proc["processor"])}
    return {
        "server": {
            "bind": {"host": settings.host, "port": settings.port},
            "url": settings.public_url(),
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            # the twin's own templates first (the JSON-LD items listing), pygeoapi's after
            "templates": {"path": str(TEMPLATES_DIR)},
            "languages": ["en-US"],
            "cors": True,
            "pretty_print": False,
            "limits": {
                "default_items": settings.default_limit,
                "max_items": settings.max_limit,
                "on_exceed": "throttle",
            },
            "map": {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "&copy; OpenStreetMap contributors",
            },
            "manager": {
                "name": "twin.service.jobs.TwinJobManager",
                "connection": str(var / "jobs.db"),
                "output_dir": str(var / "jobs"),
            },
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": settings.title,
                "description": settings.description,
                "keywords": ["digital twin", "city", "OGC API"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": settings.public_url(),
            },
            "license": {
                "name": "ODbL 1.0 (OpenStreetMap data)",
                "url": "https://opendatacommons.org/licenses/odbl/1-0/",
            },
            "provider": {"name": "City Twin", "url": settings.public_url()},
            "contact": {
                "name": "City Twin",
                "position": "Service",
                "address": "-",
                "city": "-",
                "stateorprovince": "-",
                "postalcode": "-",
                "country": "-",
                "phone": "-",
                "fax": "-",
                "email": "twin@example.org",
                "url": settings.public_url(),
                "hours": "-",
                "instructions": "-",
                "role": "pointOfContact",
            },
        },
        "resources": resources,
    }


def write_config(config: Mapping[str, Any], folder: Path) -> Path:
    """Write the configuration as YAML under ``folder``; return its path."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pygeoapi-config.yml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path
