"""The front door and the manuals hold together: every relative link in README.md and docs/*.md
resolves to a file inside the repository (and to a heading, when it names one), and every
`gallery ...` command the README and the manuals show names a real command with options it takes;
the configuration manual lists every section of the settings and every GALLERY_* variable the code reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])

LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans (links there are not links)."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def _code_lines(text: str) -> list[str]:
    """The lines inside fenced code blocks, with a trailing backslash continuation joined."""
    out, fenced, cont = [], False, ""
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced, cont = not fenced, ""
            continue
        if fenced:
            line = cont + line
            if line.rstrip().endswith("\\"):
                cont = line.rstrip()[:-1] + " "
                continue
            cont = ""
            out.append(line)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    found, seen = set(), {}
    fenced = False
    for line in md.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            found.add(s if n == 0 else f"{s}-{n}")
    return found


def links(md: Path) -> list[str]:
    return LINK.findall(_prose(md.read_text(encoding="utf-8")))


def broken_links(md: Path, root: Path = REPO) -> list[str]:
    """What is wrong with the relative links of one markdown file (empty when all resolve)."""
    bad = []
    for target in links(md):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: …
            continue
        path_part, _, frag = target.partition("#")
        dest = (md.parent / path_part).resolve() if path_part else md.resolve()
        if not dest.is_relative_to(root):
            bad.append(f"{target}: outside the repository")
            continue
        if not dest.exists():
            bad.append(f"{target}: no such file")
            continue
        if frag and dest.suffix == ".md" and frag not in anchors(dest):
            bad.append(f"{target}: no heading #{frag} in {dest.relative_to(root)}")
    return bad


def test_the_docs_exist_and_have_links():
    names = {p.name for p in DOCS}
    assert {"README.md", "architecture.md", "CONVENTIONS.md"} <= names
    assert sum(len(links(p)) for p in DOCS) > 20


@pytest.mark.parametrize("md", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(md: Path):
    assert broken_links(md) == []


@pytest.mark.parametrize("md", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_nothing_points_outside_the_repository(md: Path):
    # a path into the workspace beside the clone (../shared/…) is broken in every other clone
    assert "../shared" not in md.read_text(encoding="utf-8")


def test_the_architecture_picture_is_committed():
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "```mermaid" in text
    assert "img/dataflow.svg" in links(REPO / "docs" / "architecture.md")
    svg = (REPO / "docs" / "img" / "dataflow.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "execute_run" in svg and "catalogue" in svg


def test_the_link_checker_catches_broken_links(tmp_path: Path):
    """The checker itself, on hostile pages: each kind of broken link is reported, good ones are not."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "a.md").write_text("# Title\n\n## Gas and the `stride` (default)\n\ntext\n")
    (repo / "outside.md").write_text("# x\n")
    page = repo / "docs" / "b.md"
    page.write_text(
        "# B\n\n"
        "[ok](a.md) [ok anchor](a.md#gas-and-the-stride-default) [self](#b) [web](https://example.org/x)\n"
        "[missing](nope.md) [bad anchor](a.md#no-such-heading) [out](../../elsewhere.md)\n"
        "![missing picture](img/none.svg) [shared](../../shared/DESIGN.md)\n"
        "`[not a link](inline.md)`\n\n```\n[not a link either](fenced.md)\n```\n")
    bad = broken_links(page, root=repo)
    assert bad == [
        "nope.md: no such file",
        "a.md#no-such-heading: no heading #no-such-heading in docs/a.md",
        "../../elsewhere.md: outside the repository",
        "img/none.svg: no such file",
        "../../shared/DESIGN.md: outside the repository",
    ]


# ---- the commands the docs show -----------------------------------------------------------------

