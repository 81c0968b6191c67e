"""Upload a set's CAR and pin its root through the IPFS Pinning Service API.

Two endpoints of the same provider (config: `minting.car_upload_url`, `minting.pinning_url`):
the CAR is POSTed as `application/vnd.ipld.car`, then `POST {pinning_url}/pins {"cid", "name"}`
asks for the pin and `GET /pins/{requestid}` is polled until it is `pinned` (or `failed`). The
bearer token comes from the environment variable named by `minting.pinning_token_env` and is
never logged or shown in errors. With no endpoint configured the CAR file is the hand-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from gallery.errors import BadInput, GalleryError

log = logging.getLogger("gallery.minting")


def configured(ms: Any) -> bool:
    return bool(ms.pinning_url or ms.car_upload_url)


def upload_and_pin(ms: Any, car_path: Any, root: str, name: str, environ: Mapping[str, str], *,
                   client: Any = None, timeout_s: float = 600.0, poll_s: float = 2.0) -> dict[str, Any]:
    import httpx

    token = environ.get(ms.pinning_token_env)
    if not token:
        raise BadInput(f"minting.pinning_url is set but the environment variable {ms.pinning_token_env} "
                       "(the pinning service token) is not")
    headers = {"Authorization": f"Bearer {token}"}
    own = client is None
    client = client or httpx.Client(timeout=120)
    try:
        result: dict[str, Any] = {"root": root}
        if ms.car_upload_url:
            with open(car_path, "rb") as f:
                r = client.post(ms.car_upload_url, content=f.read(),
                                headers={**headers, "Content-Type": "application/vnd.ipld.car"})
            _check(r, "CAR upload")
            result["uploaded_bytes"] = car_path.stat().st_size
        if ms.pinning_url:
            base = ms.pinning_url.rstrip("/")
            r = client.post(f"{base}/pins", json={"cid": root, "name": name}, headers=headers)
            _check(r, "pin request")
            req = r.json()
            rid, st = req.get("requestid"), req.get("status")
            deadline = time.monotonic() + timeout_s
            while st in ("queued", "pinning"):
                if time.monotonic() > deadline:
                    raise GalleryError(f"the pinning service still says {st!r} for {root} after {timeout_s:.0f}s")
                time.sleep(poll_s)
                r = client.get(f"{base}/pins/{rid}", headers=headers)
                _check(r, "pin status")
                st = r.json().get("status")
            if st != "pinned":
                raise GalleryError(f"the pinning service reports {st!r} for {root}")
            result.update(requestid=rid, status=st)
        log.info("pinned %s", root)
        return result
    finally:
        if own:
            client.close()


def _check(r: Any, what: str) -> None:
    if r.status_code in (401, 403):
        raise BadInput(f"the pinning service refused the token ({what}: HTTP {r.status_code})")
    if r.status_code >= 400:
        body = r.text[:200].replace("\n", " ")
        raise GalleryError(f"the pinning service failed the {what}: HTTP {r.status_code} {body}")
