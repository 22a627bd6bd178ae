"""Map layers of the twin and their registries: buildings, roads, POIs, permits,
underground pipelines, parking.

``LAYERS`` (the specs of the map layers built from OpenStreetMap) is imported on first
use, so that importing the package stays cheap.
"""

from typing import Any

__all__: list[str] = ["LAYERS"]


def __getattr__(name: str) -> Any:
    if name == "LAYERS":
        from layers.osm import LAYERS

        return LAYERS
    raise AttributeError(f"module 'layers' has no attribute {name!r}")
