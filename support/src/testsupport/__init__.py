"""What the tests, the benchmarks and the scripts share.

Processes on loopback, the backend stack, chat loads, reading the backends back, and writing figures into
docs/. Installed editable with the dev tools (``make``), so every caller imports it by name.
"""
