"""Registration of the change_detection package with the twin kernel."""

from __future__ import annotations

from change_detection.cli import change_group
from twin.plugins import Plugin

plugin = Plugin(name="change_detection", requires=("layers",), cli=lambda: [change_group])