def _inline_code(text: str) -> list[str]:
    """The inline code spans of the prose (outside fenced blocks)."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return re.findall(r"`([^`]+)`", " ".join(out))


def _gallery_commands(md: Path, inline: bool = False) -> list[tuple[int, str]]:
    """Each `gallery ...` command in a code block (several per line when joined by ';' or '&&'), or
    with inline=True in an inline code span of the prose."""
    text = md.read_text(encoding="utf-8")
    cmds = []
    for k, line in enumerate(_inline_code(text) if inline else _code_lines(text)):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        for part in re.split(r"\s*(?:;|&&)\s*", code):
            part = re.sub(r"^(nice -n \d+|\.venv/bin/)\s*", "", part.strip())
            if part.startswith("gallery "):
                cmds.append((k, part))
    return cmds


def _command_path(root, words: list[str]):
    """Walk the CLI's groups (anything with sub-commands) along the words; returns the leaf command
    and the words after its name."""
    cmd, i = root, 0
    while hasattr(cmd, "commands") and i < len(words) and not words[i].startswith("-"):
        sub = cmd.commands.get(words[i])
        if sub is None:
            raise LookupError(f"no command {' '.join(words[:i + 1])!r}")
        cmd, i = sub, i + 1
    return cmd, words[i:]


def _check(root, text: str, full: bool = True) -> str | None:
    """What is wrong with one shown command (None: nothing). full=False (prose naming a command, as
    in "every `gallery generate …` command"): only that the command path exists."""
    words = shlex.split(text)[1:]
    if not full:
        words = [w for w in words if w not in ("…", "...", "--help")]
        words = words[:next((i for i, w in enumerate(words) if w.startswith("-")), len(words))]
        try:
            _command_path(root, words)
        except LookupError as e:
            return str(e)
        return None
    # `set create|add|remove`: each alternative must be a command
    alts = next((w for w in words if "|" in w and not w.startswith(("-", '"'))), None)
    if alts is not None and not any(c in alts for c in ":=/"):
        head = words[:words.index(alts)]
        for alt in alts.split("|"):
            try:
                _command_path(root, [*head, alt])
            except LookupError as e:
                return str(e)
        return None
    try:
        leaf, rest = _command_path(root, words)
    except LookupError as e:
        return str(e)
    if hasattr(leaf, "commands"):
        return f"{text!r} names a group, not a command"
    if any(w.startswith("[") for w in rest):  # `gallery mint status [3]`: an optional argument shown
        rest = [w.strip("[]") for w in rest]
    try:
        leaf.make_context(leaf.name, list(rest), resilient_parsing=False)
    except Exception as e:  # noqa: BLE001 - click's usage errors (typer vendors click); any other is a problem too
        return f"{text!r}: {getattr(e, 'format_message', e.__str__)()}"
    return None


@pytest.fixture(scope="module")
def cli_root():
    import typer

    from gallery.cli import app

    return typer.main.get_command(app)


@pytest.mark.parametrize("md", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_shown_is_a_real_command(md: Path, cli_root):
    problems = [f"{md.name} code line {k}: {p}" for k, text in _gallery_commands(md)
                if (p := _check(cli_root, text))]
    for _, text in _gallery_commands(md, inline=True):
        # a span with options is a command to type, checked in full; a bare name, `--help` or a
        # pattern with placeholders (`ID... --to DIR`, `[3]`, `a|b`, `…`) is prose: its path is checked
        placeholder = any(c in text for c in "…[|") or "..." in text or "--help" in text or any(
            w.isupper() for w in text.split())
        full = " -" in text and not placeholder
        if p := _check(cli_root, text, full=full):
            problems.append(f"{md.name} inline `{text}`: {p}")
    assert problems == []


def test_the_readme_tour_shows_every_capability():
    shown = {" ".join(shlex.split(t)[1:3]) for _, t in _gallery_commands(REPO / "README.md")}
    for cmd in ("generate walk", "generate vqclip", "generate soundscape", "generate melody",
                "schedule once", "curate serve", "curate select", "show --windowed", "mint set",
                "catalogue ls"):
        assert cmd in shown, cmd


def test_the_command_checker_catches_wrong_commands(cli_root):
    assert _check(cli_root, "gallery generate walk --seconds 8") is None
    assert "no command" in _check(cli_root, "gallery generate wlak")
    assert "no command" in _check(cli_root, "gallery curate set create|nonsense")
    assert "No such option" in _check(cli_root, "gallery generate walk --no-such-option 3")
    assert "names a group" in _check(cli_root, "gallery catalogue")
    assert "Missing argument" in _check(cli_root, "gallery mint set")
    assert _check(cli_root, "gallery catalogue", full=False) is None  # prose naming a group
    assert "no command" in _check(cli_root, "gallery frobnicate …", full=False)


# ---- the configuration manual covers the configuration -----------------------------------------

def test_every_config_section_is_in_the_config_manual():
    from gallery.config import Settings

    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| `")]
    listed = {name for line in table for name in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    assert set(Settings.model_fields) - listed == set()


def test_every_environment_variable_the_code_reads_is_documented():
    """A GALLERY_* variable read by the code (a secret, a path) is named in the docs; GALLERY__* are
    overrides of config keys, GALLERY_WORKER_* pass a job from the scheduler to its worker."""
    names = set()
    for pkg in ("gallery", "catalogue", "generator", "installation", "curation", "minting"):
        for py in (REPO / pkg).rglob("*.py"):
            names |= set(re.findall(r"\bGALLERY_[A-Z][A-Z_]*[A-Z]\b", py.read_text(encoding="utf-8")))
    names = {n for n in names if not n.startswith("GALLERY_WORKER_")}
    assert {"GALLERY_CONFIG", "GALLERY_MINT_KEY"} <= names  # the scan finds what it is meant to find
    docs = " ".join(p.read_text(encoding="utf-8") for p in DOCS)
    assert sorted(n for n in names if n not in docs) == []
