"""The road graph, fast exact routing, green waves, dispatch and coverage.

>>> from routing import RoadGraph                                  # doctest: +SKIP
>>> g = RoadGraph.from_osm("data/helsinki.osm.pbf", profile="emergency")  # doctest: +SKIP

The rest lives in submodules: :mod:`routing.greenwave`, :mod:`routing.dispatch`,
:mod:`routing.profiles`, :mod:`routing.closures`, :mod:`routing.render`.
"""

from routing.graph import RoadGraph
from routing.route import Route, Step
from routing.snap import Snap

__all__ = ["RoadGraph", "Route", "Snap", "Step"]
