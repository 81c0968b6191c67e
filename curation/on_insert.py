"""Features on insert (``curation.index_on_insert``): curation's features of the artworks a job just added.

:func:`after_save` is a ``generator.run`` after-save hook; the front door registers it
(``gallery.wiring``), so the generator never imports curation. OpenCV image features, sound features and
the colour-histogram embedding; CLIP embeddings are left to the lazy index. Never raises: a failure is
logged and the artworks stay (`gallery curate index` catches up later).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gallery.progress import report

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings
    from generator.jobs import JobContext

log = logging.getLogger(__name__)


def index_on_insert(settings: Settings, cat: Catalogue, ids: list[int], logger: logging.Logger | None = None) -> None:
    """The features of artworks ``ids`` when ``curation.index_on_insert`` is on; failures only logged."""
    if not ids or not settings.curation.index_on_insert:
        return
    logger = logger or log
    try:
        from curation.indexer import index_new

        rep = index_new(cat, ids)
    except Exception:
        logger.warning("features on insert failed for artworks %s (`gallery curate index` will retry)", ids,
                       exc_info=True)
        return
    for aid, why in rep.skipped:
        logger.warning("features on insert: artwork %d skipped: %s", aid, why)


def after_save(ctx: JobContext, ids: list[int]) -> None:
    """The after-save hook: reports the "content features" stage, then :func:`index_on_insert`."""
    if ids and ctx.settings.curation.index_on_insert:
        report(ctx, "content features", 0, None)
    index_on_insert(ctx.settings, ctx.catalogue, ids, ctx.log)
