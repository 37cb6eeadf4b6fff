"""The model registry: each run's artefacts (the global network, per-SKU model states, the network's forecasts) in a
Django storage, under `<store id>/<run id>/`.

The storage is the `STORAGES` entry named by the `MODEL_STORAGE` option (a local folder by default; any Django
storage backend works, e.g. S3 through django-storages), so workers on several machines share it. Forecasting code
works on a local folder: a task downloads what it needs into a temporary folder and uploads what it wrote.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from inventory_ai.conf import get_option

logger = logging.getLogger(__name__)


def storage() -> Storage:
    return storages[get_option("MODEL_STORAGE")]


def run_folder(store_id: int, run_id: int) -> str:
    return f"{store_id}/{run_id}"


def upload(folder: str, local: Path) -> list[str]:
    """Copy every file of the local folder into the registry folder (replacing what is there); returns the names."""
    target = storage()
    names = []
    for path in sorted(p for p in Path(local).rglob("*") if p.is_file()):
        name = f"{folder}/{path.relative_to(local).as_posix()}"
        if target.exists(name):
            target.delete(name)
        target.save(name, ContentFile(path.read_bytes()))
        names.append(name)
    return names


def download(folder: str, local: Path, names: tuple[str, ...] | None = None) -> list[str]:
    """Copy the registry folder's files (or only `names`) into a local folder; returns the names found."""
    source = storage()
    wanted = names if names is not None else tuple(_listing(source, folder))
    found = []
    for name in wanted:
        key = f"{folder}/{name}"
        if not source.exists(key):
            continue
        destination = Path(local) / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        with source.open(key, "rb") as handle:
            destination.write_bytes(handle.read())
        found.append(name)
    return found


def read_json(folder: str, name: str) -> dict | None:
    blob = read_bytes(folder, name)
    return None if blob is None else json.loads(blob)


def write_json(folder: str, name: str, data: dict) -> None:
    write_bytes(folder, name, json.dumps(data, separators=(",", ":")).encode())


def read_bytes(folder: str, name: str) -> bytes | None:
    source = storage()
    key = f"{folder}/{name}"
    if not source.exists(key):
        return None
    with source.open(key, "rb") as handle:
        return handle.read()


def write_bytes(folder: str, name: str, data: bytes) -> None:
    target = storage()
    key = f"{folder}/{name}"
    if target.exists(key):
        target.delete(key)
    target.save(key, ContentFile(data))


def delete(folder: str) -> None:
    """Remove a run's artefacts (its run row is being deleted)."""
    source = storage()
    for name in _listing(source, folder):
        source.delete(f"{folder}/{name}")


def _listing(source: Storage, folder: str, prefix: str = "") -> list[str]:
    try:
        directories, files = source.listdir(f"{folder}/{prefix}".rstrip("/"))
    except FileNotFoundError:
        return []
    names = [f"{prefix}{name}" for name in files]
    for directory in directories:
        names += _listing(source, folder, f"{prefix}{directory}/")
    return names
