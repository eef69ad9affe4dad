"""The front door: `Skipper` wires catalog -> guard -> engine -> annotation -> audit."""

from __future__ import annotations

import functools
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from skipper.annotate import Lineage, annotate, bound_lineage
from skipper.answer import Answer
from skipper.audit import AuditLog, AuditRecord, hash_result
from skipper.catalog import Catalog
from skipper.chart import column_labels
from skipper.clock import Clock, FixedClock, SystemClock
from skipper.engine import Engine, Result
from skipper.errors import (
    ConfigError,
    EngineError,
    GuardError,
    InvalidTextError,
    LLMError,
    SkipperError,
    TooComplexError,
    UncheckableError,
)
from skipper.fingerprint import fingerprint_rows
from skipper.freshness import FreshnessMonitor, TableFreshness
from skipper.guard import Guard, GuardedQuery
from skipper.policy import Policy, Visibility
from skipper.text import check_text

if TYPE_CHECKING:
    from skipper.annotate import Annotation
    from skipper.audit import AuditDraft
    from skipper.catalog.models import VerifiedQuery
    from skipper.engine.relations import Allowed, Relation
    from skipper.llm import ChatClient, LLMConfig, LLMPlanner, VerifiedQueries
    from skipper.llm.retrieval import Visibility as LLMVisibility
    from skipper.planner import CatalogPlanner, Plan, SemanticQuery
    from skipper.session import Session


#: Audit records reach the OS before an answer returns and are fsynced in groups within this
#: window; pass ``audit_log=AuditLog(path)`` to fsync every record before answering instead.
AUDIT_FSYNC_WINDOW_S = 0.05
#: How many distinct queries' audit drafts (and column labels) `Skipper.sql` keeps.
DRAFT_CACHE_SIZE = 256


def skipper_home() -> Path:
    """Where Skipper keeps its own files (the demo lake): $SKIPPER_HOME or ~/.skipper."""
    return Path(os.environ.get("SKIPPER_HOME") or Path.home() / ".skipper")


def default_demo_database() -> Path:
    return skipper_home() / "demo" / "town_lake.duckdb"


DEFAULT_DEMO_DATABASE = default_demo_database()


Verdict = Literal["identical", "different_rows", "different_order", "different_columns",
                  "cannot_replay"]


@dataclass
class ReplayResult:
    """A re-run of an audited query and what it found, compared by fingerprint:

    - ``identical``: the same columns and the same rows (in the same order when the query's
      ORDER BY fixes it), every row counted, not only those the answer kept;
    - ``different_columns``: the columns' names or types changed;
    - ``different_rows``: the rows changed (``recorded_row_count`` and ``row_count`` say how
      many each side has; the fingerprint cannot say which rows);
    - ``different_order``: the same rows in another order, for a query with an ORDER BY (ties
      in the ORDER BY may come back in any order);
    - ``cannot_replay``: it could not run or be compared (``reason``, and ``code`` for an
      error): a table or column is gone, the user may no longer read it, the hash mask's salt
      is not the one the record was made with.
    """

    record: AuditRecord
    verdict: Verdict
    result_hash: str | None
    row_count: int | None
    answer: Answer | None
    reason: str | None = None
    code: str | None = None

    @property
    def matches(self) -> bool:
        """True exactly when the verdict is ``identical``."""
        return self.verdict == "identical"

    @property
    def recorded_row_count(self) -> int:
        return self.record.row_count


