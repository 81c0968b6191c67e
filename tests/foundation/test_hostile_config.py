"""Hostile configuration: secrets typed anywhere, alias bombs, deep nesting, huge files, untyped job params,
unusable data directories. Each is refused with exit 2 / ConfigError naming the place, never echoing a
secret, and without writing anything. Property-based (Hypothesis) where the input space is wide."""

from __future__ import annotations

import io
import logging
import os
import re
import string
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from gallery import yaml_limits
from gallery.config import Settings, load_settings
from gallery.errors import ConfigError
from gallery.redact import RedactFilter, bip39_words, find_secret, install, redact, register_secret

REPO = Path(__file__).resolve().parents[2]
WORDS = sorted(bip39_words())
HEX64 = "0123456789abcdef"
EMPTY = os.devnull  # an empty config file: the tests do not depend on the working directory's config.yaml
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---- strategies ---------------------------------------------------------------------------------------
@st.composite
def private_keys(draw: Any) -> str:
    """64 hex digits, with or without 0x, in lower, upper or mixed case."""
    digits = draw(st.binary(min_size=32, max_size=32)).hex()
    case = draw(st.sampled_from(["lower", "upper", "mixed"]))
    if case == "upper":
        digits = digits.upper()
    elif case == "mixed":
        flips = draw(st.integers(0, 2 ** 64 - 1))
        digits = "".join(c.upper() if flips >> i & 1 else c for i, c in enumerate(digits))
    return draw(st.sampled_from(["", "0x", "0X"])) + digits


@st.composite
def mnemonics(draw: Any) -> str:
    n = draw(st.sampled_from([12, 15, 18, 21, 24]))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=n, max_size=n))
    sep = draw(st.sampled_from([" ", "  ", ", ", "-", "_", " \t", "\n", "\u00a0", " | "]))
    case = draw(st.sampled_from([str.lower, str.upper, str.title]))
    return case(sep.join(words))


secrets = st.one_of(private_keys(), mnemonics())


def _leaf_paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    if isinstance(d, dict) and d:
        for k, v in d.items():
            out += _leaf_paths(v, (*prefix, k))
    else:
        out.append(prefix)
    return out


# Every key of the settings (from the defaults) and places inside a scheduled job entry.
DEFAULTS = Settings().model_dump(mode="json")
FIELD_PATHS = [p for p in _leaf_paths(DEFAULTS) if p]
JOB = {"kind": "stylegan.walk", "count": 1, "params": {"seconds": 4}}
JOB_PATHS = [("kind",), ("name",), ("params", "seconds"), ("params", "model"), ("params", "newkey"),
             ("prompts",), ("pair_param",), ("vocabulary", "w")]


def _set(d: dict, path: tuple, value: Any) -> dict:
    node = d
    for k in path[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            return d
    node[path[-1]] = value
    return d


def _assert_clean(text: str, secret: str) -> None:
    assert secret not in text
    assert secret.lower() not in text.lower()
    assert find_secret(text) is None, text
    if all(c in string.hexdigits + "xX" for c in secret) and int(secret, 16) > 10 ** 20:
        assert str(int(secret, 16)) not in text  # its decimal form (YAML reads 0x… as an int)


# ---- secrets: refused wherever they were typed, never echoed -----------------------------------------
@FAST
@given(path=st.sampled_from(FIELD_PATHS), secret=secrets, embed=st.sampled_from(["bare", "text", "list"]))
def test_secret_in_any_config_field_is_refused_unechoed(tmp_path_factory, path, secret, embed):
    value: Any = {"bare": secret, "text": f"made by {secret} today", "list": ["x", secret]}[embed]
    p = tmp_path_factory.mktemp("k") / "config.yaml"
    p.write_text(yaml.safe_dump(_set({}, path, value)))
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={}, check_paths=False)
    msg = str(e.value)
    _assert_clean(msg, secret)
    assert ".".join(path) in msg and "looks like" in msg


@FAST
@given(path=st.sampled_from(FIELD_PATHS), key=private_keys())
def test_unquoted_key_in_yaml_is_refused_before_it_becomes_a_number(tmp_path_factory, path, key):
    """`seed: 0x4c08…` is an int to YAML; its decimal form must not be printed either."""
    lines, indent = [], ""
    for k in path[:-1]:
        lines.append(f"{indent}{k}:")
        indent += "  "
    lines.append(f"{indent}{path[-1]}: {key}")
    p = tmp_path_factory.mktemp("k") / "config.yaml"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={}, check_paths=False)
    _assert_clean(str(e.value), key)


