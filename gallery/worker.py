"""``python -m gallery.worker RUN_ID`` (or ``--server``): the scheduler's worker, behind the front door.

The same process as ``python -m generator.worker`` (:mod:`generator.worker` says how it runs a job), with
the front door's wiring installed first (:mod:`gallery.wiring`: curation's features on insert), so a
scheduled job's artworks are indexed like those made from the command line.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from gallery.wiring import install
    from generator.worker import main as worker_main

    install()
    return worker_main(argv)


if __name__ == "__main__":
    sys.exit(main())
