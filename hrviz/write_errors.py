"""A write that fails for lack of space or permission is the user's to fix, not a bug.

A full disk, a quota, a read-only folder or a missing permission shows up in three guises:
``OSError`` (``errno`` ENOSPC, EDQUOT, EFBIG, EACCES, EPERM, EROFS), safetensors'
``SafetensorError`` ("Error while serializing: I/O error: No space left on device (os error
28)") and DuckDB's errors ("Failed to commit: Could not write file ...: No space left on
device"). :func:`writing` turns each into one :class:`~hrviz.errors.InputError` that names the
path, so the CLI prints one line and exits 2 and the app shows an error box; any other error
passes through unchanged.

Example::

    with writing(path, "the model file"):
        save_file(tensors, str(path))
"""

from __future__ import annotations

import errno
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import InputError

#: errno values that mean "no room, or no right, to write here"
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS})
_TEXTS = ("no space left on device", "disk quota exceeded", "file too large", "permission denied",
          "read-only file system", "operation not permitted")
_OS_ERROR = re.compile(r"os error (\d+)")
HINT = "free some disk space or write elsewhere (--db PATH, --out DIR)"


def is_write_failure(err: BaseException) -> bool:
    """True when ``err`` says a write failed for lack of space or permission."""
    if isinstance(err, InputError):
        return False
    if isinstance(err, OSError) and err.errno is not None:
        return err.errno in WRITE_ERRNOS
    text = str(err).lower()
    m = _OS_ERROR.search(text)
    if m and int(m.group(1)) in WRITE_ERRNOS:
        return True
    kind = type(err).__module__ or ""
    known = kind.startswith(("duckdb", "_duckdb", "safetensors")) or isinstance(err, OSError)
    return known and any(t in text for t in _TEXTS)


def reason(err: BaseException) -> str:
    """The system's words for a write failure: ``No space left on device``."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err)
    for t in _TEXTS:
        i = text.lower().find(t)
        if i >= 0:
            return text[i:i + len(t)]
    return text.splitlines()[0] if text else type(err).__name__


def write_failure(err: BaseException, path: str | Path | None, what: str) -> InputError:
    """The one-line InputError of a failed write of ``what`` (e.g. "the model file") at ``path``
    (the OSError's own file name when it has one)."""
    where = getattr(err, "filename", None) or path
    return InputError(f"cannot write {what}: {reason(err)}", where=None if where is None else str(where), hint=HINT)


@contextmanager
def writing(path: str | Path, what: str) -> Iterator[None]:
    """Inside, a write failure (:func:`is_write_failure`) becomes :func:`write_failure`'s
    InputError naming ``path``; every other error is raised as it is."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - only write failures are translated
        if not is_write_failure(err):
            raise
        raise write_failure(err, path, what) from None
