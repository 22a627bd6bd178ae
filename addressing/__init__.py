"""Standard addresses: codes, parsing, geocoding, reverse geocoding and QR door plates."""

__all__: list[str] = []
