"""The registry's collections and settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from addressing.codes import HELSINKI
from twin.store import CollectionSpec, Field, FieldType

__all__ = [
    "ADDRESSES",
    "ADDRESS_ENTRANCES",
    "ADDRESS_ISSUES",
    "COLLECTIONS",
    "LEVELS_BELOW",
    "STREETS",
    "SUB_ADDRESSES",
    "AddressSettings",
]

_S = FieldType.STRING
_I = FieldType.INTEGER
_N = FieldType.NUMBER
_J = FieldType.JSON
_KEYWORDS = ("addresses", "standard address")

ADDRESSES = CollectionSpec(
    name="addresses",
    title="Standard addresses",
    description=(
        "One feature per doorplate, at its entrance; the feature id is the standard "
        "address code. Names as the map gives them (name) and in Swedish (name:sv, the "
        "same where none is mapped). A renamed street or a renumbered "
        "house is a new version of the same code (previous_label keeps the old label); "
        "a vanished address is retired and its code is never issued again."
    ),
    geometry_type="Point",
    fields=(
        Field("code_display", _S, "the code with its parts separated by dashes"),
        Field("level", _S, "the level of the code: doorplate"),
        Field("division", _S, "the 12-digit division code"),
        Field("street_code", _S, "the code of the street (a feature of 'streets')"),
        Field("street", _S, "street name (Finnish)"),
        Field("street_sv", _S, "street name (Swedish)"),
        Field("housenumber", _S, "house number as on the doorplate"),
        Field("postcode", _S, "postcode"),
        Field("city", _S, "city (Finnish)"),
        Field("city_sv", _S, "city (Swedish)"),
        Field("label", _S, "the full address in Finnish"),
        Field("label_sv", _S, "the full address in Swedish (as label where none is mapped)"),
        Field("name", _S, "the name of the house or place, when OSM has one"),
        Field("building_id", _S, "the feature id of the building (a feature of 'buildings')"),
        Field("building_match", _S, "inside, nearest (within a few metres) or none"),
        Field("entrance", _S, "osm (an entrance node), outline (toward the street) or point"),
        Field("point_lon", _N, "longitude of the OSM address point (CRS84)"),
        Field("point_lat", _N, "latitude of the OSM address point (CRS84)"),
        Field("osm_id", _S, "the OSM object the address comes from"),
        Field("osm_ids", _J, "every OSM object that carries this doorplate"),
        Field("previous_label", _S, "the label of the version before a rename or renumbering"),
    ),
    keywords=_KEYWORDS,
)

STREETS = CollectionSpec(
    name="streets",
    title="Streets",
    description=(
        "Streets and squares that carry standard addresses, with their codes and names "
        "(and Swedish names, name:sv, where mapped); the geometry is the named road, else "
        "the doorplates."
    ),
    geometry_type="Geometry",
    fields=(
        Field("code_display", _S, "the code with its parts separated by dashes"),
        Field("division", _S, "the 12-digit division code"),
        Field("name", _S, "name (Finnish)"),
        Field("name_sv", _S, "name (Swedish)"),
        Field("previous_name", _S, "the name of the version before a rename"),
        Field("address_count", _I, "number of current doorplates"),
    ),
    keywords=_KEYWORDS,
)

ADDRESS_ISSUES = CollectionSpec(
    name="address_issues",
    title="Address quality issues",
    description=(
        "Duplicates and conflicts found while building the address registry: one doorplate "
        "on two buildings, the same number twice on a street, numbers out of sequence, "
        "points merged into one doorplate, street names repaired. Nothing is dropped silently."
    ),
    geometry_type="Point",
    fields=(
        Field("kind", _S, "what is wrong (same_number_twice, two_buildings, ...)"),
        Field("severity", _S, "conflict, warning or info"),
        Field("code", _S, "the standard address concerned, when there is one"),
        Field("street", _S, "street name"),
        Field("housenumber", _S, "house number"),
        Field("osm_ids", _J, "the OSM objects concerned"),
        Field("message", _S, "what was found and what the registry did"),
    ),
    keywords=(*_KEYWORDS, "quality"),
)

LEVELS_BELOW: tuple[str, ...] = ("building", "unit", "floor", "room")
"""The levels of the codes in ``sub_addresses``."""

SUB_ADDRESSES = CollectionSpec(
    name="sub_addresses",
    title="Standard addresses below the doorplate",
    description=(
        "Buildings, units (staircases), floors and rooms of the doorplates in 'addresses'; "
        "the feature id is the standard address code, whose parent_code is the level above "
        "(a doorplate, building, unit or floor). Codes stay when a street is renamed or a "
        "house renumbered (a new version; previous_label keeps the old label); a vanished "
        "one is retired and its code is never issued again."
    ),
    geometry_type="Point",
    fields=(
        Field("code_display", _S, "the code with its parts separated by dashes"),
        Field("level", _S, "the level of the code: building, unit, floor or room"),
        Field("parent_code", _S, "the code of the level above"),
        Field("doorplate_code", _S, "the code of the doorplate (a feature of 'addresses')"),
        Field("division", _S, "the 12-digit division code"),
        Field("street_code", _S, "the code of the street (a feature of 'streets')"),
        Field("street", _S, "street name (Finnish)"),
        Field("street_sv", _S, "street name (Swedish)"),
        Field("housenumber", _S, "house number as on the doorplate"),
        Field("postcode", _S, "postcode"),
        Field("city", _S, "city (Finnish)"),
        Field("city_sv", _S, "city (Swedish)"),
        Field("label", _S, "the full address in Finnish"),
        Field("label_sv", _S, "the full address in Swedish (as label where none is mapped)"),
        Field("building_id", _S, "the feature id of the building (a feature of 'buildings')"),
        Field("name", _S, "the name of the building, when OSM has one"),
        Field("unit_ref", _S, "the staircase or unit letter (entrance ref or addr:unit)"),
        Field("floor", _I, "the floor: 1 is the ground floor, -1 the first basement (B1)"),
        Field("floor_label", _S, "the floor as written on a plan: 4, B1"),
        Field("door", _S, "the door or flat number (addr:door, addr:flats, addr:unit)"),
        Field("source", _S, "the OSM tag the level comes from"),
        Field("osm_id", _S, "the OSM object the level is placed at"),
        Field("osm_ids", _J, "every OSM object the level comes from"),
        Field("previous_label", _S, "the label of the version before a rename or renumbering"),
    ),
    keywords=(*_KEYWORDS, "building", "unit", "floor", "room"),
)

ADDRESS_ENTRANCES = CollectionSpec(
    name="address_entrances",
    title="Entrances",
    description=(
        "Every OSM node tagged entrance=*, read by the address registry for the units "
        "(staircases, by ref or addr:unit) and flats of the buildings."
    ),
    geometry_type="Point",
    fields=(
        Field("osm_id", _S, "the OSM node"),
        Field("entrance", _S, "the value of entrance=* (main, staircase, service, ...)"),
        Field("ref", _S, "the staircase letter or number (ref)"),
        Field("unit", _S, "addr:unit"),
        Field("street", _S, "addr:street"),
        Field("housenumber", _S, "addr:housenumber"),
        Field("flats", _S, "the flats behind the entrance (addr:flats)"),
        Field("door", _S, "addr:door"),
        Field("level", _S, "level"),
        Field("railway", _S, "railway=* (a subway entrance is no staircase)"),
        Field("tags", _J, "every OSM tag of the node"),
    ),
    keywords=(*_KEYWORDS, "entrances"),
)

COLLECTIONS: tuple[CollectionSpec, ...] = (
    ADDRESSES,
    STREETS,
    ADDRESS_ISSUES,
    SUB_ADDRESSES,
    ADDRESS_ENTRANCES,
)


class AddressSettings(BaseSettings):
    """Settings of the address registry and its door plates.

    ``TWIN_PUBLIC_URL`` is the base URL of the service that QR door plates point to;
    ``TWIN_ADDRESS_DIVISION`` the 12-digit division prefix of the city's codes.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", env_file=".env", extra="ignore")

    public_url: str = "http://127.0.0.1:5000"
    address_division: str = HELSINKI
