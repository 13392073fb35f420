"""Wire formats of spans and traces: the snapshot file, the JSON routes' models, Jaeger's query API."""
