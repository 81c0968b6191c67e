"""Run many `gallery` commands one after another in this process, as test_json_only needs them.

Usage: python json_batch.py PLAN.json RESULTS.json. PLAN is a list of argument lists; ``{name}`` in an
argument is replaced by a value an earlier command printed (see ``PICK``). Each command's stdout is
caught at the file-descriptor level (Python prints and C libraries alike), its stderr likewise.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time


def _run(argv: list[str]) -> tuple[int, str, str]:
    from gallery.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        code = 0
        try:
            main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception as e:  # noqa: BLE001 - reported to the test, which names the command
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            code = 99
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")


# values later commands use: name -> how to read it from the JSON of the command that keeps it
PICK = {
    "image_id": lambda d: d["artworks"][0],
    "melody_id": lambda d: d["artworks"][0],
    "set_id": lambda d: d[0]["id"],
}


def main() -> None:
    with open(sys.argv[1]) as f:
        plan = json.loads(f.read())
    values: dict[str, str] = {}
    results = []
    for step in plan:
        argv = [a.format(**values) for a in step["argv"]]
        t0 = time.monotonic()
        code, out, err = _run(argv)
        res = {"argv": argv, "code": code, "stdout": out, "stderr": err[-3000:],
               "seconds": round(time.monotonic() - t0, 1)}
        results.append(res)
        if step.get("keep") and code == 0:
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                values[step["keep"]] = str(PICK[step["keep"]](json.loads(out)))
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
