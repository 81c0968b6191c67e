"""The local development chain: eth-tester on py-evm, kept under `<data_dir>/devchain/` between commands.

With `minting.rpc_url` empty, every `gallery mint …` command (and `gallery demo`) opens the same
local chain: its whole key-value state (blocks, receipts, state trie) lives in memory while the
command runs and is loaded from, and written back to, one SQLite file. Every request that changes
the state (a transaction, a mined block) is committed to the file in one SQLite transaction before
the request returns, so the chain is on disk before the catalogue's journal records a receipt; a
crash mid-commit is rolled back by SQLite (the chain is then where it was before that request, and
the journal re-sends the transaction). One command at a time holds the chain (a lock file with the
holder's pid). A damaged file is never rewritten or removed: opening it fails with what was wrong.

Chosen over a detached hardhat node: nothing to start, stop or leak (no port, no daemon), no Node.js
at run time, the state survives a reboot (a hardhat 2 node keeps its chain in memory only), and
opening it costs milliseconds (`bench/devchain.py`).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gallery.errors import BadInput, GalleryError
from minting.chain import IN_PROCESS_CHAIN_ID

log = logging.getLogger("gallery.minting")

DIRNAME = "devchain"
STATE = "chain.sqlite"
LOCK = "chain.lock"
FORMAT = "latent-gallery-devchain/1"
CHAIN_ID = IN_PROCESS_CHAIN_ID  # what eth-tester's chain reports
FUND_WEI = 100 * 10**18  # given to a user's own key on this chain when it has nothing


def state_dir(settings: Any) -> Path:
    return settings.path(DIRNAME)


class _TrackedDB:
    """py-evm's key-value store (a dict) that remembers what changed since the last commit."""

    def __init__(self, kv: dict[bytes, bytes]) -> None:
        from eth.db.backends.memory import MemoryDB

        outer = self

        class Tracked(MemoryDB):
            def __setitem__(self, key: bytes, value: bytes) -> None:
                self.kv_store[key] = value
                outer.changed.add(key)

            def __delitem__(self, key: bytes) -> None:
                del self.kv_store[key]
                outer.changed.add(key)

        self.changed: set[bytes] = set()
        self.db = Tracked(kv)

    @property
    def kv(self) -> dict[bytes, bytes]:
        return self.db.kv_store


