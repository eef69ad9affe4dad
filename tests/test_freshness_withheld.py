"""A row-filtered reader sees a table's SLA status, never its last data point: that is measured
over every row, so it could come from rows the reader's filter hides."""

from __future__ import annotations

from skipper import Skipper


def test_filtered_reader_sees_sla_status_only(skipper_on_demo: Skipper) -> None:
    sql = "SELECT count(*) AS n FROM support_tickets"
    everyone = skipper_on_demo.sql(sql, user="ana")
    filtered = skipper_on_demo.sql(sql, user="sue")
    full, limited = everyone.freshness["support_tickets"], filtered.freshness["support_tickets"]
    assert full.last is not None and not full.withheld
    assert limited.withheld and limited.last is None and limited.lag is None
    assert limited.stale == full.stale and limited.sla == full.sla
    last = full.last.isoformat()
    assert not any(last in caveat for caveat in filtered.caveats)
    record = skipper_on_demo.audit.get(filtered.audit_id)
    assert record.freshness["support_tickets"]["last"] is None
    assert record.freshness["support_tickets"]["withheld"] is True
    assert last not in record.model_dump_json()


def test_a_stale_filtered_table_says_so_without_a_date(skipper_on_demo: Skipper) -> None:
    answer = skipper_on_demo.sql("SELECT count(*) FROM accounts", user="sue")
    figure = answer.freshness["accounts"]
    assert figure.withheld
    caveats = [c for c in answer.caveats if c.startswith("accounts is older")]
    assert bool(caveats) == figure.stale
    if figure.stale:
        assert "row filter" in caveats[0]
