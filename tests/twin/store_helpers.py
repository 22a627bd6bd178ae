"""What the store contract's tests share: the ``things`` collection, its features, times."""

from __future__ import annotations

from datetime import UTC, datetime

import shapely

from twin.store import CollectionSpec, Feature, Field

T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2021, 1, 1, tzinfo=UTC)
T2 = datetime(2022, 1, 1, tzinfo=UTC)

SPEC = CollectionSpec(
    name="things",
    title="Things",
    geometry_type="Point",
    fields=(
        Field("name"),
        Field("n", "integer"),
        Field("size", "number"),
        Field("ok", "boolean"),
        Field("seen", "datetime"),
        Field("tags", "json"),
    ),
)


def grid(n: int = 20) -> list[Feature]:
    """n points 0.001 deg apart along a line in Helsinki."""
    return [
        Feature(
            f"f{i:03d}",
            shapely.Point(24.9 + i * 0.001, 60.17),
            {
                "name": f"thing {i}",
                "n": i,
                "size": i / 2,
                "ok": i % 2 == 0,
                "seen": f"2020-01-{i % 28 + 1:02d}T00:00:00Z",
                "tags": {"i": i},
            },
        )
        for i in range(n)
    ]


def ids(result) -> list[str]:
    return [f.id for f in result]