class DevChain:
    """One command's hold on the local chain: the lock, the SQLite file, and a web3 connected to it."""

    def __init__(self, directory: Path, *, wait_s: float = 30.0) -> None:
        self.dir = Path(directory)
        self.path = self.dir / STATE
        self.wait_s = wait_s
        self.fresh = False
        self.armed = False  # commits after each request; a new chain only once armed (nothing written before)
        self._lock_fd: int | None = None
        self._sql: sqlite3.Connection | None = None
        self._db: _TrackedDB | None = None
        self.w3: Any = None
        self.dev_key: bytes = b""
        self.dev_address: str = ""

    # -- opening ----------------------------------------------------------------------------------

    def open(self) -> DevChain:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hold()
        try:
            self.path.with_name(STATE + ".new").unlink(missing_ok=True)  # a creation that never finished
            kv = self._load() if self.path.exists() else None
            self._start(kv)
        except BaseException:
            self.close()
            raise
        return self

    def hold(self) -> None:
        """Take the lock (wait up to wait_s while another command holds it); released by close()."""
        fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
            if time.monotonic() > deadline:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise GalleryError(f"the local dev chain {self.dir} is held by another gallery command "
                                   f"(pid {pid}) for more than {self.wait_s:.0f} s; try again when it ends")
            time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _damaged(self, why: str) -> GalleryError:
        return GalleryError(
            f"the local dev chain state {self.path} is damaged ({why}); it was left untouched. Restore it from a "
            f"copy, or run `gallery mint chain reset --yes` to start a new local chain (the damaged file is kept "
            f"aside, renamed; the catalogue's mint records of the local chain are forgotten)")

    def _load(self) -> dict[bytes, bytes]:
        try:
            # no URI mode=ro: a hot journal left by a crash mid-commit must be rolled back by SQLite
            con = sqlite3.connect(self.path, isolation_level=None, timeout=self.wait_s)
        except sqlite3.Error as e:
            raise self._damaged(str(e)) from None
        try:
            meta = dict(con.execute("SELECT key, value FROM meta"))
            if meta.get("format") != FORMAT:
                raise self._damaged(f"format {meta.get('format')!r}, expected {FORMAT!r}")
            kv = dict(con.execute("SELECT k, v FROM kv"))
            if not kv:
                raise self._damaged("it holds no chain")
            if str(len(kv)) != meta.get("entries"):
                raise self._damaged(f"{len(kv)} entries, the file says {meta.get('entries')}")
            bad = con.execute("PRAGMA quick_check").fetchone()[0]
            if bad != "ok":
                raise self._damaged(f"SQLite quick_check: {bad}")
        except sqlite3.Error as e:
            con.close()
            raise self._damaged(str(e)) from None
        except BaseException:
            con.close()
            raise
        self._sql = con
        return kv

    def _start(self, kv: dict[bytes, bytes] | None) -> None:
        from eth.db.atomic import AtomicDB
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import Web3

        backend = PyEVMBackend()
        if kv is None:  # a new chain: its genesis is written on the first commit
            self.fresh = True
            kv = dict(backend.chain.chaindb.db.wrapped_db.kv_store)
            self._db = _TrackedDB(kv)
            self._db.changed.update(kv)
        else:
            self._db = _TrackedDB(kv)
            self.armed = True
        backend.chain = type(backend.chain)(AtomicDB(self._db.db))
        key = backend.account_keys[0]
        self.dev_key = key.to_bytes()
        self.dev_address = Web3.to_checksum_address(key.public_key.to_canonical_address())
        self.w3 = Web3(_provider(EthereumTester(backend), self._after))
        if int(self.w3.eth.chain_id) != CHAIN_ID:
            raise GalleryError(f"the local dev chain reports chain id {self.w3.eth.chain_id}, expected {CHAIN_ID}")

    # -- committing -------------------------------------------------------------------------------

    def arm(self) -> None:
        """From now on every change is committed (a new chain's file is written now)."""
        self.armed = True
        self.commit()

    def _after(self) -> None:
        if self.armed:
            self.commit()

    def commit(self) -> int:
        """Write what changed since the last commit, in one SQLite transaction; returns the entries written."""
        db = self._db
        if db is None or not db.changed:
            return 0
        if self._sql is None:  # a new chain: the whole file is written aside, then renamed into place
            tmp = self.path.with_name(STATE + ".new")
            tmp.unlink(missing_ok=True)
            con = sqlite3.connect(tmp, isolation_level=None)
            con.executescript("PRAGMA journal_mode=DELETE;"
                              "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
                              "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;")
            con.execute("BEGIN")
            con.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("chain_id", str(CHAIN_ID)),
                                                             ("entries", str(len(db.kv)))])
            con.executemany("INSERT INTO kv VALUES (?, ?)", db.kv.items())
            con.execute("COMMIT")
            con.close()
            _fsync(tmp)
            os.replace(tmp, self.path)  # the file appears whole or not at all
            _fsync(self.dir)
            self._sql = sqlite3.connect(self.path, isolation_level=None)
            n = len(db.changed)
            db.changed.clear()
            return n
        con = self._sql
        con.execute("PRAGMA synchronous=FULL")
        keys = list(db.changed)
        put = [(k, db.kv[k]) for k in keys if k in db.kv]
        gone = [(k,) for k in keys if k not in db.kv]
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", put)
            con.executemany("DELETE FROM kv WHERE k = ?", gone)
            con.execute("UPDATE meta SET value = ? WHERE key = 'entries'", (str(len(db.kv)),))
            con.execute("COMMIT")
        except sqlite3.Error as e:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise GalleryError(f"cannot write the local dev chain state {self.path}: {e}") from None
        db.changed.difference_update(keys)
        return len(keys)

    # -- closing ----------------------------------------------------------------------------------

    def close(self) -> None:
        if self._sql is not None:
            self._sql.close()
            self._sql = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
        self.w3 = None
        self._db = None

    def __enter__(self) -> DevChain:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- facts ------------------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        w3 = self.w3
        return {"path": str(self.path), "exists": self.path.exists(),
                "bytes": self.path.stat().st_size if self.path.exists() else 0,
                "chain_id": int(w3.eth.chain_id), "block": int(w3.eth.block_number),
                "genesis": w3.eth.get_block(0)["hash"].hex(), "entries": len(self._db.kv),
                "dev_account": self.dev_address, "dev_balance_eth": w3.eth.get_balance(self.dev_address) / 1e18}


def _provider(tester: Any, after: Any) -> Any:
    """eth-tester's web3 provider that commits the chain after every request that changed it."""
    from web3 import EthereumTesterProvider

    class Saving(EthereumTesterProvider):
        def make_request(self, method: Any, params: Any) -> Any:
            try:
                return super().make_request(method, params)
            finally:
                after()

    return Saving(tester)


def _fsync(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def holder(directory: Path) -> str | None:
    """The pid written by the command holding the chain now (None when free)."""
    p = Path(directory) / LOCK
    if not p.exists():
        return None
    fd = os.open(p, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def backups(directory: Path) -> Iterator[Path]:
    yield from sorted(Path(directory).glob(STATE + ".reset-*"))


def check_local(settings: Any) -> None:
    """minting.rpc_url empty means the local dev chain: its chain id must be the configured one."""
    if settings.minting.chain_id != CHAIN_ID:
        raise BadInput(f"minting.rpc_url is empty (the local dev chain, chain id {CHAIN_ID}) but minting.chain_id "
                       f"is {settings.minting.chain_id}; set rpc_url to that chain's endpoint, or chain_id to "
                       f"{CHAIN_ID}; refusing to sign")
