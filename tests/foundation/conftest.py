from __future__ import annotations

import itertools

import pytest

from tests.foundation.pg import PgServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    try:
        srv = PgServer()
        srv.start()
    except Exception as exc:  # noqa: BLE001 - whatever stops the server, this machine has no PostgreSQL
        reason = f"PostgreSQL cannot be started here: {exc}"
        print(f"\nSKIP postgres: {reason}")
        pytest.skip(reason)
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_catalogue(request, tmp_path):
    """The catalogue suite runs on SQLite and on a real PostgreSQL server."""
    from catalogue import Catalogue

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    else:
        srv = request.getfixturevalue("pg_server")
        url = srv.create_db(f"t{next(_counter)}")
    cat = Catalogue(url, tmp_path / "media", fsync=False, gc_grace_seconds=0)
    yield cat
    cat.close()
