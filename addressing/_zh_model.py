"""The Chinese address tagger: a linear-chain CRF trained on synthetic addresses.

The CRF (``python-crfsuite``) is trained on first use from
:func:`addressing._zh_synth.generate` only, and cached in the user cache directory
(``$TWIN_CACHE_DIR`` or ``$XDG_CACHE_HOME/city-twin``, else ``~/.cache/city-twin``)
under a name that fingerprints the generator, the features, the keyword lists and the
training settings, so any change to them trains a new model. No weights are shipped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

from addressing import (
    _divisions,
    _townships,
    _zh_features,
    _zh_lexicon,
    _zh_places,
    _zh_synth,
    _zh_synth_places,
)
from addressing._zh_features import featurise

__all__ = ["TRAINING", "cache_dir", "model_path", "tag", "train"]

log = logging.getLogger(__name__)

TRAINING: dict[str, Any] = {
    "algorithm": "ap",
    "n": 30000,
    "seed": 20240,
    "max_iterations": 8,
    "c1": 0.05,
    "c2": 0.01,
}
"""How the tagger is trained: how many synthetic addresses, their seed, and the CRF
settings (averaged perceptron, 8 epochs: about 35-50 s on one core; ``c1``/``c2`` apply
to the ``lbfgs`` and ``l2sgd`` algorithms only)."""

_lock = threading.Lock()
_local = threading.local()


def cache_dir() -> Path:
    """Return the directory where trained models are cached."""
    env = os.environ.get("TWIN_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "city-twin"


def _fingerprint(settings: dict[str, Any]) -> str:
    h = hashlib.sha256(repr(sorted(settings.items())).encode())
    for mod in (
        _zh_synth,
        _zh_synth_places,
        _zh_features,
        _zh_places,
        _zh_lexicon,
        _divisions,
        _townships,
    ):
        h.update(Path(str(mod.__file__)).read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(Path(_divisions._resource_dir() / "adcodes.csv").read_bytes())
    h.update(_townships.location_zip().read_bytes())
    return h.hexdigest()[:16]


def model_path(settings: dict[str, Any] | None = None) -> Path:
    """Return the cache path of the model trained with ``settings``."""
    s = TRAINING if settings is None else settings
    return cache_dir() / "addressing" / f"zh-crf-{_fingerprint(s)}.crfsuite"


def _sequence(segs: list[_zh_synth.Segment]) -> tuple[list[list[bytes]], list[str]]:
    pieces: list[tuple[str, str]] = []
    for label, text in segs:
        if pieces:
            prev = pieces[-1][1][-1]
            # keep adjacent digit or letter runs apart, as real text does
            if (prev.isdigit() and text[0].isdigit()) or (
                prev.isascii() and prev.isalpha() and text[0].isascii() and text[0].isalpha()
            ):
                pieces.append(("redundant", "-"))
        pieces.append((label, text))
    full = "".join(t for _, t in pieces)
    owner: list[str] = []
    starts: set[int] = set()
    pos = 0
    for label, text in pieces:
        starts.add(pos)
        owner.extend([label] * len(text))
        pos += len(text)
    spans, feats = featurise(full)
    tags = [("B-" if s in starts else "I-") + owner[s] for s, _ in spans]
    return feats, tags


def train(path: Path, settings: dict[str, Any] | None = None) -> Path:
    """Train a tagger on synthetic addresses and write it to ``path``.

    Parameters
    ----------
    path
        Where the model file goes (written atomically).
    settings
        Keys of :data:`TRAINING`; defaults to it.

    Returns
    -------
    Path
        ``path``.
    """
    import pycrfsuite

    s = TRAINING if settings is None else settings
    algorithm = str(s.get("algorithm", "lbfgs"))
    trainer = pycrfsuite.Trainer(algorithm=algorithm, verbose=False)
    for segs in _zh_synth.generate(int(s["n"]), seed=int(s["seed"])):
        feats, tags = _sequence(segs)
        trainer.append(feats, tags)
    params: dict[str, Any] = {
        "max_iterations": int(s["max_iterations"]),
        "feature.possible_transitions": True,
    }
    if algorithm == "lbfgs":
        params |= {"c1": float(s["c1"]), "c2": float(s["c2"])}
    elif algorithm == "l2sgd":
        params |= {"c2": float(s["c2"])}
    trainer.set_params(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(fd)
    try:
        trainer.train(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("trained the Chinese address tagger on %d synthetic addresses: %s", s["n"], path)
    return path


@cache
def _default_model() -> str:
    path = model_path()
    with _lock:
        if not path.exists():
            log.warning("training the Chinese address tagger once (cached in %s)", path.parent)
            train(path)
    return str(path)


def tag(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """Return the unit spans of ``text`` and the BIO tag of each unit."""
    tagger = getattr(_local, "tagger", None)
    if tagger is None:
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        tagger.open(_default_model())
        _local.tagger = tagger
    spans, feats = featurise(text)
    return spans, list(tagger.tag(feats))
