"""Benchmarks of the HA AI agent: ``python -m benchmarks`` (``make bench``) runs them and writes docs/performance.md.

Each module at this level is one benchmark, with ``run(quick: bool) -> str`` returning its section (named
after the module); a new benchmark is a new module here. ``harness/`` holds what they share (chat load in
paired rounds, variants in interleaved rounds, the peers and the processes they talk to); ``tools/`` the
investigations run by hand.
"""
