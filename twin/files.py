"""Writing output files whole or not at all.

A file is written to a temporary file next to it and moved into place, so a failed write
(a missing folder, no permission, a full disk) leaves neither a partial file nor a
changed old one, and reports the path and the reason as :class:`~twin.errors.InvalidInput`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from twin.errors import InvalidInput

__all__ = ["new_file_mode", "write_atomic"]


def new_file_mode() -> int:
    """The mode a plain ``open()`` gives a new file (0o666 less the process's umask).

    A temporary file is made private; a file moved into place from one gets this mode.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, write: Callable[[Path], object], *, name: str) -> Path:
    """Call ``write`` on a temporary file next to ``path``, then move it to ``path``.

    Parameters
    ----------
    path
        The file to write.
    write
        Writes the content to the path it is given.
    name
        How messages name the file, e.g. ``"--out"``.

    Raises
    ------
    InvalidInput
        The path is empty or a folder, or the file cannot be written there; nothing is
        left behind.
    """
    text = str(path)
    if not text.strip():
        msg = f"{name}={text!r} is empty; give a file path"
        raise InvalidInput(msg)
    out = Path(path)
    if out.is_dir():
        msg = f"{name}={text!r} is a folder; give a file path"
        raise InvalidInput(msg)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        msg = f"{name}={text!r} cannot be written: {exc.strerror or exc}"
        raise InvalidInput(msg) from None
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, out)
    except OSError as exc:
        msg = f"{name}={text!r} cannot be written: {exc.strerror or exc}"
        raise InvalidInput(msg) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
