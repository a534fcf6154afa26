"""CI gates: verdicts, the sequential walk, candidate runs, outputs."""