@FAST
@given(path=st.sampled_from(FIELD_PATHS), secret=secrets)
def test_secret_in_any_environment_override_is_refused_unechoed(path, secret):
    var = "GALLERY__" + "__".join(k.upper() for k in path)
    with pytest.raises(ConfigError) as e:
        load_settings(EMPTY, environ={var: secret}, check_paths=False)
    msg = str(e.value)
    _assert_clean(msg, secret)
    assert var in msg


@FAST
@given(where=st.sampled_from(JOB_PATHS), secret=secrets)
def test_secret_in_a_scheduled_job_is_refused_unechoed(tmp_path_factory, where, secret):
    job = _set(yaml.safe_load(yaml.safe_dump(JOB)), where, [secret] if where == ("prompts",) else secret)
    cfg = {"schedule": {"windows": [{"name": "night", "start": "22:00", "end": "07:00", "jobs": [job]}]}}
    p = tmp_path_factory.mktemp("k") / "config.yaml"
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={}, check_paths=False)
    _assert_clean(str(e.value), secret)


def _get(d: dict, path: tuple) -> Any:
    for k in path:
        d = d[k]
    return d


NUMERIC_PATHS = [p for p in FIELD_PATHS if isinstance(_get(DEFAULTS, p), int | float)]


@FAST
@given(path=st.sampled_from(NUMERIC_PATHS), secret=secrets)
def test_validation_errors_are_redacted_even_past_the_loader(path, secret):
    """Programmatic overrides skip the text checks; the error formatting still never echoes a secret."""
    assume(not secret.isdigit())  # 64 decimal digits are a valid number here (and no error to format)
    with pytest.raises(ConfigError) as e:
        load_settings(EMPTY, environ={}, overrides=_set({}, path, secret), check_paths=False)
    msg = str(e.value)
    assert ".".join(path) in msg
    _assert_clean(msg, secret)


def test_mnemonic_split_over_a_yaml_list_is_refused(tmp_path):
    words = WORDS[100:112]
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump({"musicvae": {"corpus_sources": words}}))
    with pytest.raises(ConfigError, match=re.escape("musicvae.corpus_sources: 12 or more BIP-39 words")) as e:
        load_settings(p, environ={}, check_paths=False)
    assert " ".join(words) not in str(e.value) and words[5] not in str(e.value)


def test_ordinary_text_is_not_taken_for_a_secret():
    for text in ["a calm portrait of an old man at dusk", "amber circle at dusk spiral tower dissolving into light",
                 "sha " + "ab" * 31, "0x" + "a" * 40, "tiny-faces64", "Works generated from latent spaces"]:
        assert find_secret(text) is None, text
    assert find_secret(" ".join(WORDS[:11])) is None  # 11 words are not a mnemonic


# ---- logging: a filter on every handler ---------------------------------------------------------------
@FAST
@given(secret=secrets, style=st.sampled_from(["args", "msg", "exc", "extra-arg"]))
def test_log_records_never_carry_a_secret(secret, style):
    buf = io.StringIO()
    h = install(logging.StreamHandler(buf))
    h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    lg = logging.getLogger(f"test.redact.{style}")
    lg.addHandler(h)
    lg.propagate = False
    try:
        if style == "args":
            lg.warning("job params %s", {"key": secret})
        elif style == "msg":
            lg.warning(f"typed: {secret}")
        elif style == "extra-arg":
            lg.warning("%s and %r", "x", secret)
        else:
            try:
                raise ValueError(f"bad value {secret!r}")
            except ValueError:
                lg.exception("failed")
    finally:
        lg.removeHandler(h)
    out = buf.getvalue()
    assert "redacted" in out
    _assert_clean(out, secret)


def test_setup_logging_puts_the_filter_on_every_handler(tmp_path):
    from gallery.logs import setup_logging

    root = logging.getLogger()
    saved = list(root.handlers), getattr(root, "_gallery_configured", False), root.level
    stray = logging.StreamHandler(io.StringIO())
    root.addHandler(stray)
    try:
        if hasattr(root, "_gallery_configured"):
            del root._gallery_configured
        setup_logging("INFO", tmp_path / "logs" / "gallery.log")
        assert all(any(isinstance(f, RedactFilter) for f in h.filters) for h in root.handlers)
        key = "ab" * 32
        logging.getLogger("gallery.test").warning("key %s", key)
        for h in root.handlers:
            h.flush()
        text = (tmp_path / "logs" / "gallery.log").read_text()
        assert "key [redacted: 64 hex digits]" in text and key not in text
    finally:
        for h in list(root.handlers):
            if h not in saved[0]:
                root.removeHandler(h)
                h.close()
        root._gallery_configured = saved[1]  # type: ignore[attr-defined]
        root.setLevel(saved[2])


