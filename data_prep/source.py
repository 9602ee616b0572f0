"""Read UTKFace from the form users download it in: a folder, a ``.tar.gz``/``.tar`` or a ``.zip``.

Every regular file is yielded as ``(base name, bytes)``; folders inside the archive are
flattened (the Kaggle "utkface-new" zip holds the same images in several folders, so
duplicate base names are reported by the caller and read once).
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath

SourceFile = tuple[str, bytes]
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


class SourceError(ValueError):
    """The source path is neither a folder nor a readable archive."""


def is_hidden(path: str) -> bool:
    """macOS metadata ('__MACOSX', '._x') and dot files are never data (nor a user's photos)."""
    return any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(path).parts)


def _entries(source: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Yield ``(path inside the source, reader of its bytes)`` for every non-hidden file."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file() and not is_hidden(str(path.relative_to(source))):
                yield str(path.relative_to(source)), path.read_bytes
    elif source.name.lower().endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if not info.is_dir() and not is_hidden(info.filename):
                    yield info.filename, partial(archive.read, info)
    else:
        with tarfile.open(source) as archive:
            for member in archive:
                if member.isfile() and not is_hidden(member.name):
                    yield member.name, partial(_read_member, archive, member)


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return archive.extractfile(member).read()


def _checked(source: str | Path) -> Path:
    source = Path(source)
    if not source.exists():
        raise SourceError(f"{source} does not exist")
    if not source.is_dir() and not source.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise SourceError(
            f"{source} is neither a folder nor an archive ({', '.join(_ARCHIVE_SUFFIXES)})"
        )
    return source


def count_files(source: str | Path) -> int:
    """Number of files `iter_source` will yield (for progress bars)."""
    try:
        return sum(1 for _ in _entries(_checked(source)))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise SourceError(f"cannot read {source}: {error}") from error


def iter_source(source: str | Path) -> Iterator[SourceFile]:
    """Yield ``(base name, raw bytes)`` for every non-hidden file in a folder or archive."""
    try:
        for path, read in _entries(_checked(source)):
            yield PurePosixPath(path).name, read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise SourceError(f"cannot read {source}: {error}") from error
