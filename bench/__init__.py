"""Benchmarks (`make bench`, `python -m bench [name ...] [--quick]`). See README.md."""
