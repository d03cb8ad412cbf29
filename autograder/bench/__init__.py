"""Benchmarks (not tests): ``make bench`` (grading speed) and ``make bench-timing`` (threshold rates)."""
