"""The command line: running and scoring (``run``), reports, gates, run lists and data (``results``), the app and
shared flag parsing (``app``). ``orcabench`` and ``python -m orcabench.cli`` start :func:`entry`."""


def entry() -> None:
    from orcabench.threads import choose_wait_policy

    choose_wait_policy()  # before anything imports torch: OpenMP reads its wait policy once, when it loads
    from orcabench.cli.run import entry as run_entry  # imported on call: `import orcabench.cli.app` stays light

    run_entry()
