"""Two epochs of imagery to change patches to suspected illegal buildings.

The top level exports little; reach the rest through the submodules: ``raster`` (reading,
writing masks), ``align`` (warping, co-registration, normalisation), ``detectors`` and
``building`` (detectors by name), ``evaluate`` (pixel metrics), ``objects`` (patches),
``tiled`` (city scale on Dask), ``synth`` (demo epochs) and ``classify`` (registry and
permits).
"""

from change_detection.detectors import Detector, detector_names, get_detector

__all__ = ["Detector", "detector_names", "get_detector"]
