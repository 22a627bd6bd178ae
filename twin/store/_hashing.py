"""Content hashes of versions and the hash chain over the change log."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["GENESIS", "chain_hash", "state_hash"]

GENESIS = "0" * 64


def _geometry_bytes(geom: BaseGeometry | None) -> bytes:
    if geom is None:
        return b""
    return shapely.to_wkb(geom, byte_order=1, flavor="iso", include_srid=False)


def state_hash(geom: BaseGeometry | None, properties: dict[str, Any]) -> str:
    """Hash of what a version says: its geometry and canonical properties.

    Two versions with equal geometry and properties have equal state hashes; a re-import
    uses this to leave unchanged features alone.
    """
    h = hashlib.sha256()
    h.update(_geometry_bytes(geom))
    h.update(b"\x1e")
    h.update(
        json.dumps(properties, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    return h.hexdigest()


def chain_hash(
    *,
    seq: int,
    collection: str,
    feature_id: str,
    version: int,
    op: str,
    at: str,
    recorded_at: str,
    actor: str,
    content_hash: str,
    prev_hash: str,
) -> str:
    """Hash of one change-log entry, covering its content and the previous entry's hash."""
    text = "|".join(
        [
            str(seq),
            collection,
            feature_id,
            str(version),
            op,
            at,
            recorded_at,
            actor,
            content_hash,
            prev_hash,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()
