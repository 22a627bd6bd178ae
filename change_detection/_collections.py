"""The collections the change detection package owns: permits, change patches and cases."""

from __future__ import annotations

from twin.store import CollectionSpec, Field, FieldType

__all__ = ["CASES", "COLLECTIONS", "PATCHES", "PERMITS"]

_S = FieldType.STRING
_N = FieldType.NUMBER
_D = FieldType.DATETIME
_KEYWORDS = ("change detection", "illegal buildings")

PERMITS = CollectionSpec(
    name="permits",
    title="Building permits",
    description=(
        "Granted building permits: the permitted area, its number and the interval in "
        "which it is valid. A new building inside a permit valid at the later epoch is "
        "permitted; one outside every valid permit is a suspected illegal building."
    ),
    geometry_type="Polygon",
    fields=(
        Field("permit_no", _S, "the permit number"),
        Field(
            "valid_start",
            _D,
            "first day the permit is valid, from its start (a UTC day, whatever the time "
            "of day given; empty: since ever)",
        ),
        Field(
            "valid_end",
            _D,
            "last day the permit is valid, through its end (a UTC day, whatever the time "
            "of day given: 2023-08-20 covers 2023-08-20T23:59Z; empty: open-ended)",
        ),
        Field("kind", _S, "what is permitted (new_building, extension, demolition, ...)"),
        Field("description", _S, "free text"),
    ),
    keywords=(*_KEYWORDS, "permits"),
)

PATCHES = CollectionSpec(
    name="change_patches",
    title="Change patches",
    description=(
        "Regions that changed between two epochs of imagery, one feature per patch and "
        "detection run, classified against the buildings of the earlier date and the "
        "permits valid at the later one."
    ),
    geometry_type="Polygon",
    fields=(
        Field("run_id", _S, "the detection run that found the patch"),
        Field(
            "class",
            _S,
            "new_permitted, new_unpermitted, demolished, changed_footprint or not_a_building",
        ),
        Field("confidence", _N, "0-1, from the change score and the shape"),
        Field("area_m2", _N, "changed area in square metres"),
        Field("direction", _S, "appeared, disappeared or unknown"),
        Field("method", _S, "the detector"),
        Field("date_before", _D, "date of the earlier epoch"),
        Field("date_after", _D, "date of the later epoch"),
        Field("permit_no", _S, "the permit that covers the patch (new_permitted)"),
        Field("case_id", _S, "the case the patch raised or matched (new_unpermitted)"),
    ),
    keywords=(*_KEYWORDS, "change patches"),
)

CASES = CollectionSpec(
    name="illegal_building_cases",
    title="Suspected illegal buildings",
    description=(
        "One case per suspected illegal building, with its evidence (image chips before "
        "and after, area, confidence, nearest standard address) and its workflow status: "
        "new, under_review, confirmed or dismissed, enforced, closed. Each change of "
        "status is a new version recording who made it; dismissed cases are kept."
    ),
    geometry_type="Polygon",
    fields=(
        Field("case_id", _S, "the stable case number (also the feature id)"),
        Field("status", _S, "new, under_review, confirmed, dismissed, enforced or closed"),
        Field("area_m2", _N, "area of the suspected building in square metres"),
        Field("confidence", _N, "0-1, the detection's confidence"),
        Field("patch_id", _S, "the change patch that raised the case"),
        Field("run_id", _S, "the detection run that raised the case"),
        Field("method", _S, "the detector"),
        Field("date_before", _D, "date of the earlier epoch"),
        Field("date_after", _D, "date of the later epoch"),
        Field("address_code", _S, "nearest standard address (its code), when there is one"),
        Field("address_label", _S, "nearest standard address (its label)"),
        Field("address_distance_m", _N, "metres from the case to that address's entrance"),
        Field("before_png", _S, "evidence: the earlier image around the case (PNG data URI)"),
        Field("after_png", _S, "evidence: the later image around the case (PNG data URI)"),
        Field("detected_at", _D, "when the case was raised"),
        Field("updated_by", _S, "who made the last change of status or note"),
        Field("note", _S, "a note given with the last change of status (or alone)"),
    ),
    keywords=(*_KEYWORDS, "cases", "enforcement"),
)

COLLECTIONS: tuple[CollectionSpec, ...] = (PERMITS, PATCHES, CASES)
