"""ai-automation: a second service of the home platform, traced by ``perftrace`` like any other."""

#: The service's ``service.name`` unless ``OTEL_SERVICE_NAME`` says otherwise.
SERVICE_NAME = "ai-automation"
