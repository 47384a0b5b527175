"""The embedded object store: one file per object under a root folder.

Writes go to a temporary file that is synced and then renamed over the target, so a reader sees
the old object or the new one, never half of one. Temporary files live in ``<root>/.partial``,
a name no object key may start with. Blocking file I/O runs in worker threads.

Signed URLs point at the API (`orin.storage.endpoints`), which checks the signature and
serves or stores the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

import structlog

from orin.errors import AdapterUnavailable, Conflict, NotFound, OrinError
from orin.kit import signing
from orin.storage.base import InvalidKey, ObjectInfo, ObjectStorage, SignedMethod, check_key

logger = structlog.get_logger(__name__)

PARTIAL_DIR = ".partial"
SIGNED_PATH = "/api/v1/storage/"


class ObjectTooLarge(OrinError):
    """An upload exceeded the size the store accepts."""

    status_code = 413
    type_slug = "object-too-large"
    title = "Object too large"


def _info(key: str, stat: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key, size=stat.st_size, modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC)
    )


class LocalStorage(ObjectStorage):
    """Objects as files under ``root``; signed URLs served by this API at ``base_url``."""

    def __init__(self, root: Path, *, base_url: str, secret: bytes, default_ttl_s: int) -> None:
        if not secret:
            raise ValueError("LocalStorage needs a non-empty secret to sign URLs")
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self.default_ttl_s = default_ttl_s
        self._partial = root / PARTIAL_DIR

    # -- paths ------------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """The file holding ``key`` (which may not exist); raises `InvalidKey` for unsafe keys."""
        check_key(key)
        if key.split("/", 1)[0] == PARTIAL_DIR:
            raise InvalidKey(f"invalid object key {key!r}: {PARTIAL_DIR}/ is reserved")
        return self.root.joinpath(*key.split("/"))

    def _open_partial(self) -> tuple[Path, BinaryIO]:
        """A new temporary file for one upload (runs in a thread)."""
        partial = self._partial / f"{uuid.uuid4().hex}.part"
        try:
            return partial, partial.open("xb")
        except FileNotFoundError:
            self._partial.mkdir(parents=True, exist_ok=True)
            return partial, partial.open("xb")

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the folders and remove uploads a crash left half-written."""

        def prepare() -> int:
            self._partial.mkdir(parents=True, exist_ok=True)
            stale = 0
            for leftover in self._partial.iterdir():
                with contextlib.suppress(OSError):
                    leftover.unlink()
                    stale += 1
            return stale

        try:
            stale = await asyncio.to_thread(prepare)
        except OSError as exc:
            raise AdapterUnavailable(
                f"local object store at {self.root} cannot be prepared: {exc.strerror or exc}"
            ) from exc
        logger.info("storage.local.started", root=str(self.root), removed_partials=stale)

    async def close(self) -> None:
        """Nothing is held open between calls; logs the stop for symmetry with other adapters."""
        logger.debug("storage.local.closed", root=str(self.root))

    async def ping(self) -> None:
        """Raise `AdapterUnavailable` unless the root folder exists and is writable."""

        def check() -> bool:
            return self._partial.is_dir() and os.access(self._partial, os.W_OK | os.X_OK)

        if not await asyncio.to_thread(check):
            raise AdapterUnavailable(f"local object store at {self.root} is missing or read-only")

    # -- objects ----------------------------------------------------------------------------

    def _commit(self, partial: Path, target: Path) -> os.stat_result:
        """Move a fully written temporary file into place (runs in a thread)."""
        for attempt in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)
                return target.stat()
            except FileNotFoundError:
                # A concurrent delete pruned the freshly made parent folder: make it again.
                if attempt == 2:
                    raise
            except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
                raise Conflict(
                    f"object key {self._key_of(target)!r} collides with an existing object "
                    "(a key cannot be both an object and a prefix of other keys here)"
                ) from exc
        raise AssertionError("unreachable")

    def _key_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        """Write ``data`` at ``key`` atomically. ``content_type`` is not kept: the API guesses
        it from the key's extension when serving."""
        target = self.path_for(key)

        def write() -> os.stat_result:
            partial, file = self._open_partial()
            try:
                with file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                return self._commit(partial, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()

        return _info(key, await asyncio.to_thread(write))

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, max_size: int
    ) -> ObjectInfo:
        """Write an object from ``chunks`` without holding it in memory.

        Raises `ObjectTooLarge` (leaving the old object in place) once more than ``max_size``
        bytes arrived.
        """
        target = self.path_for(key)
        partial, file = await asyncio.to_thread(self._open_partial)
        try:
            size = 0
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise ObjectTooLarge(
                            f"object {key!r} exceeds the {max_size} byte limit",
                            extra={"max_size": max_size},
                        )
                    if chunk:
                        await asyncio.to_thread(file.write, chunk)
                await asyncio.to_thread(file.flush)
                await asyncio.to_thread(os.fsync, file.fileno())
            finally:
                await asyncio.to_thread(file.close)
            stat = await asyncio.to_thread(self._commit, partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(partial.unlink)
        return _info(key, stat)

    async def get(self, key: str) -> bytes:
        """The object's bytes; raises `NotFound` when missing."""
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"object {key!r} not found") from None

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and modification time of ``key``, or None when missing."""
        stat = await self.stat(key)
        return None if stat is None else _info(key, stat)

    async def stat(self, key: str) -> os.stat_result | None:
        """The file status of ``key``'s object, or None when there is no such object."""
        path = self.path_for(key)

        def stat_file() -> os.stat_result | None:
            try:
                result = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                return None
            return result if path.is_file() else None

        return await asyncio.to_thread(stat_file)

    async def delete(self, *keys: str) -> None:
        """Delete objects (missing ones are ignored) and prune folders left empty."""
        paths = [self.path_for(key) for key in keys]

        def remove() -> None:
            for path in paths:
                try:
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    continue
                parent = path.parent
                while parent != self.root:
                    try:
                        parent.rmdir()
                    except OSError:
                        break  # not empty (or already gone): stop pruning here
                    parent = parent.parent

        await asyncio.to_thread(remove)

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key."""
        folder, _, _ = prefix.rpartition("/")
        if folder:
            try:
                start = self.path_for(folder)
            except InvalidKey:
                return []  # no valid key can start with this prefix
        else:
            start = self.root

        def walk() -> list[ObjectInfo]:
            found: list[ObjectInfo] = []
            for dirpath, dirnames, filenames in os.walk(start):
                current = Path(dirpath)
                if current == self.root and PARTIAL_DIR in dirnames:
                    dirnames.remove(PARTIAL_DIR)
                for name in filenames:
                    key = self._key_of(current / name)
                    if not key.startswith(prefix):
                        continue
                    try:
                        found.append(_info(key, (current / name).stat()))
                    except FileNotFoundError:
                        continue  # deleted while we walked
            found.sort(key=lambda info: info.key)
            return found

        return await asyncio.to_thread(walk)

    # -- signed URLs ------------------------------------------------------------------------

    async def signed_url(
        self, key: str, *, method: SignedMethod = "GET", expires_in_s: int | None = None
    ) -> str:
        """``{base_url}/api/v1/storage/{key}?method=..&expires=..&signature=..``."""
        self.path_for(key)
        expires = signing.expiry_after(expires_in_s or self.default_ttl_s)
        signature = signing.sign(self._secret, method, key, expires_at=expires)
        query = urlencode({"method": method, "expires": expires, "signature": signature})
        return f"{self.base_url}{SIGNED_PATH}{quote(key, safe='/')}?{query}"

    def verify(self, key: str, method: SignedMethod, expires: int, signature: str) -> None:
        """Raise `InvalidSignature` or `ExpiredSignature` unless the URL's signature holds."""
        self.path_for(key)
        signing.verify(self._secret, signature, method, key, expires_at=expires)
