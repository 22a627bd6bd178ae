"""Choose a backend from a URL."""

from __future__ import annotations

from pathlib import Path

from twin.errors import StoreError
from twin.store.base import Store

__all__ = ["gpkg_path", "is_postgres_url", "open_store", "shown_url"]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))


def shown_url(url: str) -> str:
    """``url`` as messages and logs may show it: a PostgreSQL URL without its password."""
    if not is_postgres_url(url):
        return url
    scheme, _, rest = url.partition("://")
    main, q, query = rest.partition("?")
    userinfo, at, host = main.rpartition("@")  # the host follows the last '@'
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}{q}{query}"


def gpkg_path(url: str) -> Path:
    """The file path of a GeoPackage URL (``gpkg:///abs.gpkg``, ``gpkg:rel.gpkg`` or a path)."""
    if url.startswith("gpkg://"):
        return Path(url[len("gpkg://") :])
    if url.startswith("gpkg:"):
        return Path(url[len("gpkg:") :])
    return Path(url)


def open_store(url: str | Path, *, create: bool = True) -> Store:
    """Open the store at ``url``.

    Parameters
    ----------
    url
        A PostgreSQL URL, or the path of a GeoPackage file (optionally ``gpkg:`` prefixed).
    create
        Create an empty twin when none is there yet (otherwise raise StoreError).
    """
    url = str(url)
    if is_postgres_url(url):
        from twin.store.postgis import PostgisStore

        return PostgisStore(url, create=create)
    path = gpkg_path(url)
    if path.suffix.lower() != ".gpkg":
        msg = f"db={url!r} is neither a PostgreSQL URL nor a .gpkg file path"
        raise StoreError(msg)
    from twin.store.gpkg import GpkgStore

    return GpkgStore(path, create=create)
