"""The example notebook runs top to bottom in a real kernel, and its HTML shows the answer."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("altair")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebook.ipynb"


def outputs(cell: Any, mime: str) -> list[str]:
    found = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if mime in data:
            value = data[mime]
            found.append(value if isinstance(value, str) else str(value))
    return found


def test_example_notebook_runs_and_shows_table_caveats_and_sql(
    demo_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    (home / "demo").mkdir(parents=True)
    shutil.copy(demo_database, home / "demo" / "town_lake.duckdb")  # the lake Skipper.demo() uses
    monkeypatch.setenv("SKIPPER_HOME", str(home))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    code = [c for c in notebook.cells if c.cell_type == "code"]
    [answer_html] = outputs(code[1], "text/html")
    assert "<table" in answer_html and "<th>requests</th>" in answer_html
    assert "30 rows (showing 20)" in answer_html
    assert 'class="sk-caveats"' in answer_html and "1% sample" in answer_html
    assert "<details><summary>SQL</summary>" in answer_html
    assert "http_requests_sampled" in answer_html
    assert "audit id: <code>" in answer_html
    assert outputs(code[2], "application/vnd.vegalite.v5+json") or \
        outputs(code[2], "text/html")  # the Altair chart
    png = (tmp_path / "daily_requests.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert outputs(code[3], "image/png")
    [thread] = outputs(code[6], "text/html")
    assert thread.index("Q: tickets by priority") < thread.index("Q: now by status")
    assert outputs(code[7], "text/plain") == ["True"]  # the replay matches
