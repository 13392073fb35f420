"""What a FastAPI service mounts (the ``fastapi`` extra): the ``/performance`` page, its JSON, the browser endpoint.

tracing = PerformanceTracing(service_name="ai-automation")
app = FastAPI(lifespan=tracing.lifespan)
tracing.mount(app)
"""

from perftrace.fastapi.browser_endpoint import BROWSER_TRACES_PATH, BrowserEndpointConfig
from perftrace.fastapi.tracing import PerformanceTracing, drop_query_string
from perftrace.paths import PAGE_PATH

__all__ = ["BROWSER_TRACES_PATH", "PAGE_PATH", "BrowserEndpointConfig", "PerformanceTracing", "drop_query_string"]
