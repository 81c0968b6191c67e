"""A job that works in a scratch folder under data_dir/work, as a walk does; the tests SIGKILL it or
keep it alive while gc runs. argv: how (closed | open-file | owned | cwd), the work folder, a flag file."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    how, work, flag = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    if how == "owned":
        from catalogue.workdirs import owned_tempdir

        ctx = owned_tempdir(work)
    else:
        ctx = tempfile.TemporaryDirectory(dir=work)
    with ctx as d:
        d = Path(d)
        for i in range(3):  # frames written and closed, as a walk renders them
            (d / f"frame{i:04d}.png").write_bytes(b"frame" * 100)
        held = None
        if how == "open-file":  # e.g. the video being encoded
            held = open(d / "walk.mp4", "wb")  # noqa: SIM115 - held open on purpose: gc must leave the folder
            held.write(b"mp4")
            held.flush()
        elif how == "cwd":
            os.chdir(d)
        flag.write_text(str(d))
        time.sleep(600)


if __name__ == "__main__":
    main()
