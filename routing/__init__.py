"""The road graph, fast exact routing, green waves, dispatch and SUMO validation."""

__all__: list[str] = []
