"""The OSM importer: any ``.osm.pbf`` or ``.osm`` extract to the twin's map layers.

>>> from layers.osm import read_osm, LAYERS                       # doctest: +SKIP
>>> extract = read_osm("data/helsinki.osm.pbf")                   # doctest: +SKIP
>>> sorted(extract.layers) == sorted(spec.name for spec in LAYERS)  # doctest: +SKIP
True

:func:`read_osm` only produces features; writing them into a store is the caller's.
"""

from layers.osm._model import ImportIssue, OsmExtract
from layers.osm._reader import read_osm
from layers.osm.specs import LAYERS

__all__ = ["LAYERS", "ImportIssue", "OsmExtract", "read_osm"]
