"""Content-addressed blobs on disk: `<root>/ab/cd/<sha256>`, written atomically (temp file, fsync,
rename); the same bytes are kept once however many attachments name them."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from node.errors import NotFound

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _SHA_RE.match(sha256):
            raise NotFound("附件文件不存在")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists() and target.stat().st_size == len(data):
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def open_path(self, sha256: str) -> Path:
        """The blob's path, checked to exist inside the root."""
        path = self.path(sha256).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            raise NotFound("附件文件不存在（可能已被清除）")
        return path

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
