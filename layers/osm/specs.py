"""The collections the OSM importer fills: one :class:`CollectionSpec` per map layer.

Every layer carries ``osm_id`` (``n<id>``, ``w<id>`` or ``r<id>``, the same string as the
feature id) and ``tags`` (every OSM tag of the object, as JSON), besides the fields
picked out of the tags for that layer. All geometry is OGC CRS84 (lon, lat).
"""

from __future__ import annotations

from twin.store.base import CollectionSpec, Field, FieldType

__all__ = [
    "ADDRESS_POINTS",
    "ADMIN_BOUNDARIES",
    "BUILDINGS",
    "EMERGENCY_STATIONS",
    "FIRE_HYDRANTS",
    "IMPORT_ISSUES",
    "LAYERS",
    "PARKING",
    "PIPELINES",
    "POIS",
    "RESTRICTED_IMPORT_ISSUES",
    "ROADS",
    "TRAFFIC_SIGNALS",
]

_S = FieldType.STRING
_I = FieldType.INTEGER
_N = FieldType.NUMBER
_B = FieldType.BOOLEAN
_J = FieldType.JSON

_OSM_ID = Field("osm_id", _S, "the OSM object: n<id> (node), w<id> (way) or r<id> (relation)")
_TAGS = Field("tags", _J, "every OSM tag of the object")
_NAME = Field("name", _S, "name")
_NAME_SV = Field("name_sv", _S, "Swedish name (name:sv)")
_KEYWORDS = ("OpenStreetMap",)

