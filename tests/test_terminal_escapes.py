"""No terminal surface obeys text it shows: SQL, data, names and messages carrying ESC, CR, NUL,
C1 or bidirectional controls come out as visible escapes, and data is never rich markup.

Every test runs the real CLI in a subprocess and reads its raw bytes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import duckdb
import pytest

from skipper.audit import AuditLog
from skipper.text import visible

ROOT = Path(__file__).resolve().parents[1]
EVAL_FIXTURES = ROOT / "tests" / "fixtures" / "evals"
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

#: (SQL expression building the value, what the terminal must show for it)
VALUES = {
    "title": ("chr(27) || ']0;pwned' || chr(7)", "\\x1b]0;pwned\\x07"),
    "clear": ("chr(27) || '[2J' || chr(27) || '[H'", "\\x1b[2J\\x1b[H"),
    "overwrite": ("'DROP TABLE' || chr(13) || 'SELECT 1  '", "DROP TABLE\\rSELECT 1"),
    "nul": ("'a' || chr(0) || 'b'", "a\\x00b"),
    "backspace": ("'rm' || chr(8) || chr(8) || 'ok'", "rm\\x08\\x08ok"),
    "del and c1": ("'x' || chr(127) || chr(155) || '2J'", "x\\x7f\\x9b2J"),
    "bidi": ("'admin' || chr(8238) || 'resu' || chr(8294) || 'x' || chr(8297)",
             "admin\\u202eresu\\u2066x\\u2069"),
    "markup": ("'[bold]loud[/] [/x]'", "[bold]loud[/] [/x]"),
    "newline in a cell": ("'one' || chr(10) || 'two'", "one\\ntwo"),
}


def raw_controls(data: bytes) -> list[str]:
    """What in ``data`` a terminal would obey: controls but newline, bidi, undecodable bytes."""
    text = data.decode("utf-8")  # strict: output is UTF-8
    return sorted({c for c in text if (unicodedata.category(c) == "Cc" and c != "\n")
                   or c in BIDI or unicodedata.category(c) == "Cs"})


def run_cli(*args: str | bytes, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "250", "SKIPPER_HOME": str(home), "TERM": "xterm-256color"}
    return subprocess.run([sys.executable, "-m", "skipper.cli", *args], capture_output=True,
                          env=env, cwd=ROOT, timeout=120)


def shown(done: subprocess.CompletedProcess[bytes]) -> str:
    """stdout and stderr as text, after checking neither carries a raw control character."""
    assert raw_controls(done.stdout) == [], done.stdout
    assert raw_controls(done.stderr) == [], done.stderr
    assert b"Traceback" not in done.stderr and b"MarkupError" not in done.stderr
    return done.stdout.decode() + done.stderr.decode()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real database and its catalog (the eval suite's shop)."""
    folder = tmp_path_factory.mktemp("shop")
    with duckdb.connect(str(folder / "shop.duckdb")) as con:
        con.execute((EVAL_FIXTURES / "shop.sql").read_text())
    (folder / "catalog").mkdir()
    (folder / "catalog" / "shop.yaml").write_text(
        (EVAL_FIXTURES / "catalog" / "shop.yaml").read_text())
    return folder


def data_args(shop: Path, tmp_path: Path) -> list[str]:
    return ["--catalog", str(shop / "catalog"), "--database", str(shop / "shop.duckdb"),
            "--audit-log", str(tmp_path / "audit.jsonl")]


# ---- the rule ----------------------------------------------------------------------------

@pytest.mark.parametrize("char", [chr(c) for c in (*range(0x20), *range(0x7f, 0xa0))]
                         + sorted(BIDI) + ["\ud800", "\udcff", "\ufeff", "\u2028"])
def test_visible_escapes_every_control_bidi_and_surrogate(char: str) -> None:
    one_line = visible(f"a{char}b", multiline=False)
    assert one_line.isprintable() and one_line.startswith("a\\") and one_line.endswith("b")
    assert visible(one_line, multiline=False) == one_line  # idempotent
    if char not in "\n\t":
        assert visible(f"a{char}b") == one_line


def test_visible_leaves_text_alone() -> None:
    for text in ("SELECT 'Zürich', '東京', 'مرحبا' -- ok\n  FROM t", "a\\x1b", "🚢 \u200d"):
        assert visible(text) == text
    assert visible("a\nb", multiline=False) == "a\\nb"


def test_the_console_escapes_what_was_built_elsewhere() -> None:
    from rich.table import Table
    from rich.text import Text

    from skipper.cli.output import SafeConsole, styled

    out = io.StringIO()
    console = SafeConsole(file=out, width=80)
    table = Table("a")
    table.add_row(Text("x\x1b[2Jy", style="bold"))
    console.print(table)
    console.print("[bold]z\x1b]0;t\x07[/]")
    console.print(styled("[bold]{}[/]", "[/x]\x9b"))
    printed = out.getvalue()
    assert "\x1b" not in printed and "\x9b" not in printed
    # measured before it was made visible, the cell is cut, but visibly (rich's ellipsis)
    assert "x\\x1" in printed and "[bold]z\\x1b]0;t\\x07[/]" in printed
    assert "[/x]\\x9b" in printed


# ---- skipper sql: rows, SQL, --json --------------------------------------------------------

def test_sql_rows_and_sql_show_control_characters(shop: Path, tmp_path: Path) -> None:
    select = ", ".join(f'{expr} AS "{name}"' for name, (expr, _) in VALUES.items())
    done = run_cli("sql", f"SELECT {select}", *data_args(shop, tmp_path), home=tmp_path)
    assert done.returncode == 0, done.stderr
    text = shown(done)
    for name, (_, want) in VALUES.items():
        assert want in text, name
    assert "[bold]loud[/]" in text  # markup in data is text


