"""City Twin's kernel: the versioned store, time, CRS, the catalog, the service and the CLI.

The top level exports little; reach the rest through its submodules
(``twin.store``, ``twin.temporal``, ``twin.crs``, ``twin.errors``).
"""

from twin.errors import TwinError
from twin.store import open_store

__all__ = ["TwinError", "open_store"]
__version__ = "0.1.0"
