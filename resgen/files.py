"""Writing outputs: whole files or nothing, and untouched when already up to date."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(target: Path, content: str | bytes) -> bool:
    """Write via a temp file and a rename; return False when the file already held `content`.

    Text is written as UTF-8. A reader (or an interrupted build) sees the old file or the new
    one, never half of one, and no temp file is left behind on failure.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    if target.is_file() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
