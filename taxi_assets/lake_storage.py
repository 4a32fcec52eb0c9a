"""Places in the lake, on a local folder or an object store, read and written through pyarrow's filesystems.

A lake root is a folder, a ``file://`` URL, or an object-store URL that pyarrow opens itself: ``s3://bucket/prefix``
(credentials, region and endpoint from the usual ``AWS_*`` variables, or as URL query options such as
``?endpoint_override=minio:9000&scheme=http``) or ``gs://bucket/prefix`` (Google Cloud Storage). Every output of
the assets is a :class:`LakeLocation`: pyarrow and pandas reach it through its filesystem, Spark through
:attr:`LakeLocation.spark_uri` (``s3a://`` for S3, as Hadoop names it).

Only single files are renamed into place: an object store renames by copying, which is atomic for one object but
not for a folder. A folder output is written into a new generation folder inside it and committed by its manifest,
written last (:func:`staged_folder`); readers find the committed generation through the manifest
(:func:`read_committed`).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from taxi_assets.errors import MissingInputError

# Hadoop's name for a scheme, where it differs from pyarrow's
_SPARK_SCHEMES = {"s3": "s3a"}
# the stores whose pyarrow path is bucket/key, so that scheme://bucket/key names the same object for Spark
_OBJECT_STORES = ("s3", "gs", "gcs")
MANIFEST = "_manifest.json"
# a folder output's data lives in a generation folder inside it, named by its manifest under this key
DATA_KEY = "data"
GENERATION_PREFIX = "gen-"


@dataclass(frozen=True, eq=False)
class LakeLocation:
    """A file or folder in the lake: a path inside one pyarrow filesystem, and the URL scheme it came from."""

    fs: pafs.FileSystem
    path: str
    scheme: str = ""

    def __truediv__(self, part: str) -> LakeLocation:
        return LakeLocation(self.fs, f"{self.path.rstrip('/')}/{part}", self.scheme)

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"LakeLocation({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LakeLocation) and self.uri == other.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> LakeLocation:
        """The folder holding this location."""
        return LakeLocation(self.fs, self.path.rstrip("/").rsplit("/", 1)[0] or "/", self.scheme)

    @property
    def is_local(self) -> bool:
        """True on the local filesystem (a folder or file:// root)."""
        return self.scheme == ""

    @property
    def local_path(self) -> Path | None:
        """The location as a local Path, or None on an object store."""
        return Path(self.path) if self.is_local else None

    @property
    def uri(self) -> str:
        """A local path as is, else ``scheme://bucket/key`` (what messages and metadata show)."""
        return self._with_scheme(self.scheme)

    @property
    def spark_uri(self) -> str:
        """The location as Spark's Hadoop filesystems name it (``s3a://`` for S3)."""
        return self._with_scheme(_SPARK_SCHEMES.get(self.scheme, self.scheme))

    def _with_scheme(self, scheme: str) -> str:
        return self.path if self.is_local else f"{scheme}://{self.path}"

    def _type(self) -> pafs.FileType:
        return self.fs.get_file_info(self.path).type

    def exists(self) -> bool:
        """True when a file or folder is there."""
        return bool(self._type() != pafs.FileType.NotFound)

    def is_file(self) -> bool:
        """True when a file is there."""
        return bool(self._type() == pafs.FileType.File)

    def read_bytes(self) -> bytes:
        """The whole file."""
        with self.fs.open_input_stream(self.path) as stream:
            data: bytes = stream.read()
        return data

    def read_text(self) -> str:
        """The whole file as UTF-8 text."""
        return self.read_bytes().decode("utf-8")

    def make_parent(self) -> None:
        """Create the parent folder where folders exist (an object store has none to create)."""
        if self.is_local:
            self.fs.create_dir(self.parent.path, recursive=True)

    def temporary_sibling(self) -> LakeLocation:
        """A hidden, unique name beside this one, for a write that is moved into place."""
        return self.parent / f".{self.name}.{uuid.uuid4().hex}.part"

    @contextmanager
    def replaced(self) -> Iterator[LakeLocation]:
        """Yield a temporary name beside this file to write; on success move it into place.

        Readers see the old file or the new one, never a partial one: a rename on a local disk, a copy of one
        object (atomic) on an object store. The temporary file is removed whatever happens.
        """
        self.make_parent()
        temp = self.temporary_sibling()
        try:
            yield temp
            self.fs.move(temp.path, self.path)
        finally:
            temp.delete()

    def write_bytes(self, data: bytes) -> None:
        """Write the whole file atomically (see :meth:`replaced`)."""
        with self.replaced() as temp, self.fs.open_output_stream(temp.path) as stream:
            stream.write(data)

    def write_text(self, text: str) -> None:
        """Write UTF-8 text atomically (see :meth:`write_bytes`)."""
        self.write_bytes(text.encode("utf-8"))

    def children(self) -> list[LakeLocation]:
        """What a folder holds, one level down (empty when it does not exist)."""
        if self._type() != pafs.FileType.Directory:
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        return [LakeLocation(self.fs, info.path, self.scheme) for info in infos]

    def delete(self) -> None:
        """Remove a file or a folder with everything in it; nothing happens when neither is there."""
        kind = self._type()
        if kind == pafs.FileType.Directory:
            self.fs.delete_dir(self.path)
        elif kind == pafs.FileType.File:
            self.fs.delete_file(self.path)

    def as_local(self, scratch: Path) -> Path:
        """A local copy to hand to code that reads local files (MLflow's artifact logging, the ONNX export).

        On the local filesystem this is the location itself; on an object store the file or folder is copied
        into ``scratch``.
        """
        if self.local_path is not None:
            return self.local_path
        target = scratch / self.name
        if self._type() == pafs.FileType.Directory:
            target.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(self.path, str(target), source_filesystem=self.fs, destination_filesystem=_LOCAL)
        return target


_LOCAL = pafs.LocalFileSystem()


def lake_root(root: str) -> LakeLocation:
    """The lake root named by a folder, a ``file://`` URL or an object-store URL.

    Raises:
        ValueError: for a URL scheme that is not a filesystem, or a ``file://`` URL that names a host.
    """
    parsed = urlparse(root)
    if parsed.scheme == "":
        return LakeLocation(_LOCAL, str(Path(root).absolute()))
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"lake root {root!r}: a file:// URL names a local path (file:///abs/path)")
        return LakeLocation(_LOCAL, url2pathname(unquote(parsed.path)))
    if parsed.scheme not in _OBJECT_STORES:
        raise ValueError(
            f"lake root {root!r}: {parsed.scheme}:// is not a supported lake store; use a folder, a file:// URL or an "
            f"object store ({', '.join(s + '://' for s in _OBJECT_STORES)})"
        )
    fs, path = _open_filesystem(root)
    scheme = "gs" if parsed.scheme == "gcs" else parsed.scheme
    return LakeLocation(fs, path.rstrip("/"), scheme)


