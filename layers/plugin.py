"""Registration of the layers package with the twin kernel."""

from __future__ import annotations

from twin.plugins import Plugin

plugin = Plugin(name="layers")
