"""Dosi's benchmark harness: scenarios S1-S11, each reported beside the machine's ceiling measured in the same run.

Run `python -m bench all --backend sqlite|postgres [--size smoke|full]`; see docs/benchmarks.md.
"""
