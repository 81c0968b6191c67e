"""What the front door wires between packages that never import each other.

The command line (``gallery.cli``) and the worker process (``python -m gallery.worker``) call
:func:`install` before they run anything: new artworks get curation's features on insert
(``curation.index_on_insert``) through the generator's after-save hook, and the show's programmes
resolve saved queries through curation (``installation.hooks.resolve_query`` ->
``curation.queries.resolve``). Idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def install(settings: Callable[[], Any] | None = None) -> None:
    """Wire the hooks; ``settings`` gives the running command's settings (what a saved text query
    needs to search: the CLIP model, the index) when it is first needed."""
    from curation import queries
    from curation.on_insert import after_save as index_new_artworks
    from generator.run import after_save
    from installation.hooks import register_query_resolver

    after_save(index_new_artworks)
    queries.use_settings(settings)
    register_query_resolver(queries.resolve)