BUILDINGS = CollectionSpec(
    name="buildings",
    title="Buildings",
    description="Building outlines from closed ways and multipolygon relations tagged building=*.",
    geometry_type="MultiPolygon",
    fields=(
        _OSM_ID,
        _NAME,
        _NAME_SV,
        Field("building", _S, "building type (the value of building=*)"),
        Field("levels", _I, "number of storeys above ground (building:levels)", minimum=0),
        Field("height", _N, "height in metres", minimum=0),
        Field("addr_street", _S, "street of the address (addr:street)"),
        Field("addr_housenumber", _S, "house number (addr:housenumber)"),
        Field("addr_postcode", _S, "postcode (addr:postcode)"),
        Field("start_date", _S, "when it was built, as tagged (start_date)"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "buildings"),
)

ROADS = CollectionSpec(
    name="roads",
    title="Roads and paths",
    description=(
        "Centre lines of ways tagged highway=* with a road or path class. A way tagged "
        "oneway=-1 is stored reversed, so oneway always means travel along the line."
    ),
    geometry_type="LineString",
    fields=(
        _OSM_ID,
        _NAME,
        _NAME_SV,
        Field("highway", _S, "road class (the value of highway=*)"),
        Field("ref", _S, "road number"),
        Field("oneway", _B, "one-way in the direction of the line; null when it varies"),
        Field("maxspeed", _N, "speed limit in km/h; null when untagged or unlimited", minimum=0),
        Field("lanes", _I, "number of lanes", minimum=0),
        Field("surface", _S, "surface"),
        Field("access", _S, "access restriction"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "transport", "roads"),
)

POIS = CollectionSpec(
    name="pois",
    title="Points of interest",
    description=(
        "Nodes, and areas as a point inside them, tagged amenity, shop, tourism, leisure, "
        "office, craft, healthcare or historic (car parks and emergency stations have "
        "their own layers)."
    ),
    geometry_type="Point",
    fields=(
        _OSM_ID,
        _NAME,
        _NAME_SV,
        Field("category", _S, "the key that makes it a POI (amenity, shop, ...)"),
        Field("kind", _S, "the value of that key (cafe, supermarket, ...)"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "poi"),
)

ADDRESS_POINTS = CollectionSpec(
    name="address_points",
    title="Address points",
    description=(
        "Every node, way or multipolygon with addr:housenumber; ways and areas as a point on them."
    ),
    geometry_type="Point",
    fields=(
        _OSM_ID,
        Field("osm_type", _S, "node, way or relation"),
        Field("street", _S, "street (addr:street)"),
        Field("street_sv", _S, "Swedish street name (addr:street:sv)"),
        Field("housenumber", _S, "house number (addr:housenumber)"),
        Field("unit", _S, "staircase, unit or flat (addr:unit)"),
        Field("postcode", _S, "postcode (addr:postcode)"),
        Field("city", _S, "city (addr:city)"),
        _NAME,
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "addresses"),
)

TRAFFIC_SIGNALS = CollectionSpec(
    name="traffic_signals",
    title="Traffic signals",
    description="Nodes tagged highway=traffic_signals.",
    geometry_type="Point",
    fields=(
        _OSM_ID,
        Field("direction", _S, "the direction the signal applies to (traffic_signals:direction)"),
        Field("crossing", _S, "crossing type, when the signal is at a crossing"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "transport", "traffic signals"),
)

PARKING = CollectionSpec(
    name="parking",
    title="Car parks",
    description="amenity=parking: nodes as points, areas as polygons.",
    geometry_type="Geometry",
    fields=(
        _OSM_ID,
        _NAME,
        Field("parking", _S, "kind of car park (surface, multi-storey, underground, ...)"),
        Field("capacity", _I, "number of spaces", minimum=0),
        Field("access", _S, "who may park"),
        Field("fee", _S, "whether parking is paid"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "transport", "parking"),
)

PIPELINES = CollectionSpec(
    name="pipelines",
    title="Underground lines: pipelines and cables",
    description=(
        "The registry of utility lines: ways tagged man_made=pipeline, power=cable (not "
        "overhead) and buried communication or telecom lines, each with its utility "
        "network. Sensitive infrastructure: restricted."
    ),
    geometry_type="LineString",
    fields=(
        _OSM_ID,
        _NAME,
        Field(
            "utility",
            _S,
            "the network: water, drainage, gas, heat, cooling, industrial, power, telecom "
            "or other (from substance)",
        ),
        Field("substance", _S, "what flows in it as mapped (water, gas, heat, sewage, ...)"),
        Field("location", _S, "underground, overground, underwater, ..."),
        Field("diameter", _N, "diameter in millimetres", minimum=0),
        Field("material", _S, "material (steel, PE, concrete, ...)"),
        Field("pressure", _S, "pressure as mapped (bar, or low/medium/high)"),
        Field("depth", _N, "depth below ground in metres", minimum=0),
        Field("voltage", _I, "voltage of a power cable in volts", minimum=0),
        Field("operator", _S, "operator"),
        _TAGS,
    ),
    restricted=True,
    keywords=(*_KEYWORDS, "utilities", "pipelines", "cables"),
)

FIRE_HYDRANTS = CollectionSpec(
    name="fire_hydrants",
    title="Fire hydrants",
    description="Nodes tagged emergency=fire_hydrant.",
    geometry_type="Point",
    fields=(
        _OSM_ID,
        Field("fire_hydrant_type", _S, "pillar, underground, wall, pipe (fire_hydrant:type)"),
        Field("diameter", _N, "diameter in millimetres (fire_hydrant:diameter)", minimum=0),
        Field("pressure", _S, "pressure in bar, or 'suction' (fire_hydrant:pressure)"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "emergency"),
)

EMERGENCY_STATIONS = CollectionSpec(
    name="emergency_stations",
    title="Fire and ambulance stations",
    description=(
        "amenity=fire_station, amenity=ambulance_station or emergency=ambulance_station; "
        "areas as a point inside them."
    ),
    geometry_type="Point",
    fields=(
        _OSM_ID,
        _NAME,
        Field("amenity", _S, "fire_station or ambulance_station"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "emergency"),
)

ADMIN_BOUNDARIES = CollectionSpec(
    name="admin_boundaries",
    title="Administrative boundaries",
    description="Areas tagged boundary=administrative (closed ways and boundary relations).",
    geometry_type="MultiPolygon",
    fields=(
        _OSM_ID,
        _NAME,
        _NAME_SV,
        Field("admin_level", _I, "OSM admin_level (2 country ... 10 district)"),
        Field("ref", _S, "official code"),
        _TAGS,
    ),
    keywords=(*_KEYWORDS, "boundaries"),
)

_ISSUE_FIELDS = (
    Field("layer", _S, "the layer the object belongs to"),
    _OSM_ID,
    Field("problem", _S, "what was wrong"),
    Field("action", _S, "repaired or skipped"),
)

IMPORT_ISSUES = CollectionSpec(
    name="osm_import_issues",
    title="OSM import issues",
    description=(
        "Objects whose geometry had to be repaired or could not be built, at a point of "
        "the object where one is known (those of restricted layers are in "
        "osm_import_issues_restricted)."
    ),
    geometry_type="Point",
    fields=_ISSUE_FIELDS,
    keywords=(*_KEYWORDS, "quality"),
)

#: The issues of restricted layers (the pipelines): only who may read those may read them.
RESTRICTED_IMPORT_ISSUES = CollectionSpec(
    name="osm_import_issues_restricted",
    title="OSM import issues of restricted layers",
    description=(
        "Objects of restricted layers (the pipelines) whose geometry had to be repaired or "
        "could not be built, at a point of the object where one is known."
    ),
    geometry_type="Point",
    fields=_ISSUE_FIELDS,
    restricted=True,
    keywords=(*_KEYWORDS, "quality"),
)

#: Every collection the importer fills, in a fixed order.
LAYERS: tuple[CollectionSpec, ...] = (
    BUILDINGS,
    ROADS,
    POIS,
    ADDRESS_POINTS,
    TRAFFIC_SIGNALS,
    PARKING,
    PIPELINES,
    FIRE_HYDRANTS,
    EMERGENCY_STATIONS,
    ADMIN_BOUNDARIES,
    IMPORT_ISSUES,
    RESTRICTED_IMPORT_ISSUES,
)
