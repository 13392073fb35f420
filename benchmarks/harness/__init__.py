"""What the benchmarks share: the chat load, the peers and the processes they talk to, the chat report, rounds."""
