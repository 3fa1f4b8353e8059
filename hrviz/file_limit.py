"""The one size limit on the files a user hands hrviz, and the one way they are read.

Every file hrviz reads from a user is held to one limit, :func:`max_bytes`: **2 GiB** by default;
``$HRVIZ_LOAD_MAX_BYTES`` (a number of bytes) sets it for every reader at once. That covers
hierarchy files (:mod:`hrviz.sources`: a path, an upload, each maybe gzip'd, when its
decompressed content counts too: no gzip bomb gets past it) and vector files (``hrviz load``,
the Train page's "Load vectors": :mod:`hrviz.loaded`). A caller may pass a limit of its own
(``max_bytes=`` of :func:`hrviz.sources.load_file`, e.g. a test's).

- :func:`read_bounded` reads a path once and never more than the limit + 1 bytes: a missing or
  unreadable file, a folder, a device (``/dev/zero``), a socket is refused unread, a regular
  file over the limit from its size, a pipe as soon as one byte too many arrives;
- :func:`check_size` refuses bytes already in hand (an upload) over the limit;
- :func:`gunzip_bounded` decompresses gzip data, never more than the limit + 1 bytes;
- every refusal is one :class:`~hrviz.errors.InputError`: what, the file, and how to allow more.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from pathlib import Path

from .errors import InputError

#: the size limit of one file when ``$HRVIZ_LOAD_MAX_BYTES`` is not set: 2 GiB
DEFAULT_MAX_BYTES = 2 * 1024 ** 3
#: the environment variable that sets the limit, in bytes
MAX_BYTES_ENV = "HRVIZ_LOAD_MAX_BYTES"
_CHUNK = 1 << 20
GZIP_HINT = "copy or download the file again; `gzip -t FILE` checks it"


def max_bytes() -> int:
    """The size limit of one file in bytes now: ``$HRVIZ_LOAD_MAX_BYTES``, else 2 GiB."""
    text = os.environ.get(MAX_BYTES_ENV)
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        shown = text if len(text) <= 30 else text[:29] + "…"
        raise InputError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {shown!r}")
    return value


def human(n: int | float) -> str:
    """A byte count in words: ``2 GiB``, ``153 TiB``, ``906 bytes``, ``1,000 bytes``."""
    for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n):,} bytes"


def too_big(what: str, size: int | float | None, limit: int, where: str) -> InputError:
    """The refusal of ``what`` with its verb (``"the file is"``, ``"its arrays unpack to"``) of
    ``size`` bytes (None: unknown, only that it is more): ``the file is 3.91 KiB, over the limit
    of 1,000 bytes``."""
    shown = "" if size is None else f" {human(size)},"
    return InputError(f"{what}{shown} over the limit of {human(limit)}", where=where,
                      hint=f"use a smaller file, or set {MAX_BYTES_ENV} (bytes) to allow more")


def check_size(size: int, where: str, limit: int | None = None, what: str = "the file is") -> None:
    """Refuse ``size`` bytes over ``limit`` (None: :func:`max_bytes`)."""
    limit = max_bytes() if limit is None else limit
    if size > limit:
        raise too_big(what, size, limit, where)


def _not_a_file(mode: int) -> str | None:
    """What a file that is neither regular nor a pipe is, in words (None: readable)."""
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bounded(path: str | Path, where: str | None = None, limit: int | None = None, *,
                 expect: str = "a file", hint: str | None = None) -> bytearray:
    """The whole content of ``path``, read once and never more than ``limit`` + 1 bytes (None:
    :func:`max_bytes`).

    Opened without blocking (a pipe nobody writes to reads as empty instead of hanging), then
    checked on the open descriptor (no race with a link swapped in between): a folder, device or
    socket is refused unread (``"a folder, not {expect}"``, with ``hint``); a regular file over
    the limit from its size. A pipe, or a file that grows while read, is refused as soon as one
    byte more than the limit arrives. ``where`` names the file in messages (default: the path).
    """
    where = str(path) if where is None else where
    limit = max_bytes() if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError("no such file", where=where, hint="check the path") from None
    except PermissionError:
        raise InputError("cannot read the file: permission denied", where=where,
                         hint="check the file's permissions") from None
    except IsADirectoryError:
        raise InputError(f"a folder, not {expect}", where=where, hint=hint) from None
    except OSError as err:
        raise InputError(f"cannot read the file: {err.strerror or 'refused'}", where=where) from None
    try:
        info = os.fstat(fd)
        kind = _not_a_file(info.st_mode)
        if kind:
            raise InputError(f"{kind}, not {expect}", where=where, hint=hint)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise too_big("the file is", info.st_size, limit, where)
        os.set_blocking(fd, True)  # a pipe with a writer: wait for its data
        data = bytearray()  # grows in place: the content is held once, not once per chunk and once joined
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
            if len(data) > limit:
                raise InputError(f"more than the limit of {human(limit)}: the read stopped there", where=where,
                                 hint=f"set {MAX_BYTES_ENV} (bytes) to allow more")
        return data
    except OSError as err:
        raise InputError(f"cannot read the file: {err.strerror or 'read failed'}", where=where) from None
    finally:
        os.close(fd)


def gunzip_bounded(data: bytes, where: str, limit: int | None = None) -> bytes:
    """The decompressed content of gzip ``data``, never more than ``limit`` + 1 bytes (None:
    :func:`max_bytes`): a gzip bomb is refused, as are truncated or corrupt data."""
    limit = max_bytes() if limit is None else limit
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
            out = g.read(limit + 1)
    except EOFError:
        raise InputError("the gzip file is truncated (the compressed data ends early)", where=where,
                         hint=GZIP_HINT) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        raise InputError(f"the gzip file is corrupt ({e})", where=where, hint=GZIP_HINT) from None
    if len(out) > limit:
        raise too_big("the decompressed content is", None, limit, where)
    return out
