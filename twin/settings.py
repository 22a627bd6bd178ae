"""Typed settings, one class per concern, read from ``TWIN_*`` environment variables.

Settings are read when an entry point starts (CLI command, service start-up), never at
import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StoreSettings", "default_osm_path", "project_root"]


def project_root() -> Path:
    """The folder that holds ``data/`` (the source checkout, or the working folder)."""
    here = Path(__file__).resolve().parent.parent
    if (here / "data").is_dir():
        return here
    return Path.cwd()


def default_osm_path() -> Path:
    """The embedded default city: central Helsinki."""
    return project_root() / "data" / "helsinki.osm.pbf"


class StoreSettings(BaseSettings):
    """Where the twin lives.

    ``TWIN_DB`` is a GeoPackage path (``var/helsinki.gpkg``, ``gpkg:///abs/path.gpkg``)
    or a PostgreSQL URL (``postgresql://user@host/db``).
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", env_file=".env", extra="ignore")

    db: str = "var/helsinki.gpkg"
