"""Two epochs of imagery to change patches to suspected illegal buildings."""

__all__: list[str] = []
