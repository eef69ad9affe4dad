"""Charts chosen from the result's shape, titled from catalog labels, saved offline."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("altair")
pytest.importorskip("vl_convert")

from skipper.chart import chart, chart_kind, column_labels, save_chart  # noqa: E402
from skipper.errors import ConfigError  # noqa: E402


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk of every valid PNG)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])  # type: ignore[return-value]


def test_one_category_and_a_measure_is_a_bar_chart_sorted_by_value(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("tickets by priority", user="ana")
    spec = chart(answer, skipper_on_demo.catalog).to_dict()  # type: ignore[union-attr]
    assert spec["mark"]["type"] == "bar"
    assert spec["title"] == "Tickets by priority"
    assert spec["encoding"]["y"]["field"] == "priority"
    assert spec["encoding"]["y"]["sort"] == "-x"
    assert spec["encoding"]["x"]["title"] == "Tickets"
    values = spec["data"]["values"]
    assert [v["tickets"] for v in values] == sorted((v["tickets"] for v in values), reverse=True)


def test_a_time_column_is_a_line_titled_from_catalog_labels(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("daily requests last 30 days", user="ana")
    assert chart_kind(answer) == ("line", "day", "requests", None)
    spec = chart(answer, skipper_on_demo.catalog).to_dict()  # type: ignore[union-attr]
    assert spec["mark"]["type"] == "line"
    assert spec["encoding"]["x"]["type"] == "temporal"
    assert spec["title"] == "Estimated requests by day, last 30 days"
    assert spec["encoding"]["y"]["title"] == "Estimated requests"
    assert len(spec["data"]["values"]) == 30


def test_time_and_a_category_is_one_line_per_category(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("daily requests by region last 7 days", user="ana")
    spec = chart(answer, skipper_on_demo.catalog).to_dict()  # type: ignore[union-attr]
    assert spec["encoding"]["color"]["field"] == "region"
    assert spec["encoding"]["color"]["title"] == "Region"


def test_a_single_value_has_no_chart(skipper_on_demo: Any, tmp_path: Path) -> None:
    answer = skipper_on_demo.ask("how many tickets", user="ana")
    assert answer.chart() is None
    with pytest.raises(ConfigError) as raised:
        answer.save_chart(tmp_path / "x.png")
    assert raised.value.code == "chart.none"


def test_two_categories_have_no_chart(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("tickets by priority and status", user="ana")
    assert chart(answer) is None


def test_labels_without_a_catalog_are_the_column_names_in_words(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.sql("SELECT category AS ticket_category, count(*) AS n "
                                 "FROM support_tickets GROUP BY 1", user="ana")
    assert column_labels(answer) == {"ticket_category": "Ticket category", "n": "N"}
    assert column_labels(answer, skipper_on_demo.catalog)["ticket_category"] == "Ticket category"
    spec = answer.chart().to_dict()
    assert spec["title"] == "N by ticket category"


def test_save_chart_png_and_svg_offline(skipper_on_demo: Any, tmp_path: Path) -> None:
    answer = skipper_on_demo.ask("tickets by priority", user="ana")
    png = save_chart(answer, tmp_path / "tickets.png", skipper_on_demo.catalog)
    width, height = png_size(png.read_bytes())
    assert width > 300 and height > 100
    svg = answer.save_chart(tmp_path / "tickets.svg", skipper_on_demo.catalog)
    text = svg.read_text()
    assert text.startswith("<svg") and "Tickets by priority" in text
    with pytest.raises(ConfigError) as raised:
        answer.save_chart(tmp_path / "tickets.gif")
    assert raised.value.code == "chart.format"


def test_labels_an_answer_carries_title_its_chart(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("tickets by priority", user="ana")
    answer.labels = {"tickets": "Support tickets", "priority": "Priority"}
    assert answer.chart().to_dict()["title"] == "Support tickets by priority"
