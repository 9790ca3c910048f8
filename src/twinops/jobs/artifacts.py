"""The artifact store: bytes kept by their sha256, so identical content is stored once.

Which job holds which artifact under which name is the job store's business (a table);
this store only keeps content.
"""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from twinops.jobs.canonical import sha256_hex

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class CorruptArtifact(OSError):
    """Stored content that no longer matches its hash (a torn write, a tampered file)."""


class ArtifactStore(ABC):
    """Content-addressed bytes.

    ``local_root`` names the folder when the content lives in plain files that a worker on
    this machine may write itself (with ``durable`` saying whether to fsync); else None.
    """

    local_root: Path | None = None
    durable: bool = False

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` (once, whatever the number of calls); answer its sha256."""

    @abstractmethod
    def get(self, sha256: str) -> bytes:
        """The content with this hash (FileNotFoundError if absent, CorruptArtifact if torn)."""

    @abstractmethod
    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The content with this hash, in pieces (for streaming a large artifact)."""

    @abstractmethod
    def has(self, sha256: str) -> bool:
        """Whether the content with this hash is stored."""


class FileArtifactStore(ArtifactStore):
    """Files under ``root/sha256/ab/<the other 62 digits>``, written atomically.

    ``durable`` fsyncs each file before it is renamed into place: worth it next to a
    database that syncs every commit (PostgreSQL), not next to SQLite in WAL mode with
    ``synchronous=NORMAL``, which may itself lose its last commits on power loss. Either way
    :meth:`get` checks the content against its hash, so a torn file is an error, not data.
    """

    def __init__(self, root: Path, *, durable: bool = False) -> None:
        self.root = root
        self.local_root = root
        self.durable = durable

    def _path(self, sha256: str) -> Path:
        # The hash is checked, so a caller-supplied value can never leave the root.
        if not _SHA256.match(sha256):
            raise FileNotFoundError(f"not an artifact hash: {sha256[:80]!r}")
        return self.root / "sha256" / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temp, path)  # atomic: readers see all of it or nothing
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        data = self._path(sha256).read_bytes()
        if sha256_hex(data) != sha256:
            raise CorruptArtifact(f"artifact {sha256} does not match its hash")
        return data

    def chunks(self, sha256: str) -> Iterator[bytes]:
        with self._path(sha256).open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    def has(self, sha256: str) -> bool:
        try:
            return self._path(sha256).is_file()
        except FileNotFoundError:
            return False
