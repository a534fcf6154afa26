"""orcabench: zero-shot reasoning benchmarks for small models, scored honestly and reproducibly."""

__version__ = "0.1.0"
