"""A real show process for the staff page's browser test: the live show (SDL offscreen window, GL
through EGL, dummy sound) with the control API on a port, its Show given the programme calls of
tests.installation.remote_helpers.ProgrammeShow. argv: config file, port, seconds."""

from __future__ import annotations

import sys


def main() -> None:
    from catalogue import open_catalogue
    from gallery.config import load_settings
    from installation.live import run_live
    from tests.installation.remote_helpers import ProgrammeShow

    cfg, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    settings = load_settings(cfg)
    ss = settings.show.model_copy(update={"durations": {"image": 60.0}, "transition_seconds": 0.5,
                                          "label_seconds": 0.5, "label_fade": 0.2, "heartbeat_seconds": 0.5,
                                          "fps": 15, "fresh_hours": 0, "seed": 1})
    cat = open_catalogue(settings)
    try:
        run_live(ss, cat, status_file=None, fullscreen=False, width=160, height=90, seconds=seconds,
                 http_port=port, show_factory=ProgrammeShow)
    finally:
        cat.close()


if __name__ == "__main__":
    main()
