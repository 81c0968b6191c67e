"""config.yaml -> typed, validated settings (pydantic), loaded once at start.

Resolution of the file: ``--config PATH`` > ``$GALLERY_CONFIG`` > ``./config.yaml`` > built-in defaults.
Environment overrides use ``GALLERY__SECTION__KEY=value`` (value parsed as a YAML scalar), e.g.
``GALLERY__CATALOGUE__URL=postgresql+psycopg://…``. Secrets (private keys, API tokens) never live
in the file: sections that need them read them from the environment or a keystore file.

Each package owns the model of its own section (``<package>/settings.py``); this module assembles
them. Unknown keys, wrong types and impossible values raise :class:`ConfigError` naming the file,
the key path and the reason; a YAML syntax error names the line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from catalogue.settings import CatalogueSettings
from curation.settings import CurationSettings
from gallery import yaml_limits
from gallery.errors import ConfigError
from gallery.media import MediaSettings
from gallery.redact import find_secret, redact, register_secret
from gallery.settings_base import Strict
from generator.lts.settings import LTSSettings
from generator.musicvae.settings import MusicVAESettings
from generator.schedule.settings import ScheduleSettings
from generator.stylegan.settings import StyleGANSettings
from generator.vqgan_clip.settings import VQClipSettings
from installation.settings import ShowSettings
from minting.settings import MintingSettings

ENV_PREFIX = "GALLERY__"
CONFIG_ENV = "GALLERY_CONFIG"
# Limits of config.yaml (and of each environment override): size, nesting, aliases, expanded size.
YAML_LIMITS = yaml_limits.Limits(max_bytes=1 << 20, max_depth=48, max_aliases=256, max_nodes=100_000)
MAX_ENV_VALUE = 64 * 1024
SECRET_ADVICE = ("never put a key, token or mnemonic in the configuration: minting.key_env / "
                 "minting.keystore name where the key comes from")


class LoggingSettings(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Optional log file (relative to data_dir); the terminal always gets log lines too.
    file: Path | None = None


class Settings(Strict):
    # Root of everything the gallery writes: catalogue, media, checkpoints, logs. Relative to the config file.
    data_dir: Path = Path("gallery-data")
    # Torch device for models: auto picks cuda when present, else cpu.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Default seed for anything random that is not given its own seed.
    seed: int = Field(0, ge=0)
    logging: LoggingSettings = LoggingSettings()
    catalogue: CatalogueSettings = CatalogueSettings()
    media: MediaSettings = MediaSettings()
    stylegan: StyleGANSettings = StyleGANSettings()
    vqclip: VQClipSettings = VQClipSettings()
    lts: LTSSettings = LTSSettings()
    musicvae: MusicVAESettings = MusicVAESettings()
    schedule: ScheduleSettings = ScheduleSettings()
    show: ShowSettings = ShowSettings()
    curation: CurationSettings = CurationSettings()
    minting: MintingSettings = MintingSettings()

    # Where the file came from (not a key of the file).
    _source: str = PrivateAttr("<defaults>")

    @property
    def source(self) -> str:
        return self._source

    # ---- derived paths -------------------------------------------------------------------
    def path(self, p: Path | str) -> Path:
        """Resolve a data path: absolute as is, relative under data_dir."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.data_dir / p

    @property
    def catalogue_url(self) -> str:
        return self.catalogue.database_url(self.data_dir)

    @property
    def media_root(self) -> Path:
        return self.catalogue.media_path(self.data_dir)


# ---------------------------------------------------------------------------------------------
def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX:
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
        if len(raw) > MAX_ENV_VALUE:
            raise ConfigError(f"environment {key}: longer than {MAX_ENV_VALUE} characters")
        why = find_secret(raw)
        if why:  # checked on the raw text: YAML would turn 0x… into an int printed in decimal
            raise ConfigError(f"environment {key}: {why}; {SECRET_ADVICE}")
        try:
            value = yaml_limits.load(raw, YAML_LIMITS, check_secrets=False) if raw != "" else ""
        except yaml_limits.YAMLLimitError as exc:
            raise ConfigError(f"environment {key}: {exc}") from None
        except (yaml.YAMLError, RecursionError):
            value = raw
        if isinstance(value, (dict, list)) and not raw.strip().startswith(("{", "[")):
            value = raw
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment {key}: conflicts with another override")
        node[parts[-1]] = value
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = _deep_merge(merged[k], v)
        else:
            merged[k] = v
    return merged


def _format_errors(source: str, err: ValidationError, env_keys: set[str]) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        where = f"environment {ENV_PREFIX}{loc.upper().replace('.', '__')}" if loc in env_keys else source
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not a setting; check the spelling and the section)"
        got = e.get("input")
        got_s = ""
        if e["type"] not in ("extra_forbidden", "missing") and not isinstance(got, dict | list):
            got_r = repr(got)
            got_s = f" (got {got_r[:80] + '…' if len(got_r) > 80 else got_r})"
        lines.append(redact(f"{where}: {loc}: {msg}{got_s}"))
    return "\n".join(lines)


