"""Benchmarks: modelport against the servers its users would otherwise write, in one run."""
