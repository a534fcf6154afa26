from orcabench.cli import entry

entry()
