"""Secrets never leave the program: find and redact values that look like a private key or a mnemonic.

A *private key* is 64 hexadecimal digits, with or without ``0x``, in any case (a longer run of hex
digits is treated the same: it may hold one, and the decimal form of a 256-bit number is such a run).
A *mnemonic* (BIP-39) is 12, 15, 18, 21 or 24 words of the BIP-39 English list; any run of 12 or more
such words, whatever separates them (spaces, commas, quotes, numbering), counts as one.

One place for the whole program: the config loader refuses such values wherever they were typed
(naming the place, never the value), :func:`redact` cleans error messages, :class:`RedactFilter`
sits on every logging handler, and the minting metadata builder refuses to publish them.
Values registered with :func:`register_secret` (the tokens and keys read from the environment) are
redacted verbatim too, whatever they look like. Torch-free and cheap: runs on every log record.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from functools import lru_cache
from pathlib import Path

# A run of 64 or more hex digits (optionally 0x-prefixed) not glued to more hex digits before it.
_HEX_RUN = re.compile(r"(?<![0-9A-Fa-f])(?:0[xX])?[0-9A-Fa-f]{64,}")
# Words, and what may stand between two words of one mnemonic: anything but letters, a few chars long
# ("abandon ability", "'abandon', 'ability'", "1. abandon 2. ability", "abandon-ability").
_WORD = re.compile(r"[A-Za-z]+")
_MAX_GAP = 8
MNEMONIC_WORDS = 12
_REGISTERED: set[str] = set()  # exact secrets (env tokens, keys) seen by this process
KEY_HINT = "64 hex digits: looks like a private key"
MNEMONIC_HINT = f"{MNEMONIC_WORDS} or more BIP-39 words: looks like a wallet mnemonic"


@lru_cache(maxsize=1)
def bip39_words() -> frozenset[str]:
    """The 2048 words of the BIP-39 English list (shipped as gallery/data/bip39-english.txt)."""
    text = (Path(__file__).parent / "data" / "bip39-english.txt").read_text(encoding="ascii")
    words = frozenset(w.strip() for w in text.split() if w.strip())
    if len(words) != 2048:
        raise RuntimeError(f"gallery/data/bip39-english.txt has {len(words)} words, not 2048")
    return words


# Escapes that repr() and JSON write for whitespace ("abandon\\tability"): separators, not letters.
_ESCAPE = re.compile(r"\\(?:[nrtvfab]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})")


def _mnemonic_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run of at least 12 consecutive BIP-39 words."""
    words = bip39_words()
    if "\\" in text:  # same length, so the spans still index the original text
        text = _ESCAPE.sub(lambda m: " " * len(m.group()), text)
    spans: list[tuple[int, int]] = []
    run_start = run_end = -1
    n = 0
    for m in _WORD.finditer(text):
        if m.group().lower() in words:
            if n and m.start() - run_end <= _MAX_GAP:
                n += 1
            else:
                if n >= MNEMONIC_WORDS:
                    spans.append((run_start, run_end))
                run_start, n = m.start(), 1
            run_end = m.end()
        else:
            if n >= MNEMONIC_WORDS:
                spans.append((run_start, run_end))
            n = 0
    if n >= MNEMONIC_WORDS:
        spans.append((run_start, run_end))
    return spans


def find_secret(text: str) -> str | None:
    """Why ``text`` looks like it holds a secret (a short reason without the value), or None."""
    if not isinstance(text, str) or not text:
        return None
    if _HEX_RUN.search(text):
        return KEY_HINT
    if any(r in text for r in _REGISTERED):
        return "holds a secret token or key of this installation"
    if len(text) >= MNEMONIC_WORDS * 3 and _mnemonic_spans(text):
        return MNEMONIC_HINT
    return None


def find_secret_in_words(words: list[str]) -> str | None:
    """A list of short strings (tags, a YAML list) that together spell a mnemonic."""
    strs = [w for w in words if isinstance(w, str)]
    if len(strs) < MNEMONIC_WORDS:
        return None
    return MNEMONIC_HINT if _mnemonic_spans(" ".join(strs)) else None


def _hex_repl(m: re.Match[str]) -> str:
    return f"[redacted: {len(m.group()) - (2 if m.group()[:2] in ('0x', '0X') else 0)} hex digits]"


def redact(text: str) -> str:
    """``text`` with every key-like hex run, mnemonic-like word run and registered secret replaced."""
    if not isinstance(text, str) or not text:
        return text
    for r in sorted(_REGISTERED, key=len, reverse=True):
        if r in text:
            text = text.replace(r, "[redacted: secret]")
    text = _HEX_RUN.sub(_hex_repl, text)
    if len(text) >= MNEMONIC_WORDS * 3:
        spans = _mnemonic_spans(text)
        for a, b in reversed(spans):
            text = text[:a] + "[redacted: mnemonic-like words]" + text[b:]
    return text


def register_secret(value: str | None) -> None:
    """Redact this exact value (a token or key read from the environment) from every log and error."""
    if value and isinstance(value, str) and len(value.strip()) >= 8:
        _REGISTERED.add(value)
        if value.strip() != value:
            _REGISTERED.add(value.strip())


def _clean_arg(a: object) -> object:
    if isinstance(a, str):
        return redact(a)
    if isinstance(a, bool | float | type(None)):
        return a
    try:
        text = str(a)
    except Exception:  # noqa: BLE001 - a broken __str__: leave it to the formatter
        return a
    return redact(text) if find_secret(text) else a


def redact_record_args(record: logging.LogRecord) -> None:
    """Redact a record's message template and each argument on its own, keeping their structure (a
    formatter such as uvicorn's access log unpacks record.args)."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_clean_arg(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _clean_arg(v) for k, v in record.args.items()}


_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    with contextlib.suppress(Exception):  # logging must never fail because of the filter
        redact_record_args(record)
    return record


def install_record_factory() -> None:
    """Every log record of the process, whatever handler emits it (uvicorn's, a library's), has its
    message and arguments redacted when it is made."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        global _base_factory
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)


class RedactFilter(logging.Filter):
    """A handler filter: the formatted message, the traceback and the stack text are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: let the handler report it
            return True
        record.msg, record.args = redact(msg), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # Formatters re-render exc_info only when exc_text is empty; keep exc_info for rich's check.
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handler: logging.Handler) -> logging.Handler:
    """Put a RedactFilter on this handler (once)."""
    if not any(isinstance(f, RedactFilter) for f in handler.filters):
        handler.addFilter(RedactFilter())
    return handler


def install_on_root() -> None:
    """A RedactFilter on every handler of the root logger (call after logging.basicConfig), and the
    redacting record factory for handlers elsewhere."""
    for h in logging.getLogger().handlers:
        install(h)
    install_record_factory()


def install_excepthook() -> None:
    """Uncaught exceptions print a redacted traceback."""
    if getattr(sys.excepthook, "_gallery_redacting", False):
        return
    import traceback

    def hook(tp, value, tb) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(tp, value, tb))))

    hook._gallery_redacting = True  # type: ignore[attr-defined]
    sys.excepthook = hook
