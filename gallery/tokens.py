"""Access tokens of the gallery's HTTP services (the curation web app, the show's control API).

A token comes from an environment variable (never from config.yaml, never logged). Loopback needs
none; serving beyond loopback refuses to start without a usable one. Compare with
:func:`token_matches` (constant time).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import unicodedata

from gallery.errors import BadInput

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
MIN_TOKEN = 16


def is_loopback(host: str) -> bool:
    """A loopback name or address (127.0.0.0/8, ::1, ::ffff:127.x, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def require_token(host: str, token_env: str, environ: dict[str, str] | None = None,
                  setting: str = "curation.token_env") -> str | None:
    """The access token when serving beyond loopback (BadInput when it is missing or weak)."""
    env = os.environ if environ is None else environ
    tok = env.get(token_env, "")
    if is_loopback(host) and tok == "":
        return None
    if not tok:
        raise BadInput(f"serving on {host} (not loopback) needs an access token: set the environment variable "
                       f"{token_env} ({setting}) to a long random string")
    return check_token(tok, token_env)


def check_token(tok: str, token_env: str) -> str:
    """A usable access token, or BadInput saying what is wrong with it (never the token itself)."""
    if not tok.strip():
        raise BadInput(f"the token in ${token_env} is blank (only spaces): set it to a long random string")
    if tok != tok.strip() or any(c.isspace() or unicodedata.category(c).startswith("C") for c in tok):
        raise BadInput(f"the token in ${token_env} holds spaces or control characters: use a long random "
                       "string without them")
    if len(tok) < MIN_TOKEN:
        raise BadInput(f"the token in ${token_env} is too short ({len(tok)} characters; at least {MIN_TOKEN})")
    return tok


def token_matches(given: str, token: str) -> bool:
    """Constant-time comparison of a presented token with the expected one."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape"))


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header ('' when there is none)."""
    a = (authorization or "").strip()
    return a[7:].strip() if a[:7].lower() == "bearer " else ""
