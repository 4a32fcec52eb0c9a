"""What every asset module shares: atomic writes, manifests beside outputs, data errors as clean failures."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from taxi_assets.modeling.errors import MissingInputError, TaxiDataError

MANIFEST = "_manifest.json"


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Turn a data error into a Dagster Failure whose description is the error's message (no traceback)."""
    try:
        yield
    except TaxiDataError as exc:
        raise dg.Failure(description=str(exc), metadata={"error": type(exc).__name__}) from exc


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write one parquet file through a temporary name, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        pq.write_table(table, temp, compression="zstd")
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success swap it in for ``target``.

    If the block raises, the temporary folder is removed and ``target`` is left exactly as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    try:
        yield temp
        if target.exists():
            target.rename(old)
        temp.rename(target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: Path, content: dict[str, Any]) -> None:
    """Record what a folder output holds (hash, rows, inputs) beside its data."""
    (folder / MANIFEST).write_text(json.dumps(content, indent=2, sort_keys=True, default=str))


def read_manifest(folder: Path, what: str) -> dict[str, Any]:
    """Read a folder output's manifest; fail naming the missing upstream step when it is absent."""
    path = folder / MANIFEST
    if not path.is_file():
        raise MissingInputError(f"{what} is not materialized: {folder} has no {MANIFEST}; materialize it first")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def write_json_atomic(path: Path, content: dict[str, Any]) -> None:
    """Write a JSON document through a temporary name (NaN written as NaN, as Python's json does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    temp.write_text(json.dumps(content, indent=2, sort_keys=True, default=str))
    temp.replace(path)
