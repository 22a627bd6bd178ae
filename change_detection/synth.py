"""A reproducible generator of two epochs of aerial imagery with known changes.

From building footprints (a GeoDataFrame) it renders two 0.5 m RGB GeoTIFFs in the city's
UTM CRS: roofs, roads, grass, trees, shadows, noise, a small misregistration and a season
change. The later epoch has new buildings (some with a valid permit, some without one, one
with an expired permit), demolitions and an extended building. The truth comes back with
the images.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoScene", "osm_buildings", "render_epochs", "truth_mask"]

log = logging.getLogger(__name__)

_ROOFS = np.array(
    [
        [70, 72, 78],
        [105, 105, 110],
        [150, 148, 145],
        [128, 70, 55],
        [92, 60, 50],
        [95, 130, 115],
        [185, 180, 172],
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class DemoScene:
    """Two generated epochs and what changed between them.

    Attributes
    ----------
    before, after
        Paths of the GeoTIFFs.
    buildings
        Footprints standing at the earlier date (``building_id``, ``height``).
    permits
        ``permit_no``, ``valid_from``, ``valid_to`` and the permitted polygon.
    truth
        One row per change: ``kind`` in {"new_permitted", "new_unpermitted", "demolished",
        "changed_footprint"} and the changed polygon.
    crs
        The metric CRS of every frame and image.
    shift
        The (row, col) misregistration, in pixels, rendered into the later epoch.
    dates
        The dates of the two epochs (ISO strings).
    """

    before: Path
    after: Path
    buildings: Any
    permits: Any
    truth: Any
    crs: Any
    shift: tuple[float, float]
    dates: tuple[str, str]


def osm_buildings(path: str | os.PathLike[str]) -> Any:
    """Building footprints of an OSM extract as a GeoDataFrame in EPSG:4326.

    Columns: ``osm_id``, ``building`` and ``height`` (metres, from ``height`` or
    ``building:levels`` when tagged, else NaN).
    """
    import geopandas as gpd
    import osmium
    import osmium.filter
    from shapely import wkb

    proc = (
        osmium.FileProcessor(str(path))
        .with_areas()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA))
        .with_filter(osmium.filter.KeyFilter("building"))
    )
    factory = osmium.geom.WKBFactory()
    rows = []
    area: Any
    for area in proc:
        try:
            geom = wkb.loads(factory.create_multipolygon(area), hex=True)
        except RuntimeError:
            continue
        rows.append(
            {
                "osm_id": int(area.orig_id()),
                "building": area.tags.get("building"),
                "height": _height(area.tags.get("height"), area.tags.get("building:levels")),
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _height(height: str | None, levels: str | None) -> float:
    for text, factor in ((height, 1.0), (levels, 3.2)):
        if text:
            try:
                return float(text.split()[0].replace(",", ".")) * factor
            except ValueError:
                continue
    return float("nan")


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    from scipy import ndimage as ndi

    field = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field / (field.std() + 1e-9)


def _free_spot(
    rng: np.random.Generator,
    blocked: Any,
    area: Any,
    size: tuple[float, float],
    angle: float,
    tries: int = 400,
) -> Any:
    """A rotated rectangle of ``size`` inside ``area`` that touches nothing in ``blocked``."""
    import shapely
    from shapely import affinity

    minx, miny, maxx, maxy = area.bounds
    w, h = size
    for _ in range(tries):
        x, y = rng.uniform(minx + w, maxx - w), rng.uniform(miny + w, maxy - w)
        rect = shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        rect = affinity.rotate(rect, angle + rng.normal(0, 3), origin="centroid")
        if area.contains(rect) and not blocked.intersects(rect.buffer(4.0)):
            return rect
    return None


def _shadow(geom: Any, height: float, azimuth: float, factor: float) -> Any:
    """The ground shadow of a prism: its footprint swept along the shadow vector."""
    import shapely
    from shapely import affinity

    length = height * factor
    dx, dy = -np.sin(np.radians(azimuth)) * length, -np.cos(np.radians(azimuth)) * length
    steps = [affinity.translate(geom, dx * t, dy * t) for t in np.linspace(0, 1, 8)]
    hulls = [shapely.convex_hull(shapely.union(a, b)) for a, b in itertools.pairwise(steps)]
    return shapely.union_all([*steps, *hulls]).difference(geom)


def _burn(
    shape: tuple[int, int], transform: Any, geoms: list[Any], values: list[int]
) -> np.ndarray:
    from rasterio.features import rasterize

    pairs = [(g, v) for g, v in zip(geoms, values, strict=True) if g is not None and not g.is_empty]
    if not pairs:
        return np.zeros(shape, dtype=np.int32)
    return rasterize(pairs, out_shape=shape, transform=transform, fill=0, dtype="int32")


def _render(
    *,
    rng: np.random.Generator,
    ground: dict[str, np.ndarray],
    shape: tuple[int, int],
    transform: Any,
    buildings: Any,
    roads: Any,
    trees: list[Any],
    season: float,
    azimuth: float,
    shadow_factor: float,
    gain: float,
) -> np.ndarray:
    """One epoch as float RGB (3, rows, cols), 0-255."""
    from scipy import ndimage as ndi

    rows, cols = shape
    lush = ground["lush"]
    grass = (
        np.array([78, 118, 58], np.float32) * (1 - season)
        + np.array([150, 140, 95], np.float32) * season
    )
    soil = np.array([150, 138, 118], np.float32)
    img = (grass[:, None, None] * lush + soil[:, None, None] * (1 - lush)).astype(np.float32)
    img *= 1.0 + 0.06 * ground["grain"] + 0.02 * _smooth_noise(rng, shape, 2.0)
    road = _burn(shape, transform, [roads], [1]) > 0
    img[:, road] = (np.array([88, 90, 94], np.float32) * (1.0 + 0.1 * season))[:, None]
    tree_ids = _burn(shape, transform, trees, list(range(1, len(trees) + 1)))
    tree_green = (
        np.array([40, 70, 35], np.float32) * (1 - season)
        + np.array([95, 80, 45], np.float32) * season
    )
    tex = 1.0 + 0.25 * ground["crown"]
    on_tree = tree_ids > 0
    img[:, on_tree] = tree_green[:, None] * tex[on_tree]
    geoms = list(buildings.geometry)
    heights = buildings["height"].to_numpy(dtype=float)
    shadows = [_shadow(g, h, azimuth, shadow_factor) for g, h in zip(geoms, heights, strict=True)]
    shade = _burn(shape, transform, shadows, [1] * len(shadows)) > 0
    img[:, shade] *= 0.42
    roof_ids = _burn(shape, transform, geoms, list(range(1, len(geoms) + 1)))
    colour = np.vstack([[0, 0, 0], _ROOFS[buildings["roof"].to_numpy(dtype=int)]]).astype(
        np.float32
    )
    on_roof = roof_ids > 0
    ramp = 1.0 + 0.04 * ground["roof"]
    for band in range(3):
        img[band][on_roof] = colour[roof_ids[on_roof], band] * ramp[on_roof]
    img = ndi.gaussian_filter(img, sigma=(0, 0.6, 0.6))
    img = img * gain + rng.normal(0.0, 2.5, img.shape).astype(np.float32)
    log.debug("rendered %dx%d epoch, %d buildings", rows, cols, len(geoms))
    return img


def _write(path: Path, img: np.ndarray, transform: Any, crs: Any) -> None:
    import rasterio

    profile = {
        "driver": "GTiff",
        "width": img.shape[2],
        "height": img.shape[1],
        "count": 3,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "photometric": "RGB",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(np.round(img), 0, 255).astype(np.uint8))


def render_epochs(
    buildings: Any,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    res: float = 0.5,
    crs: Any = None,
    bounds: tuple[float, float, float, float] | None = None,
    n_permitted: int = 3,
    n_unpermitted: int = 4,
    n_demolished: int = 1,
    n_extended: int = 1,
    shift: tuple[float, float] | None = None,
    dates: tuple[str, str] = ("2021-06-15", "2023-08-20"),
) -> DemoScene:
    """Render two epochs of imagery from building footprints.

    Parameters
    ----------
    buildings
        Footprints (GeoDataFrame, any CRS); an optional ``height`` column in metres.
    out_dir
        Folder for ``before.tif`` and ``after.tif``.
    seed
        Seed of every random choice: the same seed gives the same images and truth.
    res
        Pixel size in metres.
    crs
        The metric CRS; the UTM zone of the footprints when ``None``.
    bounds
        (minx, miny, maxx, maxy) in ``crs``; the footprints' extent plus 30 m when ``None``.
    n_permitted, n_unpermitted, n_demolished, n_extended
        How many changes of each kind epoch two gets. One unpermitted building (when
        there are at least two) has a permit that expired before the later date.
    shift
        (row, col) misregistration of epoch two in pixels; random below one pixel when
        ``None``.
    dates
        ISO dates of the two epochs.

    Returns
    -------
    DemoScene
    """
    import geopandas as gpd
    import pandas as pd
    import shapely
    from rasterio.transform import from_origin
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    target = crs if crs is not None else buildings.estimate_utm_crs()
    gdf = buildings.to_crs(target)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy()
    if bounds is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        bounds = (minx - 30.0, miny - 30.0, maxx + 30.0, maxy + 30.0)
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    area = shapely.box(minx, miny, maxx, maxy)
    gdf = gdf[gdf.intersects(area)].reset_index(drop=True)
    cols, rows = int(np.ceil((maxx - minx) / res)), int(np.ceil((maxy - miny) / res))
    transform = from_origin(minx, maxy, res, res)
    height = gdf["height"] if "height" in gdf else pd.Series(np.nan, index=gdf.index)
    gdf["height"] = height.fillna(pd.Series(rng.uniform(6.0, 22.0, len(gdf)))).clip(3.0, 60.0)
    gdf["roof"] = rng.integers(0, len(_ROOFS), len(gdf))
    gdf["building_id"] = [f"b{i}" for i in range(len(gdf))]
    angle = _main_angle(gdf.geometry)

    # Roads: a jittered grid at the main orientation, never over a building.
    lines = []
    span = max(maxx - minx, maxy - miny) * 1.5
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    for offset in np.arange(-span / 2, span / 2, 110.0):
        for rot in (angle, angle + 90.0):
            o = offset + rng.uniform(-15, 15)
            line = shapely.LineString([(cx - span, cy + o), (cx + span, cy + o)])
            lines.append(shapely.affinity.rotate(line, rot, origin=(cx, cy)))
    roads = shapely.union_all(lines).buffer(4.0 + rng.uniform(0, 3)).intersection(area)
    occupied = shapely.union_all(list(gdf.geometry))
    roads = roads.difference(occupied.buffer(2.0))

    # Changes.
    blocked = shapely.union_all([occupied, roads])
    new_rows: list[dict[str, Any]] = []
    n_new = n_permitted + n_unpermitted
    for i in range(n_new):
        size = (float(rng.uniform(12, 26)), float(rng.uniform(9, 16)))
        rect = _free_spot(rng, blocked, area.buffer(-10.0), size, angle)
        if rect is None:
            log.warning("no free spot for new building %d", i)
            continue
        blocked = blocked.union(rect.buffer(6.0))
        kind = "new_permitted" if i < n_permitted else "new_unpermitted"
        new_rows.append({"kind": kind, "geometry": rect})
    small = gdf[(gdf.area > 60) & (gdf.area < 1500)].index.to_numpy()
    picks = rng.permutation(np.array(small))  # a copy: an empty index array is read-only
    demolished = [int(i) for i in picks[:n_demolished]]
    truth_rows = list(new_rows)
    for i in demolished:
        truth_rows.append({"kind": "demolished", "geometry": gdf.geometry[i]})
    after_gdf = gdf.drop(index=demolished).copy()
    done = 0
    for i in (int(k) for k in picks[n_demolished:]):
        if done >= n_extended:
            break
        ext = _extension(gdf.geometry[i], rng)
        if ext is None or blocked.intersects(ext.buffer(-0.5).difference(gdf.geometry[i])):
            continue
        if blocked.difference(gdf.geometry[i]).intersects(ext.buffer(2.0)):
            continue
        blocked = blocked.union(ext.buffer(4.0))
        after_gdf.loc[i, "geometry"] = shapely.union(gdf.geometry[i], ext)
        truth_rows.append({"kind": "changed_footprint", "geometry": ext})
        done += 1
    added = gpd.GeoDataFrame(
        {
            "height": rng.uniform(5.0, 15.0, len(new_rows)),
            "roof": rng.integers(0, len(_ROOFS), len(new_rows)),
            "building_id": [f"n{i}" for i in range(len(new_rows))],
        },
        geometry=[row["geometry"] for row in new_rows],
        crs=target,
    )
    after_gdf = pd.concat([after_gdf, added], ignore_index=True)
    truth = gpd.GeoDataFrame(truth_rows, geometry="geometry", crs=target)
    permits = _permits(truth, dates, rng, target)

    # Trees in free ground; new buildings clear the trees they stand on.
    trees = []
    free = area.difference(blocked.buffer(1.0))
    for _ in range(int(area.area / 900)):
        p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if free.contains(p):
            trees.append(p.buffer(float(rng.uniform(2.0, 5.0))))
    new_union = shapely.union_all(list(truth.geometry)) if len(truth) else shapely.Point()
    trees_after = [t.difference(new_union.buffer(2.0)) for t in trees]

    ground = {
        "lush": 0.5 + 0.5 * _smooth_noise(rng, (rows, cols), 25.0).clip(-1, 1),
        "grain": _smooth_noise(rng, (rows, cols), 2.0),
        "crown": _smooth_noise(rng, (rows, cols), 1.5),
        "roof": _smooth_noise(rng, (rows, cols), 4.0),
    }
    before_img = _render(
        rng=rng,
        ground=ground,
        shape=(rows, cols),
        transform=transform,
        buildings=gdf,
        roads=roads,
        trees=trees,
        season=0.0,
        azimuth=200.0,
        shadow_factor=0.7,
        gain=1.0,
    )
    after_img = _render(
        rng=rng,
        ground=ground,
        shape=(rows, cols),
        transform=transform,
        buildings=after_gdf,
        roads=roads,
        trees=trees_after,
        season=0.35,
        azimuth=165.0,
        shadow_factor=0.9,
        gain=1.12,
    )
    if shift is None:
        shift = (float(rng.uniform(-0.8, 0.8)), float(rng.uniform(-0.8, 0.8)))
    after_img = np.stack([ndi.shift(b, shift, order=3, mode="nearest") for b in after_img])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "before.tif", before_img, transform, target)
    _write(out / "after.tif", after_img, transform, target)
    keep = ["building_id", "height", "geometry"]
    return DemoScene(
        out / "before.tif",
        out / "after.tif",
        gpd.GeoDataFrame(gdf[keep], geometry="geometry", crs=target),
        permits,
        truth,
        target,
        (float(shift[0]), float(shift[1])),
        dates,
    )


def _main_angle(geoms: Any) -> float:
    """The dominant orientation (degrees) of the footprints' minimum rotated rectangles."""
    import shapely

    angles = []
    for g in geoms:
        ring = np.asarray(shapely.minimum_rotated_rectangle(g).exterior.coords)
        if len(ring) >= 3:
            dx, dy = ring[1] - ring[0]
            angles.append(np.degrees(np.arctan2(dy, dx)) % 90.0)
    return float(np.median(angles)) if angles else 0.0


