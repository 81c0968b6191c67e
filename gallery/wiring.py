"""What the front door wires between packages that never import each other.

The command line (``gallery.cli``) and the worker process (``python -m gallery.worker``) call
:func:`install` before they run anything: new artworks get curation's features on insert
(``curation.index_on_insert``) through the generator's after-save hook. Idempotent.
"""

from __future__ import annotations


def install() -> None:
    from curation.on_insert import after_save as index_new_artworks
    from generator.run import after_save

    after_save(index_new_artworks)
