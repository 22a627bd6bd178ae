"""Render a route with its signals and preemption windows to a standalone HTML map (pydeck).

>>> render_html(plan, "briefing.html")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from routing.greenwave import GreenWavePlan
from routing.route import Route

__all__ = ["render_html", "route_layers"]


def route_layers(route: Route, plan: GreenWavePlan | None = None) -> list[Any]:
    """pydeck layers: the route as a path, its ends and the turns it makes against a
    restriction as dots, signals as dots labelled with their windows."""
    import pydeck as pdk

    path = [
        {
            "path": [list(c) for c in route.geometry.coords],
            "name": "route",
            "tooltip": f"{route.travel_time_s:.0f} s, {route.length_m:.0f} m",
        }
    ]
    layers = [
        pdk.Layer(
            "PathLayer",
            data=path,
            get_path="path",
            get_color=[220, 30, 30],
            width_min_pixels=5,
            pickable=True,
        )
    ]
    ends = [
        {
            "position": list(route.origin.point),
            "tooltip": "start: " + route.origin.explain(),
            "color": [30, 160, 30],
        },
        {
            "position": list(route.destination.point),
            "tooltip": "end: " + route.destination.explain(),
            "color": [30, 30, 200],
        },
    ]
    # Where the vehicle departs from a turn restriction, in orange: the crew should know.
    ends += [
        {"position": list(s.location), "tooltip": s.instruction, "color": [255, 140, 0]}
        for s in route.restricted_turns
    ]
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            data=ends,
            get_position="position",
            get_fill_color="color",
            radius_min_pixels=7,
            pickable=True,
        )
    )
    if plan is not None:
        sig = []
        for s in plan.signals:
            d = s.to_dict(plan.depart)
            sig.append(
                {
                    "position": [s.lon, s.lat],
                    "label": f"{s.eta_s:.0f}s",
                    "tooltip": (
                        f"junction {s.junction_id}: {s.movement}, ETA +{s.eta_s:.0f} s, green "
                        f"+{s.window_start_s:.0f}..+{s.window_end_s:.0f} s"
                        + (f", waits {s.hold_s:.0f} s" if s.hold_s else "")
                        + f"; window {d['window']['start']} to {d['window']['end']}"
                    ),
                    "color": [120, 120, 120] if s.passed else [20, 200, 60],
                }
            )
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=sig,
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
                data=sig,
                get_position="position",
                get_text="label",
                get_size=14,
                get_pixel_offset=[0, -18],
            )
        )
    return layers


def render_html(item: Route | GreenWavePlan, path: str | Path, *, name: str = "path") -> Path:
    """Write a route (or a green-wave plan and its route) to an HTML file and return its path.

    The file is written whole or not at all; ``name`` is how error messages name it.

    Raises
    ------
    InvalidInput
        The path is empty or a folder, or the file cannot be written there.
    """
    import pydeck as pdk

    from twin.files import write_atomic

    plan = item if isinstance(item, GreenWavePlan) else None
    route = item.route if isinstance(item, GreenWavePlan) else item
    minx, miny, maxx, maxy = route.geometry.bounds
    view = pdk.ViewState(longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=14)
    title = f"{route.profile} route: {route.travel_time_s:.0f} s, {route.length_m:.0f} m"
    if plan is not None:
        title += (
            f"; {len(plan.signals)} signals, ETA {plan.eta_preemption_s:.0f} s with preemption, "
            f"{plan.eta_no_preemption_s:.0f} s without"
        )
    deck = pdk.Deck(
        layers=route_layers(route, plan),
        initial_view_state=view,
        map_style=None,
        tooltip={"text": "{tooltip}"},
        description=title,
    )
    html = deck.to_html(as_string=True, open_browser=False, notebook_display=False)
    return write_atomic(path, lambda tmp: tmp.write_text(html, encoding="utf-8"), name=name)