def _extension(geom: Any, rng: np.random.Generator) -> Any:
    """A rectangular extension of 6-10 m attached to one side of a footprint."""
    import shapely

    rect = shapely.minimum_rotated_rectangle(geom)
    ring = np.asarray(rect.exterior.coords)[:4]
    k = int(rng.integers(0, 4))
    a, b = ring[k], ring[(k + 1) % 4]
    edge = b - a
    normal = np.array([edge[1], -edge[0]]) / (np.linalg.norm(edge) + 1e-9)
    centre = np.asarray(rect.centroid.coords[0])
    if np.dot((a + b) / 2 - centre, normal) < 0:
        normal = -normal
    depth = float(rng.uniform(6.0, 10.0))
    ext = shapely.Polygon([a, b, b + normal * depth, a + normal * depth])
    return ext if ext.is_valid and ext.area > 20 else None


def _permits(truth: Any, dates: tuple[str, str], rng: np.random.Generator, crs: Any) -> Any:
    import geopandas as gpd
    import pandas as pd

    d0, d1 = pd.Timestamp(dates[0]), pd.Timestamp(dates[1])
    rows: list[dict[str, Any]] = []
    n = 0
    for geom, kind in zip(truth.geometry, truth["kind"], strict=True):
        if kind == "new_permitted":
            valid_from, valid_to = d0 - pd.Timedelta(days=90), d1 + pd.Timedelta(days=365)
        elif kind == "new_unpermitted" and n == 0:
            n += 1  # an expired permit: granted once, run out before the later epoch
            valid_from, valid_to = d0 - pd.Timedelta(days=900), d0 - pd.Timedelta(days=200)
        else:
            continue
        rows.append(
            {
                "permit_no": f"P-{len(rows) + 1:04d}",
                "valid_from": valid_from,
                "valid_to": valid_to,
                "geometry": geom.buffer(float(rng.uniform(1.0, 3.0)), join_style="mitre"),
            }
        )
    frame = pd.DataFrame(rows, columns=["permit_no", "valid_from", "valid_to", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)


def truth_mask(scene: DemoScene) -> np.ndarray:
    """The pixel change mask of a scene, on the earlier epoch's grid."""
    import rasterio

    with rasterio.open(scene.before) as ds:
        shape, transform = (ds.height, ds.width), ds.transform
    return _burn(shape, transform, list(scene.truth.geometry), [1] * len(scene.truth)) > 0
