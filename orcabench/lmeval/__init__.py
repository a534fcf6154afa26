"""lm-evaluation-harness tasks as orcabench runs: the bridge, its records, its task configs."""
