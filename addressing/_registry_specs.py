"""The registry's collections and settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from addressing.codes import HELSINKI
from twin.store import CollectionSpec, Field, FieldType

__all__ = ["ADDRESSES", "ADDRESS_ISSUES", "COLLECTIONS", "STREETS", "AddressSettings"]

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
        "address code. Names in Finnish and Swedish. A renamed street or a renumbered "
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
        Field("label_sv", _S, "the full address in Swedish"),
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
        "Streets and squares that carry standard addresses, with their codes and names in "
        "Finnish and Swedish; the geometry is the named road, else the doorplates."
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

COLLECTIONS: tuple[CollectionSpec, ...] = (ADDRESSES, STREETS, ADDRESS_ISSUES)


class AddressSettings(BaseSettings):
    """Settings of the address registry and its door plates.

    ``TWIN_PUBLIC_URL`` is the base URL of the service that QR door plates point to;
    ``TWIN_ADDRESS_DIVISION`` the 12-digit division prefix of the city's codes.
    """

    model_config = SettingsConfigDict(env_prefix="TWIN_", env_file=".env", extra="ignore")

    public_url: str = "http://127.0.0.1:5000"
    address_division: str = HELSINKI
