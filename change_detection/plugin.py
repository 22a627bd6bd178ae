"""Registration of the change_detection package with the twin kernel."""

from __future__ import annotations

from twin.plugins import Plugin

plugin = Plugin(name="change_detection", requires=("layers",))
