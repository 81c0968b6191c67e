"""The Alembic migrations produce exactly the schema of the ORM models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from catalogue import Catalogue
from catalogue.db import head_revision
from catalogue.models import Base


def test_migrations_match_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    cat = Catalogue(url, tmp_path / "m")
    with cat.engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head_revision(url)
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_is_a_noop_at_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    cat = Catalogue(url, tmp_path / "m")
    before, after = cat.upgrade()
    assert before == after == head_revision(url)
