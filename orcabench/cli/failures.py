"""Exit codes, the contract scripts and CI read (README, "Exit codes"), and what an unexpected error leaves behind.

A verdict's codes (0 pass, 1 regression, 3 inconclusive) are only ever returned by a command that reached its
verdict; an error never borrows them: bad input is 2, a bug 4 (one line, the traceback in a file), Ctrl-C 130.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path

OK = 0
REGRESSION = 1
BAD_INPUT = 2
INCONCLUSIVE = 3
INTERNAL_ERROR = 4
INTERRUPTED = 130

# Commands whose work is saved as it goes, so that running them again carries on where Ctrl-C stopped them.
RESUMABLE = ("run", "gate", "import", "download")


def traceback_folders() -> list[Path]:
    """Where traceback files go: orcabench's cache ($ORCABENCH_CACHE, as for models), else the system temp dir."""
    cache = Path(os.environ.get("ORCABENCH_CACHE") or Path.home() / ".cache" / "orcabench")
    return [cache / "tracebacks", Path(tempfile.gettempdir()) / "orcabench-tracebacks"]


def save_traceback(error: BaseException, argv: list[str]) -> Path | None:
    """Write the error's traceback (and the command line) to a new file; its path, or None if nowhere was writable."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    text = "orcabench " + " ".join(argv) + "\n\n" + "".join(traceback.format_exception(error))
    for folder in traceback_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{stamp}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8", errors="replace")
            return path
        except OSError:
            continue
    return None


def internal_error_line(error: BaseException, argv: list[str]) -> str:
    saved = save_traceback(error, argv)
    where = f"traceback in {saved}" if saved else "no traceback file could be written"
    summary = " ".join(str(error).split())[:300]
    return (f"internal error: {type(error).__name__}: {summary} ({where}; this is a bug in orcabench, "
            "please report it with that file)")


def interrupted_line(argv: list[str]) -> str:
    command = next((arg for arg in argv if not arg.startswith("-")), "")
    if command in RESUMABLE or any(arg in RESUMABLE for arg in argv[:2]):
        return "interrupted — rerun the same command to resume (finished samples are saved)"
    return "interrupted"