@functools.lru_cache(maxsize=16)
def _open_filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    # one client per root: an S3 or GCS filesystem holds a connection pool and resolves the bucket's region
    try:
        return pafs.FileSystem.from_uri(root)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid and ArrowIOError are these
        raise ValueError(f"lake root {root!r}: cannot open its filesystem: {exc}") from exc


def write_parquet_atomic(table: pa.Table, location: LakeLocation) -> None:
    """Write one parquet file through a temporary name, so readers never see a partial file."""
    with location.replaced() as temp:
        pq.write_table(table, temp.path, filesystem=location.fs, compression="zstd")


@contextmanager
def staged_folder(target: LakeLocation) -> Iterator[LakeLocation]:
    """Yield a new generation folder inside ``target`` to fill; on success, commit it by the manifest.

    The block writes its data and then its manifest (:func:`write_manifest`) into the generation. The commit
    writes that manifest, naming the generation under ``data``, to ``target/_manifest.json``: one object written
    last, so readers (which go through :func:`read_committed`) see the previous output or the new one, on a local
    disk and on an object store alike. If the block raises, its generation is removed and ``target`` is left
    exactly as it was.

    After a commit, the generations older than the previous one are removed. The previous one is kept for
    readers still on it; newer ones may belong to a write still in progress. A crashed write's generation goes
    two commits later. Data of a lake written before generations existed goes at the first commit.
    """
    generation = target / f"{GENERATION_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    try:
        yield generation
        if not (generation / MANIFEST).is_file():
            raise RuntimeError(f"{generation}: the block wrote no {MANIFEST}, so there is nothing to commit")
        content = json.loads((generation / MANIFEST).read_text())
    except BaseException:
        generation.delete()
        raise
    before = json.loads((target / MANIFEST).read_text()) if (target / MANIFEST).is_file() else None
    write_manifest(target, {**content, DATA_KEY: generation.name})
    previous = before.get(DATA_KEY) if before else None
    in_place = before is not None and previous is None  # the data sat in the folder itself
    for child in target.children():
        if child.name not in (generation.name, MANIFEST) and _stale(child.name, previous, in_place):
            child.delete()


def _stale(name: str, previous: str | None, in_place: bool) -> bool:
    if name.startswith(GENERATION_PREFIX):
        return previous is not None and name < previous  # names sort by creation time
    return in_place


def write_manifest(folder: LakeLocation, content: dict[str, Any]) -> None:
    """Record what a folder output holds (hash, rows, inputs) beside its data, atomically."""
    write_json_atomic(folder / MANIFEST, content)


def read_manifest(folder: LakeLocation, what: str) -> dict[str, Any]:
    """Read a folder output's manifest; fail naming the missing upstream step when it is absent."""
    path = folder / MANIFEST
    if not path.is_file():
        raise MissingInputError(f"{what} is not materialized: {folder} has no {MANIFEST}; materialize it first")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def read_committed(folder: LakeLocation, what: str) -> tuple[dict[str, Any], LakeLocation]:
    """A folder output's manifest and its committed data, the generation the manifest names.

    Lakes written before generations existed hold the data in the folder itself, and their manifests name none.
    Fails clearly when the output is not materialized.
    """
    manifest = read_manifest(folder, what)
    name = manifest.get(DATA_KEY)
    return manifest, folder / name if name else folder


def write_json_atomic(location: LakeLocation, content: dict[str, Any]) -> None:
    """Write a JSON document through a temporary name (NaN written as NaN, as Python's json does)."""
    location.write_text(json.dumps(content, indent=2, sort_keys=True, default=str))
