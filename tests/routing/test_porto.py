"""The Porto graph (shared data): build, restrictions and exactness at city scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.graph import RoadGraph
from routing.greenwave import plan_green_wave


@pytest.mark.shared_data
@pytest.mark.slow
def test_porto_exact_and_planned(shared_data: Path) -> None:
    g = RoadGraph.from_osm(shared_data / "osm" / "porto_portugal.osm.pbf", profile="emergency")
    assert g.node_count > 40_000 and len(g.net.restrictions) > 300 and len(g.net.cluster_ids) > 200
    assert g.engine.ignored_restrictions < 0.1 * len(g.net.restrictions)
    eng = g.engine
    rng = np.random.default_rng(11)
    ids = g.net.osm_ids
    checked = 0
    while checked < 150:
        a, b = (int(x) for x in ids[rng.integers(0, len(ids), 2)])
        cost = g.travel_time_ms(a, b)
        dist = eng.distances(eng.node_sources(g.node_index(a)))
        targets = [e for e, _ in eng.node_targets(g.node_index(b))]
        ref = dist[targets].min() if targets else np.inf
        if cost is None:
            assert ref == np.inf or a == b
            continue
        assert cost == ref
        checked += 1
    plan = plan_green_wave(g, (-8.6110, 41.1496), (-8.5800, 41.1600))
    assert plan.eta_preemption_s <= plan.eta_no_preemption_s
