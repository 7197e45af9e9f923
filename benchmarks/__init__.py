"""Benchmarks: each measures fxticker against a floor timed in the same run (`make bench`)."""
