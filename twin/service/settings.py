"""Settings of the service, read from ``TWIN_*`` environment variables when it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """How the service listens and whom it lets in.

    Parameters
    ----------
    host, port
        Where ``twin serve`` listens (``TWIN_HOST``, ``TWIN_PORT``).
    base_url
        The public URL of the service, used in links; defaults to ``http://host:port``.
    api_keys
        ``TWIN_API_KEYS``: ``"key:role,key:role"`` or a JSON object ``{"key": "role"}``;
        roles are ``reader``, ``editor`` and ``admin``.
    api_key_file
        ``TWIN_API_KEY_FILE``: a file in either of those forms, or one ``key role`` per line.
    var_dir
        Where the job database and job results live (``TWIN_VAR_DIR``).
    default_limit, max_limit
        The page size without ``limit`` and the largest ``limit`` accepted.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 5000
    base_url: str | None = None
    api_keys: str = ""
    api_key_file: Path | None = None
    var_dir: Path = Path("var")
    default_limit: int = 10
    max_limit: int = 10000
    title: str = "City Twin"
    description: str = "The city's versioned geospatial twin, served as OGC APIs"

    @field_validator("base_url", "api_key_file", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    def public_url(self) -> str:
        """The base URL used in links, without a trailing slash."""
        url = self.base_url or f"http://{self.host}:{self.port}"
        return url.rstrip("/")