@FAST
@given(secret=secrets)
def test_handlers_we_did_not_make_get_redacted_records_with_their_structure(secret):
    """uvicorn's access formatter unpacks record.args: the record factory redacts each argument in place."""
    from gallery.redact import install_record_factory

    install_record_factory()
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):  # no RedactFilter on it, like a library's own handler
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    lg = logging.getLogger("test.redact.foreign")
    h = Keep()
    lg.addHandler(h)
    lg.propagate = False
    try:
        lg.warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/search?q={secret}", "1.1", 200)
    finally:
        lg.removeHandler(h)
    (rec,) = seen
    assert isinstance(rec.args, tuple) and len(rec.args) == 5 and rec.args[4] == 200
    _assert_clean(rec.getMessage(), secret)


def test_registered_environment_secrets_are_redacted_verbatim():
    from gallery import redact as module

    token, pin = "my curate token 7f3e", "pin-" + "q" * 20  # not key-like: secret because of where they were
    try:
        register_secret(token)
        assert redact(f"Authorization: Bearer {token}!") == "Authorization: Bearer [redacted: secret]!"
        s = load_settings(EMPTY, environ={"GALLERY_PINNING_TOKEN": pin}, check_paths=False)
        assert s.minting.pinning_token_env == "GALLERY_PINNING_TOKEN"
        assert redact(f"token {pin}") == "token [redacted: secret]"
    finally:
        module._REGISTERED.difference_update({token, pin})


