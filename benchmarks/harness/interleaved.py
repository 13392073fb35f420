"""Variants measured in interleaved rounds, and the per-round differences of two of them.

Stdlib only (and ``testsupport.report``): ``span_overhead`` measures GC pauses in the process that imports this.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

from testsupport.report import median

Name = TypeVar("Name")
Result = TypeVar("Result")


def interleaved(names: Sequence[Name], rounds: int, measure: Callable[[Name], Result]) -> dict[Name, list[Result]]:
    """``measure`` every variant once a round, the order reversed every other round so that none always goes first.

    Drift of a shared machine then hits every variant alike, and each round's figures can be compared as a pair.
    """
    found: dict[Name, list[Result]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            found[name].append(measure(name))
    return found


def cpu_difference(on: Sequence[float], off: Sequence[float], ratio_name: str) -> str:
    """``on``'s CPU ms per chat over ``off``'s, round by round: the difference and the ratio, median and range."""
    extra = [a - b for a, b in zip(on, off, strict=True)]
    ratio = [a / b for a, b in zip(on, off, strict=True)]
    return (
        f"**{median(extra):+.2f} ms CPU per chat** (per-round differences {min(extra):+.2f} to "
        f"{max(extra):+.2f} ms, stdev {statistics.pstdev(extra):.2f}); {ratio_name} = {median(ratio):.3f} "
        f"({min(ratio):.3f}–{max(ratio):.3f})"
    )