def test_sql_with_bidi_in_the_query_shows_it(shop: Path, tmp_path: Path) -> None:
    # The bidi override is accepted (it is text) but shown where it sits, header and SQL.
    done = run_cli("sql", "SELECT name AS \"is\u202eadmin\" FROM customers -- \u2066x\u2069",
                   *data_args(shop, tmp_path), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "is\\u202eadmin" in shown(done)


def test_sql_json_is_valid_json_with_no_raw_control(shop: Path, tmp_path: Path) -> None:
    select = ", ".join(f'{expr} AS "{name}"' for name, (expr, _) in VALUES.items())
    done = run_cli("sql", f"SELECT {select}", *data_args(shop, tmp_path), "--json",
                   home=tmp_path)
    shown(done)
    payload = json.loads(done.stdout)
    assert payload["columns"] == list(VALUES)
    row = payload["rows"][0]
    assert row[0] == "\x1b]0;pwned\x07" and row[3] == "a\x00b" and "\u202e" in row[6]


def test_markup_in_an_error_message_is_text(shop: Path, tmp_path: Path) -> None:
    for sql in ('SELECT * FROM "[/x]"', "SELECT * FROM \"[bold]x\u202e\""):
        done = run_cli("sql", sql, *data_args(shop, tmp_path), home=tmp_path)
        assert done.returncode == 2
        text = shown(done)
        assert "[/x]" in text or "[bold]x\\u202e" in text


def test_ask_echoes_the_question_visibly(shop: Path, tmp_path: Path) -> None:
    done = run_cli("ask", "frobnicate \x1b]0;pwned\x07 [/x] widgets",
                   *data_args(shop, tmp_path), home=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "'frobnicate'" in shown(done)  # the words it did not understand, no raw ESC
    done = run_cli("ask", "frobnicate \x1b[2J", *data_args(shop, tmp_path), "--json",
                   home=tmp_path)
    shown(done)
    assert json.loads(done.stdout)["question"] == "frobnicate \x1b[2J"


# ---- skipper audit list / show / verify ------------------------------------------------------

@pytest.fixture()
def odd_log(tmp_path: Path) -> AuditLog:
    folder = tmp_path / "[red] logs"
    folder.mkdir()
    audit = AuditLog(folder / "audit.jsonl")
    audit.append(user="ana\x1b[2J", question="q\x1b]0;pwned\x07",
                 sql="SELECT 1 -- \x1b[2J\rSELECT 'harmless'\u202e\x00", outcome="ok",
                 row_count=1, duration_ms=1.0)
    audit.append(user="bob", sql="DROP TABLE x\x1b[8m hidden", outcome="refused",
                 error={"code": "sql.not_read_only", "message": "no \x1b[31m[/x]\x9b"})
    return audit


def test_audit_show_list_verify_show_what_the_record_holds(odd_log: AuditLog,
                                                           tmp_path: Path) -> None:
    first, second = odd_log.records()
    log = str(odd_log.path)
    text = shown(run_cli("audit", "show", first.id, "--log", log, home=tmp_path))
    assert "ana\\x1b[2J" in text and "q\\x1b]0;pwned\\x07" in text
    assert "SELECT 1 -- \\x1b[2J\\rSELECT 'harmless'\\u202e\\x00" in text
    text = shown(run_cli("audit", "show", second.id, "--log", log, home=tmp_path))
    assert "no \\x1b[31m[/x]\\x9b" in text and "DROP TABLE x\\x1b[8m hidden" in text
    text = shown(run_cli("audit", "list", "--log", log, home=tmp_path))
    assert "ana\\x1b[2J" in text and "\\x1b[2J SELECT" in text  # one line: \r is a space
    done = run_cli("audit", "verify", "--log", log, home=tmp_path)
    assert done.returncode == 0 and "[red] logs" in shown(done)
    payload = json.loads(run_cli("audit", "show", first.id, "--log", log, "--json",
                                 home=tmp_path).stdout)
    assert payload["sql"] == first.sql


# ---- skipper catalog and skipper eval --------------------------------------------------------

def test_catalog_check_error_echoes_names_visibly(shop: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    text = (shop / "catalog" / "shop.yaml").read_text()
    (catalog / "shop.yaml").write_text(
        text.replace('"orders.customer_id = customers.id"',
                     '"orders.customer_id = \\e]0;pwned\\a[/x] customers.id"'))
    done = run_cli("catalog", "check", str(catalog), home=tmp_path)
    assert done.returncode == 1
    assert "\\x1b]0;pwned" in shown(done)


def test_eval_report_shows_ids_and_errors_visibly(shop: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text((EVAL_FIXTURES / "shop_cases.yaml").read_text()
                     .replace("database: shop.duckdb", f"database: {shop / 'shop.duckdb'}")
                     .replace("catalog: catalog", f"catalog: {shop / 'catalog'}"))
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({
        "same": 'SELECT * FROM "[/x]\u202e"',
        "lost-rows": "SELECT chr(27) || ']0;pwned' || chr(7) AS name",
        "stray\x1b[2J[/x]": "SELECT 1",
    }))
    done = run_cli("eval", "run", str(cases), "--predictions", str(predictions),
                   "--case", "same", "--case", "lost-rows", home=tmp_path)
    text = shown(done)
    assert "stray\\x1b[2J[/x]" in text and "[/x]\\u202e" in text
