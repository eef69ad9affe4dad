"""Loading a large catalog: `Catalog.load` against reading the same YAML alone, same run.

    python benchmarks/bench_catalog.py [--tables 500 2000] [--columns 10] [--repeats 3]

For each size it writes a catalog of that many tables (each with ``--columns`` columns, a
description and a relationship), then times `Catalog.load` (YAML with line numbers, pydantic
models, cross-checks, every SQL snippet parsed) and, as the baseline, PyYAML's own `safe_load`
of the same file. The ratio should stay flat as the catalog grows: loading is linear in its size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import median_ms  # noqa: E402

from skipper.catalog import Catalog  # noqa: E402


def write_catalog(directory: Path, tables: int, columns: int) -> Path:
    lines = ["tables:"]
    for t in range(tables):
        lines += [f"  - name: t{t}", f"    description: generated table {t}",
                  "    primary_key: [c0]", "    columns:"]
        lines += [f"      - {{name: c{c}, type: BIGINT, description: column {c}}}"
                  for c in range(columns)]
        if t:
            lines += ["    relationships:",
                      f"      - {{table: t{t - 1}, on: t{t}.c1 = t{t - 1}.c0, "
                      "cardinality: many_to_one}"]
    path = directory / f"catalog_{tables}"
    path.mkdir(parents=True, exist_ok=True)
    (path / "tables.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="skipper-bench-catalog-"))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    print(f"{'tables':>7} {'lines':>8} {'yaml only s':>12} {'Catalog.load s':>15} {'ratio':>6}")
    for tables in args.tables:
        path = write_catalog(workdir, tables, args.columns)
        text = (path / "tables.yaml").read_text(encoding="utf-8")
        baseline = median_ms(lambda text=text: yaml.load(text, Loader=loader), args.repeats) / 1000
        loaded = median_ms(lambda path=path: Catalog.load(path), args.repeats) / 1000
        print(f"{tables:>7} {text.count(chr(10)):>8} {baseline:>12.3f} {loaded:>15.3f} "
              f"{loaded / baseline:>6.1f}")


if __name__ == "__main__":
    main()
