"""Writing benchmark results into docs/performance.md: machine description, tables, marked sections.

Each benchmark owns one section between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; rewriting
it leaves every other section (written by other benchmarks) untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from testsupport.paths import REPO_ROOT

DOC_PATH = REPO_ROOT / "docs" / "performance.md"

DOC_HEADER = """# Performance

Benchmark figures of the HA AI agent, measured on the machine named in each section. Each section is
rewritten by its benchmark (`make bench`, i.e. `python -m benchmarks`; one with
`--only NAME`); edit the text outside the markers only.
"""


@dataclass(frozen=True)
class Target:
    """One figure checked against its target."""

    name: str
    value: float
    limit: float
    unit: str
    at_most: bool = True

    @property
    def passed(self) -> bool:
        """Whether the value is on the right side of the limit."""
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def row(self) -> list[str]:
        """The target as a table row."""
        sign = "≤" if self.at_most else "≥"
        measured = f"{figure(self.value)} {self.unit}".strip()
        limit = f"{sign} {figure(self.limit)} {self.unit}".strip()
        return [self.name, measured, limit, "pass" if self.passed else "**FAIL**"]


def figure(value: float) -> str:
    """A measured value with three significant digits, large ones with thousands separators."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def machine_description() -> str:
    """``uname -srm``, core count, CPU model and Python version, on one line."""
    uname = platform.uname()
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{uname.system} {uname.release} {uname.machine}; {os.cpu_count()} cores ({cpu}); "
        f"Python {platform.python_version()}; load average at start {load}"
    )


def section_preamble(title: str, started: dt.datetime) -> list[str]:
    """Heading, date and machine lines that open every section."""
    return [
        f"## {title}",
        "",
        f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')} on: {machine_description()}.",
        "",
    ]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def targets_table(targets: Sequence[Target]) -> list[str]:
    """The targets with their measured values and pass/fail."""
    return table(["target", "measured", "limit", "result"], [t.row() for t in targets])


def median(values: Sequence[float]) -> float:
    """Median, 0.0 for no values."""
    return statistics.median(values) if values else 0.0


def replace_section(name: str, body: str, path: Path = DOC_PATH) -> None:
    """Write ``body`` between the markers of section ``name``; create the file or append the section."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else DOC_HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
