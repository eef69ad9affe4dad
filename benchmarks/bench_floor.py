"""The floor under `sk.sql`'s cost on TPC-H: what a process boundary and a durable audit append
cost by themselves, against raw DuckDB and `sk.sql`, alternating in one run.

    python benchmarks/bench_floor.py [--scale 0.1] [--repeats 9] [--queries q01 q17]

Per query, in rotating order:

- ``raw``: ``con.sql(q).to_arrow_table()`` on a read-only connection in this process (the
  baseline of bench_tpch.py, the same threads and memory limit as the engine's);
- ``trip``: the same call in a bare child process (no sandbox, no binder check, no
  fingerprint), the SQL sent and the table sent back over a socket pair in the engine
  worker's own framing (``Channel``, ``frame``): the least a second process costs;
- ``trip+audit``: ``trip``, then one audit record (drafted ahead, as ``sk.sql`` keeps a
  query's draft) sealed and written to a log opened as `Skipper` opens it (written before
  returning, fsynced by the group commit): what ``sk.sql`` must do after the result and
  before answering;
- ``trip+fp+audit``: that, the child also taking the v2 fingerprint of every row before
  sending them (``sk.sql`` must: replay compares it): the floor with both guarantees that
  cost by the row or by the answer, without the guard, binder check and annotation;
- ``skipper``: ``sk.sql(q)`` with its defaults.

Printed: per-query medians, then the geometric means of each over raw (and the paired
medians: each run over the raw run of its round). ``trip+fp+audit`` over raw is the floor a
sandboxed, fingerprinted, audited answer cannot go below on this machine with this design.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_tpch import CATALOG, TODAY, geometric_mean, load_queries, tpch_database  # noqa: E402

from skipper import Skipper  # noqa: E402
from skipper.app import AUDIT_FSYNC_WINDOW_S  # noqa: E402
from skipper.audit import AuditDraft, AuditLog, hash_sql  # noqa: E402
from skipper.engine._worker import Channel, frame, unframe  # noqa: E402
from skipper.fingerprint import fingerprint_rows  # noqa: E402

VARIANTS = ("raw", "trip", "trip+audit", "trip+fp+audit", "skipper")
#: Marks a request whose rows the bare child fingerprints before sending them.
FINGERPRINTED = "-- fingerprint\n"


def child(fd: int, database: str, threads: int, memory_limit: str) -> None:
    """The bare child: run each SQL text it is sent and send the table back."""
    channel = Channel(socket.socket(fileno=fd))
    con = duckdb.connect(database, read_only=True,
                         config={"threads": threads, "memory_limit": memory_limit})
    channel.send(b"ready")
    while True:
        try:
            sql = bytes(channel.receive()).decode()
        except (EOFError, OSError):
            return
        hashed = sql.startswith(FINGERPRINTED)
        table = con.sql(sql.removeprefix(FINGERPRINTED)).to_arrow_table()
        header: dict[str, Any] = {"ok": True}
        if hashed:
            header["result_hash"], header["result_hash_kind"] = fingerprint_rows(table)
        channel.send(frame(header, table))


class BareChild:
    """A child process holding one plain DuckDB connection; ``run`` is one round trip."""

    def __init__(self, database: Path, threads: int, memory_limit: str) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child", str(theirs.fileno()), str(database),
             str(threads), memory_limit], pass_fds=(theirs.fileno(),))
        theirs.close()
        self.channel = Channel(ours)
        assert bytes(self.channel.receive()) == b"ready"

    def run(self, sql: str, *, fingerprint: bool = False) -> pa.Table:
        self.channel.send(((FINGERPRINTED if fingerprint else "") + sql).encode())
        _, table = unframe(self.channel.receive())
        assert table is not None
        return table

    def close(self) -> None:
        self.channel.close()
        self.process.wait(timeout=10)


def record_fields(sql: str) -> dict[str, Any]:
    """An audit record of the size `sk.sql` writes for a TPC-H query, but its outcome."""
    return {"user": None, "sql": sql, "sql_hash": hash_sql(sql), "catalog_version": "c" * 64,
            "engine": {"name": "duckdb", "version": duckdb.__version__,
                       "mask_salt_id": "m" * 16},
            "tables": ["lineitem", "orders"],
            "columns": {"lineitem": ["l_orderkey", "l_extendedprice"],
                        "orders": ["o_orderkey"]},
            "result_hash_kind": "rows.unordered.v2", "outcome": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--queries", nargs="+", default=None, metavar="QNN")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # the bare child's side
    args = parser.parse_args()
    if args.child:
        fd, database, threads, memory_limit = args.child
        child(int(fd), database, int(threads), memory_limit)
        return
    queries = load_queries(args.queries)
    database = tpch_database(args.scale)
    with tempfile.TemporaryDirectory(prefix="skipper-bench-floor-") as workdir, \
            Skipper(CATALOG, database, today=TODAY,
                    audit_log=Path(workdir) / "audit.jsonl") as skipper:
        engine: Any = skipper.engine
        config = {"threads": engine.threads, "memory_limit": engine.memory_limit}
        bare = BareChild(database, engine.threads, engine.memory_limit)
        log = AuditLog(Path(workdir) / "floor.jsonl", fsync_window_s=AUDIT_FSYNC_WINDOW_S)
        print(f"database {database}; DuckDB {duckdb.__version__} with {config}; "
              f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        with duckdb.connect(str(database), read_only=True, config=config) as raw:
            drafts: dict[str, AuditDraft] = {}

            def trip_audit(sql: str, fingerprint: bool = False) -> None:
                # The record drafted once per text and copied (as sk.sql keeps a query's
                # draft), then sealed and written after the answer: the commit is what must
                # follow the result, and precede the answer.
                if sql not in drafts:
                    drafts[sql] = log.prepare(**record_fields(sql))
                draft = drafts[sql].again()
                table = bare.run(sql, fingerprint=fingerprint)
                log.commit(draft, row_count=table.num_rows, truncated=False,
                           result_hash="r" * 16 + "." + "h" * 32, duration_ms=1.0)

            runners: dict[str, Callable[[str], object]] = {
                "raw": lambda sql: raw.sql(sql).to_arrow_table(),
                "trip": bare.run,
                "trip+audit": trip_audit,
                "trip+fp+audit": lambda sql: trip_audit(sql, fingerprint=True),
                "skipper": skipper.sql,
            }
            medians: dict[str, dict[str, float]] = {}
            paired: dict[str, dict[str, float]] = {}
            for name, sql in queries.items():
                for run in runners.values():
                    run(sql)  # warm every side
                samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
                ratios: dict[str, list[float]] = {variant: [] for variant in VARIANTS[1:]}
                for repeat in range(args.repeats):
                    # raw first each time (the pairing), the others rotated
                    others = list(VARIANTS[1:])
                    turn = repeat % len(others)
                    others = others[turn:] + others[:turn]
                    for variant in ("raw", *others):
                        started = time.perf_counter()
                        runners[variant](sql)
                        samples[variant].append(time.perf_counter() - started)
                    for variant in VARIANTS[1:]:
                        ratios[variant].append(samples[variant][-1] / samples["raw"][-1])
                medians[name] = {v: statistics.median(s) * 1000 for v, s in samples.items()}
                paired[name] = {v: statistics.median(r) for v, r in ratios.items()}
        bare.close()
        log.close()
    print(f"\nTPC-H sf{args.scale:g}, median of {args.repeats} runs per query (ms)")
    print(f"{'query':6}" + "".join(f"{v:>14}" for v in VARIANTS))
    for name, row in medians.items():
        print(f"{name:6}" + "".join(f"{row[v]:14.2f}" for v in VARIANTS))
    for variant in VARIANTS[1:]:
        ratio = geometric_mean([row[variant] / row["raw"] for row in medians.values()])
        pair = geometric_mean([row[variant] for row in paired.values()])
        added = statistics.median(row[variant] - row["raw"] for row in medians.values())
        total = sum(r[variant] for r in medians.values()) / sum(r["raw"] for r in medians.values())
        print(f"{variant:13} over raw: geometric mean {ratio:.3f}, paired {pair:.3f}, "
              f"total {total:.3f}; median added {added:.2f} ms")


if __name__ == "__main__":
    main()
