"""Presenting runs: results tables, charts, the static site, publishing, audits, run listings."""