def _flat_keys(d: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for k, v in d.items():
        path = f"{prefix}{k}"
        keys.add(path)
        if isinstance(v, dict):
            keys |= _flat_keys(v, path + ".")
    return keys


def find_config(explicit: Path | str | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    here = Path("config.yaml")
    return here if here.exists() else None


def load_settings(path: Path | str | None = None, environ: dict[str, str] | None = None,
                  overrides: dict[str, Any] | None = None, check_paths: bool = True) -> Settings:
    """Load, merge environment overrides and validate. Raises ConfigError on any problem.

    With ``check_paths`` (the default) data_dir, the media store and the log file's folder must be
    directories this user can create or write (:func:`check_writable_paths`)."""
    environ = dict(os.environ if environ is None else environ)
    cfg_path = find_config(path)
    data: dict[str, Any] = {}
    source = "<defaults>"
    base_dir = Path.cwd()
    if cfg_path is not None:
        source = str(cfg_path)
        if not cfg_path.exists():
            raise ConfigError(f"{cfg_path}: no such configuration file")
        try:
            text = yaml_limits.read_limited(cfg_path, YAML_LIMITS).decode("utf-8")
        except yaml_limits.YAMLLimitError as exc:
            raise ConfigError(f"{cfg_path}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(redact(f"{cfg_path}: cannot read: {exc}")) from None
        try:
            loaded = yaml_limits.load(text, YAML_LIMITS)
        except yaml_limits.YAMLLimitError as exc:
            advice = f"; {SECRET_ADVICE}" if "looks like" in str(exc) else ""
            raise ConfigError(f"{cfg_path}: {exc}{advice}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(redact(f"{cfg_path}:{where}: YAML syntax error: {problem}")) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{cfg_path}: the top level must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
        base_dir = cfg_path.resolve().parent
    env = _env_overrides(environ)
    env_keys = _flat_keys(env)
    merged = _deep_merge(data, env)
    if overrides:
        merged = _deep_merge(merged, overrides)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc, env_keys)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    if not settings.data_dir.is_absolute():
        settings.data_dir = (base_dir / settings.data_dir).resolve()
    settings._source = source
    for name in (settings.minting.key_env, settings.minting.keystore_password_env,
                 settings.minting.pinning_token_env, settings.curation.token_env):
        register_secret(environ.get(name))
    if check_paths:
        check_writable_paths(settings)
    return settings


# ---------------------------------------------------------------------------------------------
def _nearest_existing(p: Path) -> Path:
    """p itself, or its nearest ancestor that exists (stat errors other than 'missing' propagate)."""
    probe = p
    while True:
        try:
            probe.stat()
            return probe
        except FileNotFoundError:
            if os.path.lexists(probe):
                raise ConfigError(f"{probe}: a symbolic link to nothing ({os.readlink(probe)})") from None
            if probe.parent == probe:
                return probe
            probe = probe.parent


def check_dir_usable(what: str, p: Path) -> None:
    """A directory the gallery will create or write into: refuse (ConfigError) a file, a path under a
    file, or a place this user cannot write -- before anything is written."""
    try:
        probe = _nearest_existing(p)
    except ConfigError as exc:
        raise ConfigError(f"{what} {p}: cannot be created: {exc}") from None
    except NotADirectoryError:
        bad = next((a for a in reversed(p.parents) if a.exists() and not a.is_dir()), None)
        raise ConfigError(f"{what} {p}: cannot be a directory: {bad or 'a parent'} is a file") from None
    except OSError as exc:
        raise ConfigError(f"{what} {p}: cannot be checked: {exc.strerror or exc}") from None
    if probe == p and not p.is_dir():
        raise ConfigError(f"{what} {p}: exists and is not a directory (a file?); point it at a directory")
    if not probe.is_dir():
        raise ConfigError(f"{what} {p}: cannot be created: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "is not writable" if probe == p else f"cannot be created: {probe} is not writable"
        raise ConfigError(f"{what} {p}: {where} by this user (uid {os.getuid()})")


def check_writable_paths(settings: Settings) -> None:
    """data_dir, the media store and the log file must be usable: checked at start, nothing written."""
    check_dir_usable("data_dir", settings.data_dir)
    check_dir_usable("catalogue.media_dir", settings.media_root)
    if settings.logging.file is not None:
        f = settings.path(settings.logging.file)
        if f.is_dir():
            raise ConfigError(f"logging.file {f}: is a directory; give a file name")
        if f.exists() and not os.access(f, os.W_OK):
            raise ConfigError(f"logging.file {f}: is not writable by this user")
        check_dir_usable("logging.file's folder", f.parent)
