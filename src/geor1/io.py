"""Atomic file writes: a reader, or a kill at any moment, sees the old file or the new one, never
half of one. Write to a temporary file beside the target, flush and fsync it, rename it over the
target, then fsync the folder so the rename itself survives a crash. Every file geor1 rewrites in
place (evaluation settings and summaries, datasets, engine state, reports, checkpoints' metadata)
goes through here; append-only logs (predictions.jsonl, metrics.csv) are appended and fsynced."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """``with atomic_open(path) as f: f.write(...)``: the file appears whole when the block ends, and
    not at all if it raises (the temporary file is removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    f = open(tmp, mode, encoding=None if "b" in mode else encoding)
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)
    except BaseException:
        f.close()
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj, *, indent: int | None = 2, **dump_kwargs) -> Path:
    """``obj`` as JSON (a trailing newline), atomically."""
    return atomic_write(path, json.dumps(obj, indent=indent, ensure_ascii=False, **dump_kwargs) + "\n")


def replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Move ``src`` onto ``dst`` in one atomic rename (a file or a folder), durably."""
    os.replace(src, dst)
    fsync_dir(Path(dst).parent)
