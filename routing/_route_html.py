"""The HTML views of the service's kept routes, for a dispatcher's browser.

``GET /routes?f=html`` lists the kept routes; ``GET /routes/{routeId}?f=html`` shows one:
its summary (time with and without the green wave, length, departure and arrival), the
route on a map (pydeck, as :func:`routing.render.render_html` draws it), the turn-by-turn
steps with the turns made against a restriction marked, and the signal plan. Both are
read from the Route Exchange Model document the service keeps, so they show exactly
what the JSON says.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from routing.render import END, RESTRICTED, START, MapView, deck_html, signal_dot

__all__ = ["route_page", "routes_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.restricted td { background: #ffe7c7; font-weight: 600; }
iframe { width: 100%; height: 28em; border: 1px solid #ccc; }
.summary span { margin-right: 2em; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def routes_page(routes: list[tuple[str, dict[str, Any]]], base_url: str) -> str:
    """The list of kept routes, newest first: ``(route id, document)`` pairs."""
    rows = []
    for route_id, doc in routes:
        over = _overview(doc)
        href = f"{base_url}/routes/{escape(route_id)}?f=html"
        rows.append(
            f'<tr><td><a href="{href}">{escape(str(doc.get("name", route_id)))}</a></td>'
            f"<td>{escape(str(over.get('mode', '')))}</td>"
            f"<td>{escape(_when(over.get('departure')))}</td>"
            f'<td class="n">{_num(over.get("duration_s"))}</td>'
            f'<td class="n">{_num(over.get("length_m"))}</td></tr>'
        )
    table = (
        "<table><tr><th>route</th><th>mode</th><th>departure</th><th>time (s)</th>"
        "<th>length (m)</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p>No route kept yet: <code>POST /routes</code> computes one.</p>"
    )
    body = (
        f"<h1>Routes</h1>{table}"
        f'<p><a href="{base_url}/routes?f=json">JSON</a> · <a href="{base_url}/">service</a></p>'
    )
    return _page("Routes", body)


def route_page(doc: dict[str, Any], base_url: str) -> str:
    """One kept route: summary, map, steps and signal plan."""
    route_id = str(doc.get("id", ""))
    name = str(doc.get("name", route_id))
    over = _overview(doc)
    plan = doc.get("signalPlan")
    segments = [f for f in doc.get("features", []) if _kind(f) == "segment"]
    summary = [
        f"<span>{escape(str(over.get('mode', '')))}</span>",
        f"<span>{_num(over.get('length_m'))} m</span>",
        f"<span>departure {escape(_when(over.get('departure')))}</span>",
    ]
    if plan:
        summary += [
            f"<span><b>{_num(plan.get('eta_preemption_s'))} s with the green wave</b> "
            f"(arrival {escape(_clock(plan.get('arrival_preemption')))})</span>",
            f"<span>{_num(plan.get('eta_no_preemption_s'))} s without</span>",
        ]
    else:
        summary.append(
            f"<span><b>{_num(over.get('duration_s'))} s</b> "
            f"(arrival {escape(_clock(over.get('arrival')))})</span>"
        )
    against = [s for s in segments if s["properties"].get("restriction")]
    warn = (
        f"<p><b>{len(against)} turn(s) against a turn restriction</b>, marked in orange: "
        "an emergency vehicle may take them with care.</p>"
        if against
        else ""
    )
    title = f"{name}: {over.get('length_m', '')} m"
    frame = escape(deck_html(_view(doc, segments, plan), title), quote=True)
    body = (
        f"<h1>{escape(name)}</h1>"
        f'<p class="summary">{"".join(summary)}</p>{warn}'
        f'<iframe title="map of the route" srcdoc="{frame}"></iframe>'
        f"<h2>Steps</h2>{_steps_table(segments)}"
        + (f"<h2>Signal plan</h2>{_signals_table(plan)}" if plan else "")
        + f'<p><a href="{base_url}/routes/{escape(route_id)}?f=json">Route Exchange Model '
        f'(GeoJSON)</a> · <a href="{base_url}/routes?f=html">all routes</a></p>'
    )
    return _page(f"Route {name}", body)


def _clock(value: Any) -> str:
    """An RFC 3339 instant as the time of day to the second (as it was, if not one)."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%H:%M:%S")
    except ValueError:
        return str(value or "")


def _when(value: Any) -> str:
    """An RFC 3339 instant as date, time of day and UTC offset."""
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    return t.strftime("%Y-%m-%d %H:%M:%S ") + (t.strftime("UTC%z") if t.tzinfo else "")


def _kind(feature: dict[str, Any]) -> str:
    return str(feature.get("properties", {}).get("featureType", ""))


def _overview(doc: dict[str, Any]) -> dict[str, Any]:
    for f in doc.get("features", []):
        if _kind(f) == "overview":
            return dict(f.get("properties", {}))
    return {}


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value or ""))
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _steps_table(segments: list[dict[str, Any]]) -> str:
    rows = []
    for i, f in enumerate(segments, start=1):
        p = f["properties"]
        cls = ' class="restricted"' if p.get("restriction") else ""
        rows.append(
            f'<tr{cls}><td class="n">{i}</td><td>{escape(str(p.get("instructions", "")))}</td>'
            f'<td class="n">{_num(p.get("length_m"))}</td>'
            f'<td class="n">{_num(p.get("duration_s"))}</td></tr>'
        )
    return (
        "<table><tr><th>#</th><th>instruction</th><th>length (m)</th><th>time (s)</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _signals_table(plan: dict[str, Any]) -> str:
    signals = plan.get("signals", [])
    if not signals:
        return "<p>No traffic signal on the route.</p>"
    rows = []
    for s in signals:
        window = s.get("window", {})
        rows.append(
            f"<tr><td>{escape(str(s.get('junction_id', '')))}</td>"
            f"<td>{escape(str(s.get('movement', '')))}</td>"
            f"<td>{escape(_clock(s.get('eta')))} (+{_num(s.get('eta_s'))} s)</td>"
            f"<td>{escape(_clock(window.get('start')))}</td>"
            f"<td>{escape(_clock(window.get('end')))}</td>"
            f'<td class="n">{_num(s.get("queue_vehicles"))}</td></tr>'
        )
    return (
        "<table><tr><th>junction</th><th>movement</th><th>arrival</th><th>green from</th>"
        "<th>green until</th><th>queue (vehicles)</th></tr>" + "".join(rows) + "</table>"
    )


def _view(
    doc: dict[str, Any], segments: list[dict[str, Any]], plan: dict[str, Any] | None
) -> MapView:
    feats = doc.get("features", [])
    line = next((f["geometry"] for f in feats if _kind(f) == "overview"), None)
    path = [list(c) for c in line["coordinates"]] if line and line["type"] == "LineString" else []
    points = []
    for f in feats:
        kind = _kind(f)
        if kind in ("start", "end") and f.get("geometry"):
            points.append(
                {
                    "position": list(f["geometry"]["coordinates"]),
                    "tooltip": f"{kind}: {f['properties'].get('name') or ''}",
                    "color": START if kind == "start" else END,
                }
            )
    for f in segments:
        p = f["properties"]
        coords = (f.get("geometry") or {}).get("coordinates") or []
        if p.get("restriction") and coords:
            points.append(
                {"position": list(coords[0]), "tooltip": p["instructions"], "color": RESTRICTED}
            )
    signals = [signal_dot(s) for s in (plan or {}).get("signals", [])]
    over = _overview(doc)
    return MapView(
        path=path,
        tooltip=f"{over.get('duration_s', '')} s, {over.get('length_m', '')} m",
        points=points,
        signals=signals,
    )