class Skipper:
    """Answers SQL (and, with a planner, questions) over one catalog and one database.

    Every part comes in through the constructor, so tests and deployments can swap the engine,
    the clock or the audit store without globals.
    """

    def __init__(
        self,
        catalog: str | Path | Catalog,
        database: str | Path,
        *,
        max_rows: int = 1000,
        timeout_s: float = 30.0,
        user: str | None = None,
        today: date | str | None = None,
        audit_log: str | Path | AuditLog | None = None,
        engine: Engine | None = None,
        clock: Clock | None = None,
        isolation: Literal["process", "thread"] = "process",
        llm: LLMConfig | ChatClient | LLMPlanner | bool | None = None,
        policy: Policy | None = None,
    ) -> None:
        """``llm``: the LLM planner's model. ``None`` reads SKIPPER_MODEL, OPENAI_API_KEY and
        OPENAI_BASE_URL when first needed (no SKIPPER_MODEL: no LLM); ``False`` turns it off."""
        if max_rows < 1:
            raise ConfigError("max_rows must be at least 1")
        if timeout_s <= 0:
            raise ConfigError("timeout_s must be positive")
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
        self.database = Path(database)
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self.user = user
        self._llm_option = llm
        if clock is None:
            clock = FixedClock(today) if today is not None else SystemClock()
        self.clock = clock
        if engine is None:
            from skipper.engine.duckdb import DuckDBEngine

            # The hash mask's salt lives in the engine, never in the SQL the guard writes.
            policy = policy or Policy(self.catalog, dialect=DuckDBEngine.dialect)
            engine = DuckDBEngine(self.database, isolation=isolation, mask_salt=policy.salt)
        self.engine = engine
        self._planners: dict[str, CatalogPlanner] = {}
        self._drafts: dict[tuple[Any, ...], tuple[tuple[Any, ...], AuditDraft]] = {}
        self._column_labels: dict[tuple[Any, ...], dict[str, str]] = {}
        # DuckDB names an opened file by its stem, so `lake.accounts` is this database's table.
        self.guard = Guard(self.catalog, dialect=engine.dialect, database=self.database.stem,
                           policy=policy)
        self.freshness = FreshnessMonitor(self.catalog, self.engine, self.clock)
        if isinstance(audit_log, AuditLog):
            self.audit = audit_log
        else:
            path = Path(audit_log) if audit_log else self.database.with_name(
                self.database.name + ".audit.jsonl"
            )
            # Audit times are wall-clock times even when `today` is pinned for the data.
            self.audit = AuditLog(path, fsync_window_s=AUDIT_FSYNC_WINDOW_S)

    # ---- construction helpers ----------------------------------------------------------
    @classmethod
    def demo(
        cls,
        database: str | Path | None = None,
        as_of: date | str | None = None,
        *,
        scale: int = 1,
        user: str | None = None,
        **options: Any,
    ) -> Skipper:
        """Skipper on the bundled Town Lake demo, building the lake at ``database`` if missing.

        The demo is frozen at its as-of day: ``today`` is that day, so freshness reads as built.
        """
        from skipper.demo import build_demo, bundled_catalog_path, demo_as_of

        path = Path(database) if database is not None else default_demo_database()
        wanted = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        built = demo_as_of(path) if path.exists() else None
        if built is None or (wanted is not None and built != wanted):
            path.parent.mkdir(parents=True, exist_ok=True)
            built = build_demo(path, as_of=wanted or SystemClock().today(), scale=scale).as_of
        options.setdefault("today", built)
        return cls(bundled_catalog_path(), path, user=user, **options)

    def close(self) -> None:
        self.engine.close()
        self.audit.flush()

    def __enter__(self) -> Skipper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the SQL path ------------------------------------------------------------------
    def sql(
        self,
        text: str,
        user: str | None = None,
        *,
        question: str | None = None,
        planner: str | None = None,
        semantic_query: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> Answer:
        """Guard, run, annotate and audit one SQL text. Raises a SkipperError on refusal.

        ``extra`` goes into the audit record's ``extra`` (the LLM planner's usage)."""
        user = self._user(user)
        started = time.perf_counter()
        context = {"user": user, "question": question, "planner": planner}
        try:
            check_text(text, "sql")
            check_text(question, "question")
            check_text(user, "user")
            guarded = self.guard.check(text, user=user)
        except GuardError as error:
            self._audit_failure(text, error, "refused", context, started)
            raise
        try:
            guarded = self._pin_pivot_values(guarded)
        except SkipperError as error:
            self._audit_failure(guarded.sql, error, "refused" if isinstance(error, GuardError)
                                else "error", context, started, guarded)
            raise
        guarded_at = time.perf_counter()
        # Measured (or read from its cache) before the query starts: the engine runs one
        # query at a time, and a measurement is a query.
        freshness = self._freshness(guarded, user)
        # A text the engine bound before reads what it read then (checked against this run's
        # plan below): the annotation and the audit record are drafted now, while this
        # process is warm, rather than while the worker runs the query (the two would share
        # the cores) or after the wait (on these machines Python runs several times slower
        # right after a wait of a few milliseconds).
        allowed = guarded.allowed
        expected = self._expected_relations(guarded.sql, allowed)
        drafted = None
        if expected is not None:
            drafted = self._draft(guarded, text, expected, freshness, context, extra)
        try:
            with self.engine.submit(guarded.sql, max_rows=self.max_rows,
                                    timeout_s=self.timeout_s,
                                    allowed=allowed,
                                    ordered=guarded.ordered) as pending:
                relations = expected
                if drafted is None:
                    # The relations the bound plan reads came before the query ran (the
                    # second wall): draft while the worker runs it.
                    relations = pending.relations
                    drafted = self._draft(guarded, text, relations, freshness, context, extra)
                prepared_at = time.perf_counter()
                result = pending.result()
            annotation, draft = drafted
            if result.relations is not None and result.relations != relations:
                annotation, draft = self._draft(guarded, text, result.relations, freshness,
                                                context, extra)
        except GuardError as error:  # the engine's second wall refused it
            self._audit_failure(guarded.sql, error, "refused", context, started, guarded)
            raise
        except EngineError as error:
            self._audit_failure(guarded.sql, error, "error", context, started, guarded)
            raise
        executed_at = time.perf_counter()
        record = self.audit.commit(
            draft,
            row_count=result.row_count,
            truncated=result.truncated,
            **_fingerprint(result, guarded.ordered),
            duration_ms=round((executed_at - started) * 1000, 3),
        )
        answer = self._answer(guarded, result, annotation, context, semantic_query)
        answer.audit_id = record.id
        answer.timings = _timings(started, guarded_at, prepared_at, executed_at,
                                  time.perf_counter(), result)
        return answer

    def _answer(self, guarded: GuardedQuery, result: Result, annotation: Annotation,
                context: dict[str, Any], semantic_query: Any) -> Answer:
        """The answer to ``result`` (its audit id and timings come once its record is written)."""
        caveats = list(annotation.caveats)
        if result.truncated:
            limit = (f"the engine's byte limit, {result.table.nbytes:,} bytes kept"
                     if result.truncated_by == "bytes" else f"max_rows={self.max_rows:,}")
            caveats.append(
                f"Showing the first {result.table.num_rows:,} of {result.row_count:,} rows "
                f"({limit})."
            )
        answer = Answer(
            sql=guarded.sql,
            table=result.table,
            row_count=result.row_count,
            truncated=result.truncated,
            lineage=annotation.lineage,
            caveats=caveats,
            freshness=annotation.freshness,
            sampling=annotation.sampling,
            audit_id="",
            timings={},
            user=context["user"],
            question=context["question"],
            planner=context["planner"],
            semantic_query=semantic_query,
        )
        answer.labels = self._labels(answer)
        return answer

    def _labels(self, answer: Answer) -> dict[str, str]:
        """``column_labels`` of the answer, kept by its columns and the tables it read (a
        question's labels depend on its semantic query too: those are not kept)."""
        if answer.semantic_query is not None:
            return column_labels(answer, self.catalog)
        key = (self.catalog.version, tuple(answer.table.column_names), tuple(answer.tables))
        labels = self._column_labels.get(key)
        if labels is None:
            labels = column_labels(answer, self.catalog)
            if len(self._column_labels) >= DRAFT_CACHE_SIZE:
                self._column_labels.clear()
            self._column_labels[key] = labels
        return dict(labels)

    def _expected_relations(self, sql: str, allowed: Allowed) -> list[Relation] | None:
        """What the engine's bound plan read the last time it ran this text (None: unknown)."""
        expected = getattr(self.engine, "expected_relations", None)
        if expected is None:
            return None
        found: list[Relation] | None = expected(sql, allowed)
        return found

    def _draft(self, guarded: GuardedQuery, text: str, relations: list[Relation] | None,
               freshness: dict[str, TableFreshness], context: dict[str, Any],
               extra: dict[str, Any] | None) -> tuple[Annotation, AuditDraft]:
        """The answer's annotation and its audit record, all but the outcome, from the
        relations the engine's bound plan reads (the guard's reading when it gives none)."""
        bound = bound_lineage(self.catalog, guarded, relations)
        annotation = annotate(self.catalog, bound.tables, bound.columns, freshness)
        user = context["user"]
        effective_user = self._effective_user(user)
        submitted = text if guarded.policies else None

        def prepare() -> AuditDraft:
            return self.audit.prepare(
                user=user,
                effective_user=effective_user,
                question=context["question"],
                planner=context["planner"],
                sql=guarded.sql,
                catalog_version=self.catalog.version,
                engine=self.engine_identity,
                tables=bound.tables,
                columns=bound.columns,
                freshness={name: f.to_dict() for name, f in annotation.freshness.items()},
                outcome="ok",
                groups=guarded.groups,
                policies=guarded.policies,
                extra={**({"rewrites": guarded.rewrites} if guarded.rewrites else {}),
                       **({"relations": bound.relations} if bound.relations else {}),
                       # A policy rewrite calls engine-only functions: replay re-guards it.
                       **({"submitted_sql": submitted} if submitted is not None else {}),
                       **(extra or {})},
            )

        if extra:
            return annotation, prepare()
        # The same query asked again drafts the same record: serialize it once. The key holds
        # what hashes; the rest of what goes into the record is compared on a hit.
        key = (guarded.sql, submitted, user, effective_user, context["question"],
               context["planner"], self.catalog.version, tuple(bound.tables),
               tuple(bound.relations), tuple(annotation.freshness.items()))
        rest = (bound.columns, guarded.groups, guarded.policies, guarded.rewrites)
        cached = self._drafts.get(key)
        if cached is not None and cached[0] == rest:
            return annotation, cached[1].again()
        draft = prepare()
        if len(self._drafts) >= DRAFT_CACHE_SIZE:
            self._drafts.clear()
        self._drafts[key] = (rest, draft)
        return annotation, draft.again()

    def _pin_pivot_values(self, guarded: GuardedQuery) -> GuardedQuery:
        """Name the values of every PIVOT without an IN list (DuckDB would look them up in a
        hidden query the engine cannot check ahead), each with a query of its own through the
        engine's second wall, over the same governed source."""
        from skipper.guard.pivot_values import MAX_PIVOT_VALUES, pin, unpinned

        if "PIVOT" not in guarded.sql.upper():
            return guarded
        tree = guarded.tree
        slots = unpinned(tree)
        if not slots:
            return guarded
        for slot in slots:
            query = slot.query().sql(dialect=self.engine.dialect)
            values = self.engine.execute(query, max_rows=MAX_PIVOT_VALUES,
                                         timeout_s=self.timeout_s, allowed=guarded.allowed)
            if values.truncated:
                raise TooComplexError(
                    f"a PIVOT column has more than {MAX_PIVOT_VALUES:,} values; name the ones "
                    "you want with ON column IN (...)")
            if not values.row_count:
                raise UncheckableError(
                    "a PIVOT's ON column has no values in the rows it reads, so DuckDB would "
                    "decide its columns in a hidden query; name them: ON column IN ('a', 'b')")
            pin(slot, [str(v) for v in values.table.column(0).to_pylist()])
        return guarded.rewritten(tree, "named the values of each PIVOT without an IN list",
                                 self.engine.dialect)

    def _freshness(self, guarded: GuardedQuery, user: str | None) -> dict[str, TableFreshness]:
        """Freshness of the tables read, as ``user`` may see it: for a table a row filter limits,
        the SLA status without the last data point (it is measured over every row)."""
        measured = self.freshness.check(guarded.tables)
        if not guarded.policies:
            return measured
        access = self.guard.policy.access(user)
        for name, figure in measured.items():
            policy = access.table_policy(name)
            if policy is not None and policy.row_filter is not None:
                measured[name] = figure.withhold()
        return measured

    def _audit_failure(
        self,
        sql: str,
        error: SkipperError,
        outcome: str,
        context: dict[str, Any],
        started: float,
        guarded: GuardedQuery | None = None,
    ) -> None:
        self.audit.append(
            **context,
            effective_user=self._effective_user(context["user"]),
            engine=self.engine_identity,
            groups=guarded.groups if guarded else self._groups(context["user"]),
            sql=sql,
            catalog_version=self.catalog.version,
            tables=guarded.tables if guarded else [],
            columns=guarded.columns if guarded else {},
            policies=guarded.policies if guarded else [],
            row_count=0,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            outcome=outcome,
            error={"code": error.code, "message": error.message},
        )

    def visible(self, user: str | None = None) -> Visibility:
        """The tables and columns ``user`` may read (planners offer nothing else)."""
        return self.guard.policy.access(self._user(user)).visibility()

    def planner_for(self, user: str | None) -> CatalogPlanner:
        """The catalog planner over what ``user`` may see (its vocabulary leaves the rest out)."""
        from skipper.planner import CatalogPlanner

        try:
            view = self.guard.policy.access(self._user(user)).catalog
        except SkipperError:
            return self.planner  # the guard refuses (and audits) whatever it plans
        if view is self.catalog:
            return self.planner
        key = f"{view.version}:{id(view)}"
        if key not in self._planners:
            self._planners[key] = CatalogPlanner(view, self.clock, self._column_values)
        return self._planners[key]

    @functools.cached_property
    def _column_values(self) -> dict[tuple[str, str], list[str]]:
        """Distinct values of the catalog's text columns, read once (skipper.planner.values)."""
        from skipper.planner.values import read_values

        def run(sql: str) -> list[tuple[object]]:
            result = self.engine.execute(sql, max_rows=20_000, timeout_s=5)
            columns = [result.table.column(i).to_pylist() for i in range(result.table.num_columns)]
            return list(zip(*columns, strict=True))

        return read_values(self.catalog, run)

    def _llm_visibility(self, user: str | None) -> LLMVisibility:
        from skipper.llm.retrieval import Visibility as LLMVisibility

        try:
            access = self.guard.policy.access(self._user(user))
        except SkipperError:
            return LLMVisibility.of([])
        if access.catalog is self.catalog:
            return LLMVisibility()
        return LLMVisibility.of(access.tables, {k: p.hidden for k, p in access.tables.items()})

    def _user(self, user: str | None) -> str | None:
        """Who asks: the given user, else the one this Skipper was built for."""
        return user if user is not None else self.user

    def _effective_user(self, user: str | None) -> str | None:
        """Whom the policy runs ``user``'s queries as (its ``default_user`` for None)."""
        try:
            return self.guard.policy.principal(user).name
        except SkipperError:
            return None

    @functools.cached_property
    def engine_identity(self) -> dict[str, Any]:
        """The engine as audit records name it: its dialect, release and (an id of, never)
        the hash mask's salt, so a replay can tell when masked values cannot match."""
        salt = self.guard.policy.salt
        return {"name": self.engine.dialect, "version": getattr(self.engine, "version", None),
                "mask_salt_id": hashlib.sha256(b"skipper.mask-salt-id\n" + salt.encode(
                    "utf-8", "backslashreplace")).hexdigest()[:16]}

    def _groups(self, user: str | None) -> list[str]:
        try:
            return list(self.guard.policy.principal(user).groups)
        except SkipperError:
            return []

    # ---- the question path -------------------------------------------------------------
    @functools.cached_property
    def planner(self) -> CatalogPlanner:
        """The offline catalog planner (built once: it indexes the catalog's vocabulary)."""
        from skipper.planner import CatalogPlanner

        return CatalogPlanner(self.catalog, self.clock, self._column_values)

    def ask(
        self,
        question: str,
        user: str | None = None,
        *,
        planner: str = "auto",
        previous: SemanticQuery | None = None,
    ) -> Answer:
        """Answer a plain-English question. ``planner``: ``"catalog"`` (offline), ``"llm"`` (the
        configured model; ConfigError if none) or ``"auto"`` (the catalog planner, then the model
        when it cannot answer and one is configured). Never raises for a question it cannot map: the
        Answer's ``status`` is then ``"cannot_answer"`` with the words it did not understand
        and the closest catalog terms. Refusals of the SQL itself still raise."""
        if planner not in {"auto", "catalog", "llm"}:
            raise ConfigError(f"unknown planner {planner!r}; use 'auto', 'catalog' or 'llm'",
                              code="config.unknown_planner")
        user = self._user(user)
        started = time.perf_counter()
        try:
            check_text(question, "question")
            check_text(user, "user")
        except InvalidTextError as error:
            self.audit.append(
                user=user, question=question, planner=planner, sql="",
                catalog_version=self.catalog.version, outcome="refused",
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                error={"code": error.code, "message": error.message})
            raise
        if planner == "llm":
            return self._ask_llm(question, user, previous, started)
        remembered = self.memory.plan(question) if previous is None else None
        plan = remembered or self.planner_for(user).plan(question, previous=previous)
        planned = time.perf_counter()
        if plan.status == "ok" and plan.semantic_query is not None:
            plan = self._covered(plan, user)
        if plan.status != "ok" or plan.sql is None:
            if planner == "auto" and self.llm_planner is not None:
                return self._ask_llm(question, user, previous, started, fallback=plan)
            return self._cannot_answer(plan, user, started)
        return self._run_plan(plan, question, user, started, planned)

    def _covered(self, plan: Plan, user: str | None) -> Plan:
        """Decline a period the data holds nothing for; say when it holds only part of it.
        Skipped for a user a row filter limits on the table (the span is measured over every
        row)."""
        from skipper import coverage

        access = self.guard.policy.access(user)

        def span(table: str, column: str) -> tuple[date, date] | None:
            policy = access.table_policy(table)
            found = self.catalog.find_table(table)
            if found is None or (policy is not None and policy.row_filter is not None):
                return None
            return self.freshness.span(found, column)

        assert plan.semantic_query is not None
        checked = coverage.check(plan.semantic_query, self.planner.terms, self.clock.today(),
                                 span)
        if checked.refusal is not None:
            return plan.model_copy(update={"status": "cannot_answer", "sql": None,
                                           "message": checked.refusal})
        if checked.notes:
            reading = " ".join([plan.interpretation or "", *checked.notes]).strip()
            return plan.model_copy(update={"interpretation": reading})
        return plan

    # ---- the LLM planner and remembered answers ------------------------------------------
    @functools.cached_property
    def llm_planner(self) -> LLMPlanner | None:
        """The LLM planner, or None when no model is configured (see ``llm`` above)."""
        from skipper.llm import build_planner

        return build_planner(self._llm_option, self.catalog, self.clock, self.planner,
                             examples=self.memory.all())

    @functools.cached_property
    def memory(self) -> VerifiedQueries:
        """Remembered question→SQL pairs: ``<database>.verified.yaml`` beside the audit log."""
        from skipper.llm.memory import VerifiedQueries

        return VerifiedQueries(self.audit.path.with_name(self.database.name + ".verified.yaml"))

    def remember(self, question: str, sql: str, user: str | None = None) -> VerifiedQuery:
        """Keep ``sql`` as the verified answer to ``question`` once the guard accepts it and it
        runs (raises otherwise). Planners answer that exact question with it from now on, and
        the LLM planner shows it as an example for similar ones."""
        if not question.strip():
            raise ConfigError("remember needs a question to file the SQL under",
                              code="memory.no_question")
        self.sql(sql, user=user, question=question, planner="remember")
        entry = self.memory.add(question, sql, verified_by=self._user(user))
        if "llm_planner" in self.__dict__ and self.llm_planner is not None:
            self.llm_planner.remember(self.memory.all())
        return entry

    def _ask_llm(
        self,
        question: str,
        user: str | None,
        previous: SemanticQuery | None,
        started: float,
        fallback: Plan | None = None,
    ) -> Answer:
        """Plan with the model; its run_sql and describe_table queries go through ``sql()``,
        so they are guarded and audited like any other query (planner ``llm.<tool>``)."""
        from skipper.llm.config import NOT_CONFIGURED

        llm = self.llm_planner
        if llm is None:
            raise ConfigError(NOT_CONFIGURED, code="config.llm_missing")

        def run(sql: str, tool: str) -> Answer:
            return self.sql(sql, user=user, question=question, planner=f"llm.{tool}")

        try:
            result = llm.plan(question, run=run, user=user, previous=previous,
                              visibility=self._llm_visibility(user))
        except LLMError as error:
            usage = {"llm": error.details.get("llm", {})}
            if fallback is None:
                self.audit.append(
                    user=user, question=question, planner="llm", sql="",
                    catalog_version=self.catalog.version, outcome="error",
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    error={"code": error.code, "message": error.message}, extra=usage)
                raise
            message = (f"{fallback.message} The LLM planner could not answer either "
                       f"({error.code}: {error.message})").strip()
            return self._cannot_answer(fallback.model_copy(update={"message": message}), user,
                                       started, extra=usage)
        plan, usage = result.plan, {"llm": result.stats.to_dict()}
        planned = time.perf_counter()
        if plan.status != "ok" or plan.sql is None:
            return self._cannot_answer(plan, user, started, extra=usage)
        return self._run_plan(plan, question, user, started, planned, extra=usage)

    def _run_plan(
        self, plan: Plan, question: str, user: str | None, started: float, planned: float,
        extra: dict[str, Any] | None = None,
    ) -> Answer:
        """Run a planner's SQL through ``sql()`` and say in words what it found."""
        assert plan.sql is not None
        answer = self.sql(plan.sql, user=user, question=question, planner=plan.planner,
                          semantic_query=plan.semantic_query, extra=extra)
        answer.summary = self.planner.summarize(plan, answer.columns, answer.rows,
                                                answer.row_count)
        answer.message = plan.message or None
        answer.interpretation = plan.interpretation
        answer.timings = {"plan_ms": round((planned - started) * 1000, 3), **answer.timings}
        return answer

    def session(self, user: str | None = None) -> Session:
        """A conversation: each question may refine the previous one ("now by region")."""
        from skipper.session import Session

        return Session(self, user=user)

    def _cannot_answer(
        self, plan: Plan, user: str | None, started: float, extra: dict[str, Any] | None = None
    ) -> Answer:
        message = plan.message or "The question cannot be answered from the catalog."
        clarify = plan.status == "needs_clarification"
        record = self.audit.append(
            user=user, question=plan.question, planner=plan.planner, sql="",
            catalog_version=self.catalog.version, tables=[], columns={},
            row_count=0, duration_ms=round((time.perf_counter() - started) * 1000, 3),
            outcome="refused",
            error={"code": "planner.needs_clarification" if clarify else "planner.cannot_answer",
                   "message": message},
            extra={"unknown_words": plan.unknown_words, "suggestions": plan.suggestions,
                   **({"choices": plan.choices} if clarify else {}), **(extra or {})},
        )
        return Answer(
            sql="", table=pa.table({}), row_count=0, truncated=False,
            lineage=Lineage(tables=[], columns={}), caveats=[], freshness={}, sampling=[],
            audit_id=record.id,
            timings={"total_ms": round((time.perf_counter() - started) * 1000, 3)},
            user=user, status="needs_clarification" if clarify else "cannot_answer",
            question=plan.question, planner=plan.planner,
            message=message, suggestions=list(plan.suggestions),
            unknown_words=list(plan.unknown_words), choices=list(plan.choices),
        )

    def replay(self, audit_id: str) -> ReplayResult:
        """Re-run an audited query's exact SQL (as the same user) and compare its result with
        the record's fingerprint; see :class:`ReplayResult` for the verdicts. The re-run is
        audited too (planner ``replay``). Raises only for a record that is missing or that
        did not run."""
        record = self.audit.get(audit_id)
        if record.outcome != "ok":
            raise ConfigError(
                f"audit record {audit_id} is a {record.outcome} record; only executed queries "
                "can be replayed",
                code="audit.not_replayable",
            )
        salt_then = (record.engine or {}).get("mask_salt_id")
        if salt_then not in (None, self.engine_identity["mask_salt_id"]) and any(
                isinstance(p, dict) and p.get("mask") == "hash" for p in record.policies):
            return ReplayResult(
                record=record, verdict="cannot_replay", result_hash=None, row_count=None,
                answer=None, code="audit.salt_differs",
                reason="the query shows hash-masked columns and the mask's salt is not the one "
                       "the record was made with, so masked values cannot match: set "
                       "SKIPPER_POLICY_SALT to the deployment's salt (see `skipper audit "
                       "keygen`)")
        try:
            answer = self.sql(record.extra.get("submitted_sql") or record.sql,
                              user=record.user, question=record.question, planner="replay")
        except SkipperError as error:
            return ReplayResult(record=record, verdict="cannot_replay", result_hash=None,
                                row_count=None, answer=None, code=error.code,
                                reason=f"the query no longer runs: {error.message}")
        if record.result_hash_kind is None:
            # A record from before v2: its hash covers the rows it kept, in their order.
            digest, kind = hash_result(answer.table), None
        else:
            rerun = self.audit.get(answer.audit_id)
            digest, kind = rerun.result_hash or "", rerun.result_hash_kind
        verdict, reason = _compare(record, digest, kind, answer.row_count)
        return ReplayResult(record=record, verdict=verdict, result_hash=digest,
                            row_count=answer.row_count, answer=answer, reason=reason)


def _fingerprint(result: Result, ordered: bool) -> dict[str, Any]:
    """The record's ``result_hash`` and its kind: the engine's fingerprint of every row; from
    an engine that gives none, the v2 fingerprint of the rows it kept (``.kept`` in the kind
    when some were left out); an engine's hash without a kind is taken as v1 (kind None)."""
    if result.result_hash is not None:
        return {"result_hash": result.result_hash, "result_hash_kind": result.result_hash_kind}
    digest, kind = fingerprint_rows(result.table, ordered=ordered)
    return {"result_hash": digest,
            "result_hash_kind": kind + ".kept" if result.truncated else kind}


def _compare(record: AuditRecord, digest: str, kind: str | None,
             row_count: int) -> tuple[Verdict, str | None]:
    """The verdict of a replay whose result has fingerprint ``digest`` of ``kind``."""
    if record.result_hash_kind is None:
        same = digest == record.result_hash and row_count == record.row_count
        return ("identical" if same else "different_rows",
                "the record predates v2 fingerprints: compared the rows kept, in order")
    if kind != record.result_hash_kind:
        return "cannot_replay", (f"the record's fingerprint is {record.result_hash_kind}, the "
                                 f"replay's {kind}: they cannot be compared")
    then = (record.result_hash or "").split(".")
    now = digest.split(".")
    if then[0] != now[0]:
        return "different_columns", "the columns' names or types changed"
    if then[1:2] != now[1:2] or row_count != record.row_count:
        return "different_rows", (f"{record.row_count:,} rows then, {row_count:,} now"
                                  if row_count != record.row_count else
                                  f"the same number of rows ({row_count:,}), different values")
    if then != now:
        return "different_order", "the same rows in another order"
    return "identical", None


def _timings(
    started: float, guarded: float, prepared: float, executed: float, finished: float,
    result: Result,
) -> dict[str, float]:
    """Where the time went. ``annotate_ms`` (annotation and the audit draft, before the query
    is sent or while the engine runs it) is inside ``execute_ms``; ``audit_ms`` is sealing
    and writing the record, and making the answer."""
    return {
        "guard_ms": round((guarded - started) * 1000, 3),
        "execute_ms": round((executed - guarded) * 1000, 3),
        "engine_ms": round(result.duration_s * 1000, 3),
        "annotate_ms": round((prepared - guarded) * 1000, 3),
        "audit_ms": round((finished - executed) * 1000, 3),
        "total_ms": round((finished - started) * 1000, 3),
    }
