"""The run lifecycle: plan, session, the one execute loop, preflight checks, scoring without a model."""
