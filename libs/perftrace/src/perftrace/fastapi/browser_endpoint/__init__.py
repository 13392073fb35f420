"""The browser endpoint: ``POST /otlp/v1/traces``, where a browser app exports its spans (OTLP/HTTP, same origin).

``config`` holds every setting and limit, ``otlp_json`` the JSON form's schema and its conversion, ``checks``
what is done to an export (pure functions), ``route`` the I/O. ``PerformanceTracing(browser_endpoint=...)``
mounts it.
"""

from perftrace.fastapi.browser_endpoint.config import BrowserEndpointConfig
from perftrace.fastapi.browser_endpoint.route import BROWSER_TRACES_PATH

__all__ = ["BROWSER_TRACES_PATH", "BrowserEndpointConfig"]
