"""The OGC API service of the twin: Features (Parts 1-4), Tiles and Processes.

:func:`create_app` builds the ASGI app from a store; ``twin serve`` runs it. The
pygeoapi configuration is generated from the catalog when the app starts.
"""

from twin.service.app import create_app
from twin.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
