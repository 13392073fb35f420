"""Where the repository is: the support package is installed editable from ``support/src``."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
