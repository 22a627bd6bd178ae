"""Render a route with its signals and preemption windows to a standalone HTML map (pydeck).

>>> render_html(plan, "briefing.html")  # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing.greenwave import GreenWavePlan
from routing.route import Route

__all__ = [
    "MapView",
    "deck_html",
    "map_layers",
    "render_html",
    "route_layers",
    "signal_dot",
    "view_of",
]


@dataclass(frozen=True)
class MapView:
    """What a route map shows, in CRS84: the path, marked points and signals.

    ``points`` are dicts with ``position``, ``tooltip`` and ``color`` (the ends, and the
    turns made against a restriction); ``signals`` add a ``label`` (the ETA).
    """

    path: list[list[float]]
    tooltip: str
    points: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)


#: Colours of the marked points: start, end, a turn against a restriction, signals.
START, END, RESTRICTED = [30, 160, 30], [30, 30, 200], [255, 140, 0]
SIGNAL, SIGNAL_PASSED = [20, 200, 60], [120, 120, 120]


def signal_dot(d: dict[str, Any]) -> dict[str, Any]:
    """The map dot of a signal of a plan, from its JSON (``SignalWindow.to_dict``)."""
    start, end = d["window_s"]
    return {
        "position": list(d["position"]),
        "label": f"{d['eta_s']:.0f}s",
        "tooltip": (
            f"junction {d['junction_id']}: {d['movement']}, ETA +{d['eta_s']:.0f} s, green "
            f"+{start:.0f}..+{end:.0f} s"
            + (f", waits {d['hold_s']:.0f} s" if d["hold_s"] else "")
            + f"; window {d['window']['start']} to {d['window']['end']}"
        ),
        "color": SIGNAL_PASSED if d["passed"] else SIGNAL,
    }


def view_of(route: Route, plan: GreenWavePlan | None = None) -> MapView:
    """The map of a computed route (and of its green-wave plan)."""
    points = [
        {"position": list(route.origin.point), "tooltip": "start: " + route.origin.explain()},
        {
            "position": list(route.destination.point),
            "tooltip": "end: " + route.destination.explain(),
        },
    ]
    points[0]["color"], points[1]["color"] = START, END
    # Where the vehicle departs from a turn restriction, in orange: the crew should know.
    points += [
        {"position": list(s.location), "tooltip": s.instruction, "color": RESTRICTED}
        for s in route.restricted_turns
    ]
    signals = [] if plan is None else [signal_dot(s.to_dict(plan.depart)) for s in plan.signals]
    return MapView(
        path=[list(c) for c in route.geometry.coords],
        tooltip=f"{route.travel_time_s:.0f} s, {route.length_m:.0f} m",
        points=points,
        signals=signals,
    )


def _inert(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``<`` and ``>`` in their texts replaced by look-alikes: pydeck writes
    the data into a script element as it is, where ``</script>`` would end it."""
    table = str.maketrans({"<": "\u2039", ">": "\u203a"})
    return [
        {k: v.translate(table) if isinstance(v, str) else v for k, v in r.items()} for r in rows
    ]


def map_layers(view: MapView) -> list[Any]:
    """pydeck layers: the path, the marked points as dots, signals as labelled dots."""
    import pydeck as pdk

    points, signals = _inert(view.points), _inert(view.signals)
    tooltip = _inert([{"t": view.tooltip}])[0]["t"]

    layers = [
        pdk.Layer(
            "PathLayer",
            data=[{"path": view.path, "name": "route", "tooltip": tooltip}],
            get_path="path",
            get_color=[220, 30, 30],
            width_min_pixels=5,
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            data=points,
            get_position="position",
            get_fill_color="color",
            radius_min_pixels=7,
            pickable=True,
        ),
    ]
    if signals:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=signals,
                get_position="position",
                get_fill_color="color",
                get_line_color=[0, 0, 0],
                stroked=True,
                radius_min_pixels=6,
                pickable=True,
            )
        )
        layers.append(
            pdk.Layer(
                "TextLayer",
                data=signals,
                get_position="position",
                get_text="label",
                get_size=14,
                get_pixel_offset=[0, -18],
            )
        )
    return layers


def route_layers(route: Route, plan: GreenWavePlan | None = None) -> list[Any]:
    """pydeck layers: the route as a path, its ends and the turns it makes against a
    restriction as dots, signals as dots labelled with their windows."""
    return map_layers(view_of(route, plan))


def deck_html(view: MapView, title: str) -> str:
    """A standalone HTML page of a map (pydeck, deck.gl from its CDN)."""
    import pydeck as pdk

    coords = view.path or [p["position"] for p in view.points] or [[0.0, 0.0]]
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    state = pdk.ViewState(
        longitude=(min(xs) + max(xs)) / 2, latitude=(min(ys) + max(ys)) / 2, zoom=14
    )
    deck = pdk.Deck(
        layers=map_layers(view),
        initial_view_state=state,
        map_style=None,
        tooltip={"text": "{tooltip}"},
        description=html.escape(title),
    )
    return str(deck.to_html(as_string=True, open_browser=False, notebook_display=False))


def render_html(item: Route | GreenWavePlan, path: str | Path, *, name: str = "path") -> Path:
    """Write a route (or a green-wave plan and its route) to an HTML file and return its path.

    The file is written whole or not at all; ``name`` is how error messages name it.

    Raises
    ------
    InvalidInput
        The path is empty or a folder, or the file cannot be written there.
    """
    from twin.files import write_atomic

    plan = item if isinstance(item, GreenWavePlan) else None
    route = item.route if isinstance(item, GreenWavePlan) else item
    title = f"{route.profile} route: {route.travel_time_s:.0f} s, {route.length_m:.0f} m"
    if plan is not None:
        title += (
            f"; {len(plan.signals)} signals, ETA {plan.eta_preemption_s:.0f} s with preemption, "
            f"{plan.eta_no_preemption_s:.0f} s without"
        )
    html_text = deck_html(view_of(route, plan), title)
    return write_atomic(path, lambda tmp: tmp.write_text(html_text, encoding="utf-8"), name=name)
