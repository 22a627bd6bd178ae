"""Registration of the addressing package with the twin kernel."""

from __future__ import annotations

from twin.plugins import Plugin

plugin = Plugin(name="addressing", requires=("layers",))
