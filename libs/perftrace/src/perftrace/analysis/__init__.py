"""What the traces say: per-stage statistics, critical paths, the bottleneck report, before/after comparisons."""
