"""Writes that cannot destroy: every file orcabench writes outside a run's append-only records goes through here.

A file is written to a temporary file in its own folder, fsync'd and renamed over the target, so a crash, a full
disk or a bad value half-way leaves the previous file whole; an existing file keeps its permissions (a new one
gets the umask's, not a temporary file's 0600). A run directory's files are refused unless the caller owns the
run (holds its lock), so no command can overwrite a run's records by being pointed at them. Any failure is one
:class:`OrcabenchError` naming the path and the fix.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from orcabench.types import OrcabenchError

# The names that make a folder a run directory (store.writer's MANIFEST, RECORDS, LOCK; a data mirror has a
# manifest.json too, but no records or lock).
RUN_MARKERS = ("records.jsonl", ".lock")
RUN_MANIFEST = "manifest.json"


def is_run_directory(folder: Path) -> bool:
    return (folder / RUN_MANIFEST).is_file() and any((folder / marker).exists() for marker in RUN_MARKERS)


def fsync_directory(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (the directory entry itself)."""
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def check_writable_file(path: Path, flag: str, owned_run: bool = False) -> None:
    """Refuse, before any work is done, a path that :func:`write_atomic` could not write.

    ``flag`` names where the path came from (``--output``) in the message.
    """
    if path.is_dir():
        raise OrcabenchError(f"{flag} {path} is a directory; pass a file path")
    folder = path.parent
    if not folder.exists():
        raise OrcabenchError(f"{flag} {path}: folder {folder} does not exist; create it or pick another path")
    if not folder.is_dir():
        raise OrcabenchError(f"{flag} {path}: {folder} is a file, not a folder; pick another path")
    if not owned_run and is_run_directory(folder):
        raise OrcabenchError(f"{flag} {path} is inside the run directory {folder}, whose files are the run's evidence; "
                             "write it somewhere else")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OrcabenchError(f"{flag} {path}: cannot write in {folder} (permission denied); pick a writable place")


def ensure_directory(path: Path, flag: str) -> Path:
    """Create the output folder ``path`` (and its parents); a file in the way or no permission is one clear error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:
        raise OrcabenchError(f"{flag} {path} is a file; pass a directory") from error
    except NotADirectoryError as error:
        raise OrcabenchError(f"{flag} {path} lies below a file, not a folder; pick another path") from error
    except OSError as error:
        raise OrcabenchError(f"{flag} {path}: cannot create it ({_reason(error)}); pick a writable place") from error
    if not path.is_dir():
        raise OrcabenchError(f"{flag} {path} is a file; pass a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OrcabenchError(f"{flag} {path}: cannot write in it (permission denied); pick a writable place")
    return path


def write_atomic(path: Path, content: str | bytes | Callable[[BinaryIO], None], flag: str = "output",
                 owned_run: bool = False) -> Path:
    """Replace ``path`` with ``content`` (text is UTF-8; a callable writes into the open binary file) all at once.

    ``owned_run``: the caller holds the lock of the run directory ``path`` is in (the run's own writers and
    rescore); anyone else is refused a run directory's files.
    """
    check_writable_file(path, flag, owned_run)
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    except OSError:
        mode = None
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # 0o666 less the umask, as open() would give a new file; an existing file's mode is copied below.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise OrcabenchError(f"{flag} {path}: cannot write in {path.parent} ({_reason(error)}); "
                             "pick a writable place") from error
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, UnicodeEncodeError):
            raise OrcabenchError(f"{flag} {path}: the text is not valid Unicode ({error.reason}); nothing was written") from error
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM,
                                                          errno.EROFS, errno.EISDIR):
            raise OrcabenchError(f"{flag} {path}: cannot write it ({_reason(error)}); the previous file is unchanged") from error
        raise
    fsync_directory(path.parent)
    return path
