"""The catalogue's record of training sets (the ``dataset`` table): one row per named dataset.

The data lives in a folder under data_dir (written and renamed into place by whoever builds it, e.g.
``generator.datasets.images``); the row says where, how many items, the sha256 of the data and its
provenance. A name is taken at most once: ``put_dataset(..., replace=False)`` refuses a taken name
(``DatasetExists``, a BadInput: exit 2), ``replace=True`` rewrites the row in the same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from catalogue.models import Dataset, utcnow
from gallery.errors import BadInput

if TYPE_CHECKING:
    from catalogue.api import Catalogue


class DatasetExists(BadInput):
    """A dataset of that name is already registered (and replacing it was not asked for)."""


def list_datasets(cat: Catalogue, kind: str | None = None) -> list[Dataset]:
    """Every registered dataset (of ``kind`` if given), by name."""
    with cat.read() as s:
        q = select(Dataset).order_by(Dataset.name)
        if kind is not None:
            q = q.where(Dataset.kind == kind)
        return list(s.scalars(q))


def get_dataset(cat: Catalogue, name: str) -> Dataset | None:
    with cat.read() as s:
        return s.scalar(select(Dataset).where(Dataset.name == name))


def put_dataset(cat: Catalogue, *, name: str, kind: str, path: str, resolution: int, count: int, data_sha256: str,
                provenance: dict[str, Any], replace: bool = False) -> int:
    """Register (or with ``replace`` re-register) a dataset in one transaction; returns its id."""
    with cat.write() as s:
        found = s.scalar(select(Dataset).where(Dataset.name == name))
        if found is not None and not replace:
            raise DatasetExists(f"a dataset named {name!r} exists already (--replace to rebuild it)")
        if found is None:
            found = Dataset(name=name)
            s.add(found)
        else:
            found.created = utcnow()  # when this version of the data was made
        found.kind, found.path, found.resolution, found.count = kind, path, resolution, count
        found.data_sha256, found.provenance = data_sha256, provenance
        s.flush()
        return found.id


def delete_dataset(cat: Catalogue, name: str) -> bool:
    """Forget a dataset's row (its folder is the caller's); False when there was none."""
    with cat.write() as s:
        return bool(s.execute(delete(Dataset).where(Dataset.name == name)).rowcount)


def dataset_dict(d: Dataset) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "kind": d.kind, "path": d.path, "resolution": d.resolution,
            "count": d.count, "data_sha256": d.data_sha256, "created": d.created.isoformat(timespec="seconds"),
            "provenance": d.provenance}
