"""Benchmarks of the HA AI agent; ``python -m benchmarks.run_all`` (``make bench``) writes docs/performance.md."""
