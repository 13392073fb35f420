"""The cache outside the clone that ``make backends`` and ``make home-assistant`` fill, shared by every clone."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(part: str, override_env: str) -> Path:
    """``$override_env`` when set, else ``${XDG_CACHE_HOME:-~/.cache}/ha-ai-agent/<part>``."""
    explicit = os.environ.get(override_env)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "ha-ai-agent" / part
