"""Map layers of the twin and their registries: buildings, roads, POIs, permits,
underground pipelines, parking."""

__all__: list[str] = []
