"""Gas of minting a set: the Latent Gallery contract (ERC721A minted in chunks of `ownership_stride`)
beside OpenZeppelin's ERC721 minting one token per call, and the worst gas to transfer a token
of a minted batch (each token transferred first thing after the mint, to a fresh address).

Run: .venv/bin/python bench/minting.py [--quick] [--car-only]   (in-process eth-tester / py-evm chain,
solc 0.8.37 artefact from minting/artefacts; no node needed). Goals: a set of 100 at most 6% of the
one-per-call gas, and no token of a batch costing more than 100,000 gas to transfer.

Then the time to content-address a set and write its CAR: minting/cid.py (what `gallery mint set`
runs) beside npm ipfs-car 3.1.0 (`ipfs-car pack`, a fresh node process, as a person would run it) on
the same folder: a metadata JSON per token named by its id plus media/ with one image per token
(random bytes of 20-120 KB, so the hashing is real work), the root CIDs compared. Each side runs
three times, alternated; the median is shown. Needs `make node-deps` for the ipfs-car column.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from minting.chain import contract_interface
from minting.settings import MintingSettings

QUICK = "--quick" in sys.argv
IPFS_CAR = Path(__file__).resolve().parents[1] / "minting" / "contracts" / "node_modules" / "ipfs-car" / "bin.js"


class Bench:
    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.a = self.w3.eth.accounts

    def tx(self, fn, sender=None) -> int:
        h = fn.transact({"from": sender or self.a[0]})
        return int(self.w3.eth.wait_for_transaction_receipt(h).gasUsed)

    def deploy(self, name: str, *args):
        abi, code = contract_interface(name)
        h = self.w3.eth.contract(abi=abi, bytecode=code).constructor(*args).transact({"from": self.a[0]})
        r = self.w3.eth.wait_for_transaction_receipt(h)
        return self.w3.eth.contract(address=r.contractAddress, abi=abi), int(r.gasUsed)

    def gallery(self, stride: int):
        return self.deploy("LatentGallerySet", "Set", "SET", "ipfs://root/", "ipfs://contract", self.a[0], 500,
                           stride, self.a[0])

    def worst_transfer(self, k, holder: str, ids: list[int]) -> tuple[int, int]:
        """(worst gas, its token id): each token transferred right after the mint (chain reverted between)."""
        worst = (0, 0)
        for t in ids:
            snap = self.tester.take_snapshot()
            g = self.tx(k.functions.transferFrom(holder, self.a[2], t), holder)
            self.tester.revert_to_snapshot(snap)
            worst = max(worst, (g, t))
        return worst


def make_set(root: Path, tokens: int) -> None:
    rng = random.Random(tokens)
    (root / "media").mkdir(parents=True)
    for t in range(1, tokens + 1):
        (root / "media" / f"{t}.png").write_bytes(rng.randbytes(rng.randint(20_000, 120_000)))
        (root / str(t)).write_text(json.dumps({"name": f"Set #{t}", "image": f"ipfs://…/media/{t}.png",
                                               "attributes": [{"trait_type": "seed", "value": t}]}))


def car_bench() -> None:
    from minting.cid import directory_node, write_car

    def tree_of(p: Path) -> dict:
        return {c.name: (tree_of(c) if c.is_dir() else c) for c in p.iterdir()}

    def ours(d: Path, out: Path) -> tuple[float, str]:
        t = time.perf_counter()
        node = directory_node(tree_of(d))
        write_car(out, [node.cid], node.blocks)
        return time.perf_counter() - t, str(node.cid)

    def theirs(d: Path, out: Path) -> tuple[float, str]:
        t = time.perf_counter()
        r = subprocess.run(["node", str(IPFS_CAR), "pack", str(d), "--output", str(out)], capture_output=True,
                           text=True, timeout=600, check=True)
        return time.perf_counter() - t, r.stdout.strip()

    print("\nCAR of a set (metadata JSON + image per token), seconds (median of 3, alternated):")
    print(f"{'tokens':>7} {'files':>6} {'MB':>6} {'ours (Python)':>14} {'ipfs-car':>9} {'ratio':>6}  same root")
    have_node = IPFS_CAR.exists() and shutil.which("node")
    for tokens in (100, 1000):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp) / "set"
            make_set(d, tokens)
            mb = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
            a, b, roots = [], [], set()
            for _ in range(3):
                ta, ra = ours(d, Path(tmp) / "ours.car")
                a.append(ta)
                roots.add(ra)
                if have_node:
                    tb, rb = theirs(d, Path(tmp) / "theirs.car")
                    b.append(tb)
                    roots.add(rb)
            ma = statistics.median(a)
            mb_ = statistics.median(b) if b else float("nan")
            print(f"{tokens:>7} {2 * tokens:>6} {mb:>6.1f} {ma:>14.2f} {mb_:>9.2f} {mb_ / ma:>5.1f}x  "
                  f"{'yes' if len(roots) == 1 and have_node else ('no' if have_node else 'n/a (no ipfs-car)')}")
    if have_node:
        r = subprocess.run(["node", "--version"], capture_output=True, text=True)
        print(f"(ipfs-car 3.1.0 on node {r.stdout.strip()}; the root of a 1,000-token set has 1,001 entries: "
              "a HAMT-sharded directory)")


def main() -> None:
    if "--car-only" in sys.argv:
        car_bench()
        return
    t0 = time.monotonic()
    b = Bench()
    holder = b.a[1]
    sizes = (1, 10, 100)
    stride = MintingSettings().ownership_stride  # the default of config.yaml
    rows = []
    # OpenZeppelin ERC721, one mint call per token
    ref, ref_deploy = b.deploy("ReferenceERC721", b.a[0])
    ref_mint, nxt = {}, 1
    for n in sizes:
        ref_mint[n] = sum(b.tx(ref.functions.mint(holder, nxt + i)) for i in range(n))
        nxt += n
    ref_worst = b.worst_transfer(ref, holder, list(range(nxt - 100, nxt, 10)))  # every token costs the same
    rows.append(("OpenZeppelin ERC721, 1 per call", ref_deploy, ref_mint, ref_worst))
    for label, s in ((f"ERC721A, chunks of {stride} (ours)", stride), ("ERC721A, one plain batch", 10**6)):
        k, dep = b.gallery(s)
        mint, first = {}, 1
        for n in sizes:
            mint[n] = b.tx(k.functions.mintBatch(holder, first, n))
            first += n
        worst = b.worst_transfer(k, holder, list(range(first - 100, first)))
        rows.append((label, dep, mint, worst))
    print(f"{'contract':34} {'deploy':>10} {'mint 1':>9} {'mint 10':>9} {'mint 100':>10} {'% of 1/call':>11} "
          f"{'worst transfer':>15} (token of 100)")
    for label, dep, mint, (wg, wt) in rows:
        pct = 100 * mint[100] / ref_mint[100]
        print(f"{label:34} {dep:>10,} {mint[1]:>9,} {mint[10]:>9,} {mint[100]:>10,} {pct:>10.1f}% {wg:>15,} "
              f"(#{wt - 11})")
    # the trade-off: chunk size vs mint gas and worst transfer
    # Every chunk of a batch has the same layout, so the first two chunks and the last one hold the worst token.
    print("\nownership_stride sweep (set of 100; transfers of the first two chunks and the last one):")
    print(f"{'stride':>7} {'mint 100':>10} {'% of 1/call':>11} {'worst transfer':>15}  goals (<=6%, <=100,000)")
    for s in ((2, 9, 34, 100) if QUICK else (1, 2, 3, 5, 9, 16, 25, 34, 50, 100)):
        k, _ = b.gallery(s)
        g = b.tx(k.functions.mintBatch(holder, 1, 100))
        last = max(1, 100 - (100 % s or s))
        wg, _ = b.worst_transfer(k, holder, sorted(set(range(1, min(100, 2 * s) + 1)) | set(range(last, 101))))
        pct = 100 * g / ref_mint[100]
        ok = ("yes" if pct <= 6 else "no") + " / " + ("yes" if wg <= 100_000 else "no")
        print(f"{s:>7} {g:>10,} {pct:>10.1f}% {wg:>15,}  {ok}")
    print(f"\n(eth-tester {__import__('importlib').metadata.version('eth-tester')}, py-evm "
          f"{__import__('importlib').metadata.version('py-evm')}; {time.monotonic() - t0:.0f}s)")
    car_bench()


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
