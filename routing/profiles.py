"""Vehicle profiles: which roads a vehicle may use, in which direction, and how fast.

A :class:`Profile` turns the tags of an OSM way into a decision (usable or not), a
direction (``"yes"``, ``"-1"`` or ``"no"`` for one-way, reversed, two-way) and a speed in
km/h. Two profiles ship: :data:`CAR` and :data:`EMERGENCY`. The emergency vehicle may use
bus lanes, busways and roads signed ``access=emergency`` or ``psv``, may run against a
one-way street where buses may, and drives somewhat faster than the limit within reason.

>>> CAR.speed_kmh({"highway": "residential", "maxspeed": "30"})
30.0
>>> EMERGENCY.speed_kmh({"highway": "residential", "maxspeed": "30"})
39.0
>>> parse_maxspeed("30 mph")
48.28
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from twin.errors import InvalidInput

__all__ = [
    "CAR",
    "EMERGENCY",
    "PROFILES",
    "Profile",
    "ProfileName",
    "get_profile",
    "parse_maxspeed",
]

ProfileName = Literal["car", "emergency"]

#: Default speeds (km/h) by road class where a way carries no usable ``maxspeed``.
_DEFAULT_KMH: dict[str, float] = {
    "motorway": 110.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 45.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "busway": 40.0,
    "bus_guideway": 40.0,
}

#: Implicit limits written as ``<country>:<zone>`` (``PT:urban``, ``FI:rural``).
_ZONE_KMH: dict[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "bicycle_road": 30.0,
    "zone30": 30.0,
    "zone20": 20.0,
    "walk": 7.0,
}

_CAR_ROADS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)
_BUS_ROADS = frozenset({"busway", "bus_guideway"})
_YES = frozenset({"yes", "permissive", "designated", "destination", "customers", "delivery"})
_NO = frozenset({"no", "private", "agricultural", "forestry", "discouraged", "use_sidepath"})
_NOT_FOR_CARS = frozenset({"emergency", "psv", "bus", "taxi", "hgv", "official"})
_SKIPPED_SERVICE = frozenset({"parking_aisle", "drive-through", "emergency_access"})
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$")


def parse_maxspeed(value: str | None) -> float | None:
    """Return a ``maxspeed`` tag as km/h, or ``None`` when it gives no number.

    Handles plain numbers, ``mph``, zone codes such as ``PT:urban``, ``none`` (taken as
    130) and lists (``50;30``, the lowest wins).
    """
    if value is None:
        return None
    found: list[float] = []
    for part in str(value).split(";"):
        part = part.strip().lower()
        m = _NUMBER.match(part)
        if m:
            kmh = float(m.group(1))
            unit = m.group(2)
            if unit == "mph":
                kmh *= 1.609344
            elif unit == "knots":
                kmh *= 1.852
            if kmh > 0:
                found.append(round(kmh, 2))
        elif part == "none":
            found.append(130.0)
        elif part == "walk":
            found.append(7.0)
        elif ":" in part:
            zone = part.split(":", 1)[1]
            if zone in _ZONE_KMH:
                found.append(_ZONE_KMH[zone])
    return min(found) if found else None


@dataclass(frozen=True)
class Profile:
    """How one kind of vehicle uses the road network.

    Parameters
    ----------
    name
        ``"car"`` or ``"emergency"``.
    access_keys
        Access tags read for this vehicle, most specific first (the first present decides).
    speed_factor, speed_bonus_kmh, max_kmh
        The driven speed is ``min(limit * speed_factor, limit + speed_bonus_kmh, max_kmh)``.
    signal_delay_s
        Expected wait when entering a signalised junction without preemption.
    uturn_s
        Time to turn round where a road ends, the only place a U-turn is allowed.
    restricted_turn_s
        ``None``: a turn restriction that binds the vehicle bans the turn. A number: the
        turn stays open at this extra time. An emergency vehicle on an urgent call may
        depart from a prohibitory sign with due care, so it slows down and crosses
        rather than detour round the block; it takes the turn only when that saves
        more than this time.
    emergency
        Whether the vehicle is an emergency vehicle (bus lanes, ``access=emergency``,
        contraflow where buses may, restrictions excepting emergency vehicles).
    default_kmh
        Speeds by road class where a way has no usable ``maxspeed``.
    """

    name: str
    access_keys: tuple[str, ...]
    speed_factor: float = 1.0
    speed_bonus_kmh: float = 0.0
    max_kmh: float = 130.0
    signal_delay_s: float = 12.0
    uturn_s: float = 20.0
    restricted_turn_s: float | None = None
    emergency: bool = False
    default_kmh: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_KMH))

    def usable(self, tags: Mapping[str, str]) -> bool:
        """Whether this vehicle may drive on a way with these tags."""
        hw = tags.get("highway")
        if hw is None or tags.get("area") == "yes":
            return False
        if hw in _BUS_ROADS:
            return self.emergency and tags.get("emergency", "yes") not in _NO
        if hw not in _CAR_ROADS:
            return False
        if hw == "service" and tags.get("service") in _SKIPPED_SERVICE and not self.emergency:
            return False
        if self.emergency:
            for key in ("emergency", "psv", "bus"):
                val = tags.get(key)
                if val in _YES:
                    return True
                if key == "emergency" and val in _NO:
                    return False
            if tags.get("access") in {"emergency", "psv", "bus"}:
                return True
        for key in self.access_keys:
            val = tags.get(key)
            if val is None:
                continue
            if val in _YES:
                return True
            if val in _NO or val in _NOT_FOR_CARS:
                return False
        return True

    def oneway(self, tags: Mapping[str, str]) -> Literal["yes", "-1", "no"]:
        """The direction this vehicle may drive a way: forward, reversed or both."""
        val = tags.get("oneway", "")
        if self.emergency and (
            tags.get("oneway:emergency") == "no"
            or tags.get("oneway:psv") == "no"
            or tags.get("oneway:bus") == "no"
            or tags.get("busway") == "opposite_lane"
        ):
            return "no"
        if val in {"yes", "true", "1"}:
            return "yes"
        if val in {"-1", "reverse"}:
            return "-1"
        if val == "no":
            return "no"
        if tags.get("junction") in {"roundabout", "circular"}:
            return "yes"
        if tags.get("highway") in {"motorway"}:
            return "yes"
        return "no"

    def limit_kmh(self, tags: Mapping[str, str]) -> float:
        """The posted (or default) limit of a way, in km/h."""
        limit = parse_maxspeed(tags.get("maxspeed"))
        if limit is None:
            limit = self.default_kmh.get(tags.get("highway", ""), 25.0)
        return limit

    def speed_kmh(self, tags: Mapping[str, str]) -> float:
        """The speed this vehicle drives a way at, in km/h."""
        limit = self.limit_kmh(tags)
        speed = min(limit * self.speed_factor, limit + self.speed_bonus_kmh, self.max_kmh)
        return max(speed, 5.0)

    def restriction_applies(self, tags: Mapping[str, str]) -> str | None:
        """The restriction value of a relation for this vehicle, or ``None`` if exempt.

        Reads ``restriction:motorcar`` then ``restriction``; an ``except`` tag naming
        ``emergency``, ``psv`` or ``bus`` exempts the emergency vehicle.
        """
        value = tags.get("restriction:motorcar") or tags.get("restriction")
        if value is None:
            return None
        if self.emergency:
            if tags.get("restriction:emergency") == "none":
                return None
            exempt = {v.strip() for v in tags.get("except", "").split(";")}
            if exempt & {"emergency", "psv", "bus"}:
                return None
        return value


CAR = Profile(
    name="car",
    access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    signal_delay_s=12.0,
)
EMERGENCY = Profile(
    name="emergency",
    access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    speed_factor=1.3,
    speed_bonus_kmh=20.0,
    max_kmh=130.0,
    signal_delay_s=12.0,
    restricted_turn_s=30.0,
    emergency=True,
)
PROFILES: dict[str, Profile] = {"car": CAR, "emergency": EMERGENCY}


def get_profile(name: str | Profile) -> Profile:
    """Return a profile by name (or the profile itself)."""
    if isinstance(name, Profile):
        return name
    if name not in PROFILES:
        msg = f"profile={name!r} is not known; choose one of {sorted(PROFILES)}"
        raise InvalidInput(msg)
    return PROFILES[name]
