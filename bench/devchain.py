"""The local dev chain kept under data_dir (minting.rpc_url empty): what each `gallery mint` command
costs as a separate process, and what keeping the chain costs as it grows.

Run: .venv/bin/python bench/devchain.py [--tokens 20] [--txs 200] [--no-hardhat]

1. The rehearsal a person runs, each command a fresh process on one fresh data_dir (a frozen set of
   --tokens works): wall time, exit code, first line printed. `python -c "import eth_tester, web3"`
   and `gallery mint status` (no chain opened) are the floors every chain command pays.
2. The chain as it grows by --txs mint transactions (one token each): the time to commit a
   transaction's changes to the SQLite file, the time to open (load) the file, and its size.
3. The alternative not taken: a hardhat node from minting/contracts/node_modules, its time from
   start to the first answer on 127.0.0.1 (skipped without node or `make node-deps`).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run(cfg: Path, *args: str) -> tuple[float, int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    env["PYTHONPATH"] = str(REPO)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(cfg), *args], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    dt = time.perf_counter() - t
    first = (r.stdout.strip().splitlines() or r.stderr.strip().splitlines() or [""])[0]
    return dt, r.returncode, first


def rehearsal(tmp: Path, tokens: int) -> None:
    from catalogue import open_catalogue
    from curation import sets
    from gallery.config import load_settings
    from generator.samples import tiny_drafts

    data = tmp / "data"
    cfg = tmp / "config.yaml"
    cfg.write_text(f"data_dir: {data}\ncatalogue:\n  fsync: false\n")
    cat = open_catalogue(load_settings(cfg, environ={}))
    sid = sets.create(cat, "Rehearsal", "A set for the bench.", cat.add_many(tiny_drafts(tokens)))
    sets.freeze(cat, sid)
    cat.close()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import eth_tester, web3"], check=True)
    floor = time.perf_counter() - t
    print(f"\n1. separate processes, one data_dir, a set of {tokens} (load average {os.getloadavg()[0]:.1f})")
    print(f"{'command':34} {'exit':>4} {'s':>6}  first line")
    print(f"{'python -c import eth_tester, web3':34} {0:>4} {floor:6.2f}")
    for args in (["mint", "status"], ["mint", "set", "987654", "--dry-run"], ["mint", "deploy"],
                 ["mint", "set", str(sid), "--dry-run"], ["mint", "set", str(sid)], ["mint", "status", str(sid)],
                 ["mint", "verify", str(sid)], ["mint", "chain", "status"], ["mint", "set", str(sid)]):
        dt, code, first = run(cfg, *args)
        print(f"{'gallery ' + ' '.join(args):34} {code:>4} {dt:6.2f}  {first[:90]}")


def growth(tmp: Path, txs: int) -> None:
    from minting.chain import contract_interface
    from minting.devchain import DevChain

    d = tmp / "grow"
    dc = DevChain(d).open()
    dc.arm()
    w3, me = dc.w3, dc.dev_address
    abi, bytecode = contract_interface()
    ctor = w3.eth.contract(abi=abi, bytecode=bytecode).constructor(
        "Bench", "B", "", "ipfs://x", me, 500, 34, me)
    rec = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": me, "data": ctor.data_in_transaction}))
    k = w3.eth.contract(address=rec["contractAddress"], abi=abi)
    real_commit = dc.commit
    commit_s: list[float] = []

    def timed() -> int:
        t = time.perf_counter()
        n = real_commit()
        if n:
            commit_s.append(time.perf_counter() - t)
        return n

    dc.commit = timed
    print(f"\n2. the kept chain growing by {txs} mint transactions (one token each)")
    print(f"{'txs':>5} {'file KB':>8} {'entries':>8} {'commit ms (median)':>19} {'open ms':>8}")
    marks = sorted({0, txs // 10, txs // 2, txs})
    done = 0
    for mark in marks:
        while done < mark:
            w3.eth.send_transaction({"from": me, "to": k.address,
                                     "data": k.encode_abi("mintBatch", args=[me, done + 1, 1])})
            done += 1
        med = statistics.median(commit_s[-max(1, mark // 10):]) * 1000 if commit_s else 0.0
        dc.close()
        t = time.perf_counter()
        dc = DevChain(d).open()
        opened = time.perf_counter() - t
        facts = dc.facts()
        print(f"{mark:>5} {facts['bytes'] / 1024:8.0f} {facts['entries']:>8} {med:19.1f} {opened * 1000:8.0f}")
        w3 = dc.w3
        k = w3.eth.contract(address=k.address, abi=abi)
        real_commit = dc.commit
        dc.commit = timed
    dc.close()


def hardhat() -> None:
    boot = REPO / "minting" / "contracts" / "node_modules" / "hardhat" / "internal" / "cli" / "bootstrap.js"
    if not boot.exists():
        print("\n3. hardhat node: not installed (make node-deps); skipped")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from web3 import HTTPProvider, Web3

    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    t = time.perf_counter()
    proc = subprocess.Popen(["node", str(boot), "node", "--hostname", "127.0.0.1", "--port", str(port)],
                            cwd=boot.parents[3].parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}"))
    try:
        while True:
            try:
                w3.eth.chain_id  # noqa: B018
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.perf_counter() - t > 120:
                    print("\n3. hardhat node: did not start")
                    return
                time.sleep(0.1)
        print(f"\n3. hardhat node (the alternative): {time.perf_counter() - t:.2f} s from start to its first answer; "
              "its chain lives in that process's memory only")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--txs", type=int, default=200)
    ap.add_argument("--no-hardhat", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="devchain-bench-") as tmp:
        rehearsal(Path(tmp), a.tokens)
        growth(Path(tmp), a.txs)
    if not a.no_hardhat:
        hardhat()


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
