"""The span attribute names the library itself sets; a service's own names belong in its own module."""

from __future__ import annotations

from typing import Final

#: On the span that stands for one tracked operation, e.g. ``chat_request_1765061925771``: what
#: ``get_tracker().get_reports()`` and ``/performance`` build their reports from.
OPERATION_ATTRIBUTE: Final = "performance.operation"
#: On the resource of browser spans that the browser endpoint forwarded: the ``service.name`` that forwarded them.
FORWARDED_BY_ATTRIBUTE: Final = "telemetry.forwarded_by"
