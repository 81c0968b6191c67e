"""The local dev chain (minting.rpc_url empty) kept under data_dir between commands: separate CLI
invocations deploy, mint, report and verify on one data_dir; dry runs need no key; unknown sets are
refused first; a damaged, half-written or missing state is refused with nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalogue.models import Mint, MintTx
from gallery.errors import GalleryError
from tests.minting.helpers import add_artworks, make_set

REPO = Path(__file__).resolve().parents[2]
DEV_ACCOUNT = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"  # eth-tester's first account (private key 1)


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith("GALLERY"):
            monkeypatch.delenv(k)


def gallery(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    return subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def cli(capsys, config: Path, *args: str) -> tuple[int, str, str]:
    """One `gallery` invocation in this process: its own AppState, its own hold on the chain."""
    from gallery.cli import main

    try:
        main(["--config", str(config), *args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


def chain_file(data_dir: Path) -> Path:
    return data_dir / "devchain" / "chain.sqlite"


def counts(cat) -> tuple:
    with cat.read() as s:
        return (s.scalar(select(func.count()).select_from(Mint)), s.scalar(select(func.count()).select_from(MintTx)),
                tuple(sorted(s.scalars(select(Mint.state)))), tuple(sorted(s.scalars(select(MintTx.state)))))


def test_deploy_set_status_verify_as_separate_processes(config_file, catalogue, data_dir):
    from minting.devchain import holder

    sid = make_set(catalogue, add_artworks(catalogue, 5), title="Rehearsal")
    dep = gallery(config_file, "mint", "deploy", "--json")
    assert dep.returncode == 0, dep.stderr
    address = json.loads(dep.stdout)["contract"]
    assert f"built-in funded dev account {DEV_ACCOUNT}" in dep.stderr and "for this local chain only" in dep.stderr
    assert "started a new chain" in dep.stderr
    assert chain_file(data_dir).is_file() and holder(data_dir / "devchain") is None  # the process let go

    st = gallery(config_file, "mint", "set", str(sid), "--json")
    assert st.returncode == 0, st.stderr
    res = json.loads(st.stdout)
    assert res["contract"] == address and res["minted"] == 5 and res["batches"] == 1
    assert "started a new chain" not in st.stderr  # the chain the deploy left

    stat = gallery(config_file, "mint", "status", str(sid), "--json")
    assert stat.returncode == 0, stat.stderr
    assert [(r["contract"], r["states"]) for r in json.loads(stat.stdout)] == [(address, {"confirmed": 5})]

    ver = gallery(config_file, "mint", "verify", str(sid), "--json")
    assert ver.returncode == 0, ver.stdout + ver.stderr
    v = json.loads(ver.stdout)
    assert v["ok"] and v["tokens"] == 5 and v["total_minted"] == 5 and v["contract"] == address

    cs = gallery(config_file, "mint", "chain", "status", "--json")
    assert cs.returncode == 0, cs.stderr
    facts = json.loads(cs.stdout)
    assert facts["block"] == 3 and facts["dev_account"] == DEV_ACCOUNT  # deploy, base URI, one mint batch


def test_dry_runs_need_no_key(config_file, catalogue, data_dir, capsys):
    sid = make_set(catalogue, add_artworks(catalogue, 3))
    # a chain other than the local one (here eth-tester's throwaway): no key is asked for a dry run or verify
    tester = config_file.parent / "tester.yaml"
    tester.write_text(config_file.read_text() + "minting:\n  rpc_url: eth-tester\n")
    for args in (("set", str(sid), "--dry-run"), ("verify", str(sid))):
        code, _, err = cli(capsys, tester, "mint", *args)
        assert code == 2 and "no contract" in err and "GALLERY_MINT_KEY" not in err, err
    code, _, err = cli(capsys, tester, "mint", "set", str(sid))  # sending still needs the key
    assert code == 2 and "GALLERY_MINT_KEY" in err

    # the local chain: deploy, then a dry run plans and estimates without reserving ids or writing the chain
    assert cli(capsys, config_file, "mint", "deploy")[0] == 0
    before, good = counts(catalogue), chain_file(data_dir).read_bytes()
    code, out, err = cli(capsys, config_file, "mint", "set", str(sid), "--dry-run")
    assert code == 0, err
    assert out.startswith(f"dry run: set {sid}: 3 tokens") and "3 to mint in 1 transaction(s)" in out
    assert counts(catalogue) == before and chain_file(data_dir).read_bytes() == good


def test_dry_run_without_a_key_estimates_as_the_owner(mint_settings, catalogue, w3, mc):
    from minting import flow
    from minting.chain import NoKey

    sid = make_set(catalogue, add_artworks(catalogue, 6))
    flow.deploy(mc)
    ro = flow.open_context(mint_settings, catalogue, w3=w3, environ={}, need_key=False)
    assert isinstance(ro.chain.signer, NoKey)
    before = counts(catalogue)
    res = flow.mint_set(ro, sid, dry_run=True)
    assert res["to_mint"] == 6 and res["batches"] == 2 and res["estimated_gas"] > 0
    assert mc.chain.signer.address in res["note"] and "owner" in res["note"]
    assert counts(catalogue) == before  # no ids reserved, nothing journalled
    with pytest.raises(GalleryError, match="no minting key"):
        flow.mint_set(ro, sid)
    assert counts(catalogue) == before
    flow.mint_set(mc, sid)
    v = flow.verify(flow.open_context(mint_settings, catalogue, w3=w3, environ={}, need_key=False), sid)
    assert v["ok"] and v["tokens"] == 6
    with pytest.raises(GalleryError, match="GALLERY_MINT_KEY"):
        flow.open_context(mint_settings, catalogue, w3=w3, environ={})  # need_key: the key is asked
    # a key that is given but cannot be loaded does not stop a read: it is named and left out
    ro = flow.open_context(mint_settings, catalogue, w3=w3, environ={"GALLERY_MINT_KEY": "0x1234"}, need_key=False)
    assert isinstance(ro.chain.signer, NoKey) and "GALLERY_MINT_KEY is not a private key" in ro.notes[0]
    assert "0x1234" not in ro.notes[0]
    assert flow.mint_set(ro, sid, dry_run=True)["to_mint"] == 0


def test_unknown_and_unmintable_sets_are_refused_first(config_file, catalogue, data_dir, capsys):
    tester = config_file.parent / "tester.yaml"  # a chain that would need a key: the set is checked before it
    tester.write_text(config_file.read_text() + "minting:\n  rpc_url: eth-tester\n")
    loose = make_set(catalogue, add_artworks(catalogue, 2), title="Loose", frozen=False)
    empty = make_set(catalogue, [], title="Nothing")
    cases = [(("set", "987654", "--dry-run"), "no collection (set) with id 987654"),
             (("set", "987654"), "no collection (set) with id 987654"),
             (("verify", "987654"), "no collection (set) with id 987654"),
             (("status", "987654"), "no collection (set) with id 987654"),
             (("set", str(loose), "--dry-run"), "is not frozen"),
             (("set", str(empty)), "is empty")]
    for cfg in (config_file, tester):
        for args, msg in cases:
            code, _, err = cli(capsys, cfg, "mint", *args)
            assert code == 2 and msg in err and "GALLERY_MINT_KEY" not in err, (args, err)
    assert not (data_dir / "devchain").exists()  # no chain was opened for any of them
    code, out, _ = cli(capsys, config_file, "mint", "status", str(loose))
    assert code == 0 and out.strip() == "no sets minted"


@pytest.fixture
def minted(config_file, catalogue, data_dir, capsys):
    """Deploy and mint a set of 4 on the local chain with separate in-process invocations."""
    sid = make_set(catalogue, add_artworks(catalogue, 4))
    assert cli(capsys, config_file, "mint", "deploy")[0] == 0
    code, _, err = cli(capsys, config_file, "mint", "set", str(sid))
    assert code == 0, err
    return sid


def _damage(good: bytes, how: str, path: Path) -> None:
    if how == "half":
        path.write_bytes(good[: len(good) // 2])
    elif how == "one page":
        path.write_bytes(good[:4096])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    elif how == "entry lost":
        path.write_bytes(good)
        with sqlite3.connect(path) as con:
            con.execute("DELETE FROM kv WHERE k = (SELECT k FROM kv LIMIT 1 OFFSET 7)")
    elif how == "other format":
        path.write_bytes(good)
        with sqlite3.connect(path) as con:
            con.execute("UPDATE meta SET value = 'something/9' WHERE key = 'format'")


@pytest.mark.parametrize("how", ["half", "one page", "empty", "garbage", "entry lost", "other format"])
def test_a_damaged_state_is_refused_and_left_untouched(how, minted, config_file, catalogue, data_dir, capsys):
    path = chain_file(data_dir)
    good, before = path.read_bytes(), counts(catalogue)
    _damage(good, how, path)
    damaged = path.read_bytes()
    for args in (("verify", str(minted)), ("set", str(minted)), ("deploy",), ("chain", "status")):
        code, _, err = cli(capsys, config_file, "mint", *args)
        assert code == 1 and f"local dev chain state {path} is damaged" in err and "left untouched" in err, err
        assert path.read_bytes() == damaged and counts(catalogue) == before
    path.write_bytes(good)  # nothing was lost: the copy puts everything back
    code, out, err = cli(capsys, config_file, "mint", "verify", str(minted))
    assert code == 0 and out.rstrip().endswith(": ok"), err


def test_a_crash_mid_commit_is_rolled_back(minted, config_file, catalogue, data_dir, capsys):
    """A process killed inside a commit leaves the file half-written with SQLite's journal: the next command
    gets the chain as it was before that commit."""
    path = chain_file(data_dir)
    good = path.read_bytes()
    crash = ("import os, sqlite3, sys\n"
             "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
             "con.execute('PRAGMA cache_size=1')\n"
             "con.execute('BEGIN IMMEDIATE')\n"
             "con.execute('UPDATE kv SET v = randomblob(length(v) + 2000)')\n"
             "os._exit(3)\n")
    assert subprocess.run([sys.executable, "-c", crash, str(path)]).returncode == 3
    assert path.with_name(path.name + "-journal").exists() and path.read_bytes() != good  # really half-written
    path.with_name("chain.sqlite.new").write_bytes(b"half a new chain")  # and a creation that never finished
    code, out, err = cli(capsys, config_file, "mint", "verify", str(minted))
    assert code == 0 and out.rstrip().endswith(": ok"), err
    assert not path.with_name(path.name + "-journal").exists() and not path.with_name("chain.sqlite.new").exists()
    code, out, err = cli(capsys, config_file, "mint", "status", str(minted), "--json")
    assert json.loads(out)[0]["states"] == {"confirmed": 4}


def test_a_missing_state_is_refused_until_restored_or_reset(minted, config_file, catalogue, data_dir, capsys):
    path = chain_file(data_dir)
    aside = data_dir / "aside.sqlite"
    shutil.move(path, aside)
    before = counts(catalogue)
    for args in (("set", str(minted)), ("verify", str(minted)), ("deploy",)):
        code, _, err = cli(capsys, config_file, "mint", *args)
        assert code == 1 and "a new, empty chain: its state file is missing" in err, err
        assert "gallery mint chain reset --yes" in err
        assert not path.exists() and counts(catalogue) == before  # the empty chain was not written
    shutil.move(aside, path)
    assert cli(capsys, config_file, "mint", "verify", str(minted))[0] == 0

    good = path.read_bytes()
    code, _, err = cli(capsys, config_file, "mint", "chain", "reset")
    assert code == 2 and "--yes" in err and path.exists()
    code, out, err = cli(capsys, config_file, "mint", "chain", "reset", "--yes")
    assert code == 0 and "deleted 4 mint and 3 mint_tx rows" in out, out + err
    kept = list(path.parent.glob("chain.sqlite.reset-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == good and not path.exists()
    assert counts(catalogue)[:2] == (0, 0)
    assert cli(capsys, config_file, "mint", "deploy")[0] == 0
    code, out, err = cli(capsys, config_file, "mint", "set", str(minted), "--json")
    assert code == 0 and json.loads(out)["minted"] == 4, err


def test_one_command_at_a_time(data_dir):
    from minting.devchain import DevChain, holder

    d = data_dir / "devchain"
    first = DevChain(d).open()
    try:
        first.arm()
        assert holder(d) == str(os.getpid())
        with pytest.raises(GalleryError, match=f"held by another gallery command \\(pid {os.getpid()}\\)"):
            DevChain(d, wait_s=0.3).open()
    finally:
        first.close()
    assert holder(d) is None
    with DevChain(d) as again:
        assert again.w3.eth.block_number == 0 and not again.fresh


def test_a_local_chain_with_another_chain_id_is_refused(config_file, catalogue, capsys):
    sid = make_set(catalogue, add_artworks(catalogue, 1))
    cfg = config_file.parent / "mainnet.yaml"
    cfg.write_text(config_file.read_text() + "minting:\n  chain_id: 1\n")
    for args in (("deploy",), ("set", str(sid), "--dry-run"), ("verify", str(sid))):
        code, _, err = cli(capsys, cfg, "mint", *args)
        assert code == 2 and "refusing to sign" in err and "built-in funded dev account" not in err, err