def test_cli_error_output_is_redacted(tmp_path, capsys):
    from gallery.cli import main

    key = "C0FFEE" * 10 + "ABCD"
    with pytest.raises(SystemExit) as e:
        main(["config", "check", "--config", str(tmp_path / f"missing-{key}.yaml")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "no such configuration file" in err and key not in err and "[redacted: 64 hex digits]" in err


# ---- alias bombs, depth, size ---------------------------------------------------------------------------
def laughs(depth: int, fanout: int, at: str) -> str:
    """A billion-laughs document: level i holds `fanout` aliases of level i-1; used at `at`."""
    lines = ["x0: &x0 [" + ", ".join(["lol"] * fanout) + "]"]
    lines.extend(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * fanout) + "]" for i in range(1, depth))
    bomb = f"*x{depth - 1}"
    if at == "params":
        lines.append("schedule:\n  windows:\n    - {name: n, start: '22:00', end: '07:00', jobs: "
                     f"[{{kind: 'mystudio.jobs:run', params: {{a: {bomb}}}}}]}}")
    else:
        lines.append(f"{at}: {bomb}")
    return "\n".join(lines) + "\n"


def _laughs_size(depth: int, fanout: int) -> int:
    size = 1 + fanout  # x0: a list of `fanout` scalars
    for _ in range(1, depth):
        size = 1 + fanout * size
    return size


@settings(max_examples=120, deadline=None)
@given(depth=st.integers(2, 30), fanout=st.integers(2, 40),
       at=st.sampled_from(["seed", "params", "show", "x_top_level"]))
def test_alias_bombs_are_refused_with_bounded_memory(depth, fanout, at):
    lim = yaml_limits.DEFAULT_LIMITS
    used = _laughs_size(depth, fanout)  # nodes behind the one alias that is used
    aliases = (depth - 1) * fanout + 1
    bomb = used > lim.max_nodes or aliases > lim.max_aliases
    assume(bomb or 3 * used < lim.max_nodes)  # leave out the borderline: the limits count every node
    event("bomb" if bomb else "modest aliases")
    text = laughs(depth, fanout, at)
    if not bomb:
        assert yaml_limits.load(text) is not None  # a modest use of aliases is not refused
        return
    tracemalloc.start()
    try:
        with pytest.raises(yaml_limits.YAMLLimitError) as e:
            yaml_limits.load(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "aliases" in str(e.value) or "expands" in str(e.value)
    assert peak < 64 * 2 ** 20  # memory stays bounded by the limits, not by the expansion


def test_billion_laughs_refused_by_config_check(tmp_path):
    for at in ("seed", "params"):
        p = tmp_path / f"{at}.yaml"
        p.write_text(laughs(9, 10, at))
        with pytest.raises(ConfigError, match="expands to more than 100000 values"):
            load_settings(p, environ={}, check_paths=False)


def test_modest_aliases_still_work(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("schedule:\n  windows:\n    - name: n\n      start: '22:00'\n      end: '07:00'\n      jobs:\n"
             "        - {kind: stylegan.walk, count: 1, params: &w {seconds: 30, fps: 12}}\n"
             "        - {kind: stylegan.walk, count: 1, params: *w}\n")
    s = load_settings(p, environ={}, check_paths=False)
    assert [j.params for j in s.schedule.windows[0].jobs] == [{"seconds": 30, "fps": 12}] * 2


@pytest.mark.parametrize(("text", "what"), [
    ("a: " + "[" * 100 + "]" * 100 + "\n", "nested more than 48"),
    ("a: " + "{b: " * 60 + "1" + "}" * 60 + "\n", "nested more than 48"),
    ("a: &a [1, *a]\n", "recursive"),
    ("".join(f"k{i}: &a{i} 1\n" for i in range(300)) + "z: [" + ", ".join(f"*a{i}" for i in range(300)) + "]\n",
     "more than 256 aliases"),
])
def test_deep_recursive_and_alias_heavy_documents_are_refused(tmp_path, text, what):
    p = tmp_path / "config.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=what):
        load_settings(p, environ={}, check_paths=False)


def test_huge_file_is_refused_before_parsing(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("# " + "x" * (1 << 20) + "\nseed: 1\n")
    with pytest.raises(ConfigError, match="larger than 1048576 bytes"):
        load_settings(p, environ={}, check_paths=False)


def test_bomb_in_an_environment_override_is_refused():
    bomb = "[" + ", ".join(["x"] * 10) + "]"
    with pytest.raises(ConfigError, match="GALLERY__SHOW__WEIGHTS: longer than"):
        load_settings(EMPTY, environ={"GALLERY__SHOW__WEIGHTS": bomb * 10_000}, check_paths=False)
    with pytest.raises(ConfigError, match=r"GALLERY__SEED: .*nested more than"):
        load_settings(EMPTY, environ={"GALLERY__SEED": "[" * 200 + "]" * 200}, check_paths=False)


# ---- data_dir: checked at start, exit 2, nothing written ------------------------------------------------
def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", ["file", "under-file", "not-writable", "log-is-dir", "media-under-file",
                                  "dangling-link"])
def test_unusable_data_dir_is_refused_and_nothing_written(tmp_path, monkeypatch, case, capsys):
    from gallery.cli import main

    (tmp_path / "afile").write_text("x")
    (tmp_path / "ro").mkdir()
    data = {"file": tmp_path / "afile", "under-file": tmp_path / "afile" / "data" / "deeper",
            "not-writable": tmp_path / "ro" / "data"}.get(case, tmp_path / "ok")
    cfg = {"data_dir": str(data)}
    if case == "log-is-dir":
        (tmp_path / "ok" / "logs.txt").mkdir(parents=True)
        cfg["logging"] = {"file": "logs.txt"}
    if case == "media-under-file":
        cfg["catalogue"] = {"media_dir": str(tmp_path / "afile" / "media")}
    if case == "dangling-link":
        (tmp_path / "link").symlink_to(tmp_path / "gone")
        cfg["data_dir"] = str(tmp_path / "link" / "data")
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(cfg))
    if case == "not-writable":  # root may write anywhere: the check asks os.access, so ask it to say no
        real = os.access
        monkeypatch.setattr(os, "access", lambda q, m, **kw: False if Path(q) == tmp_path / "ro" else real(q, m, **kw))
    before = _tree(tmp_path)
    for cmd in (["config", "check"], ["config", "show"], ["catalogue", "stats"]):
        with pytest.raises(SystemExit) as e:
            main(["--config", str(p), *cmd])
        err = capsys.readouterr().err
        assert e.value.code == 2, (cmd, err)
        assert err.startswith("error: ") and "Traceback" not in err
        assert {"file": "exists and is not a directory", "under-file": "afile is a file",
                "not-writable": "is not writable", "log-is-dir": "logging.file",
                "media-under-file": "catalogue.media_dir", "dangling-link": "a symbolic link to nothing"}[case] in err
    assert _tree(tmp_path) == before


def test_usable_data_dir_that_does_not_exist_yet_is_fine(tmp_path):
    s = load_settings(EMPTY, environ={}, overrides={"data_dir": str(tmp_path / "new" / "deeper")})
    assert s.data_dir == tmp_path / "new" / "deeper" and not s.data_dir.exists()


# ---- the shipped config ----------------------------------------------------------------------------------
def test_shipped_config_passes_with_every_job_typed():
    from generator.registry import model_of

    s = load_settings(REPO / "config.yaml", environ={}, check_paths=False)
    kinds = [j.kind for w in s.schedule.windows for j in w.jobs]
    assert kinds and all(model_of(k) is not None for k in kinds)
