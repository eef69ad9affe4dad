"""What one principal may read: visible tables and columns, masks, row filters, a catalog view."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock

import sqlglot
from sqlglot import exp
from sqlglot.schema import MappingSchema

from skipper.catalog import Catalog, Table
from skipper.catalog.models import Classification, Group
from skipper.errors import PolicyError
from skipper.identifiers import fold
from skipper.policy.principal import CatalogResolver, GroupResolver, Principal

SALT_ENV = "SKIPPER_POLICY_SALT"
USER_PLACEHOLDERS = ("user_name", "user_email")


@dataclass(frozen=True)
class Visibility:
    """What planners may show a user: tables, their visible columns, which of them are masked."""

    tables: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    masked: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def can_see(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(fold(table))
        if cols is None:
            return False
        return column is None or fold(column) in cols


@dataclass
class TablePolicy:
    """How one table reads for one principal: hidden columns, masks and a row filter."""

    table: Table
    """The table as this principal sees it (hidden columns left out)."""
    groups: tuple[str, ...]
    masks: dict[str, Classification] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    row_filter: exp.Expr | None = None
    filter_groups: tuple[str, ...] = ()

    @property
    def rewrites(self) -> bool:
        """Whether references to this table are replaced by a policy subquery."""
        return bool(self.masks or self.hidden or self.row_filter is not None)


@dataclass
class Access:
    """One principal's access: the guard checks queries against ``catalog`` (a view holding only
    what the principal may read, so a forbidden table fails exactly like a nonexistent one)."""

    principal: Principal
    governed: bool
    tables: dict[str, TablePolicy]
    catalog: Catalog
    schema: MappingSchema
    key: str

    def table_policy(self, name: str) -> TablePolicy | None:
        return self.tables.get(fold(name))

    @property
    def rewrites(self) -> bool:
        return any(policy.rewrites for policy in self.tables.values())

    def visibility(self) -> Visibility:
        return Visibility(
            tables=tuple(p.table.name for p in self.tables.values()),
            columns={
                k: tuple(fold(c.name) for c in p.table.columns) for k, p in self.tables.items()
            },
            masked={k: tuple(sorted(p.masks)) for k, p in self.tables.items() if p.masks},
        )


ACCESS_CACHE_SIZE = 1024  # principals whose access is kept worked out


class Policy:
    """Resolves users and works out their access from the catalog's grants, masks and filters.

    Governance is active once the catalog declares users or groups. Until then every user
    (and ``user=None``) reads every reviewed table unmasked, as a catalog made by
    ``skipper catalog init`` expects. Once active, ``user=None`` runs as the catalog's
    ``default_user`` (refused when there is none) and an unknown user reads nothing.

    ``salt`` (else $SKIPPER_POLICY_SALT, else random per Policy) is the ``hash`` mask's secret.
    The guard never writes it into SQL: the engine defines the salted hash function with it
    (``Skipper`` hands it to the DuckDB engine it builds).
    """

    def __init__(self, catalog: Catalog, *, resolver: GroupResolver | None = None,
                 salt: str | None = None, dialect: str | None = None) -> None:
        self.catalog = catalog
        self.dialect = dialect or catalog.dialect
        self.resolver: GroupResolver = resolver or CatalogResolver(catalog)
        self.salt = salt or os.environ.get(SALT_ENV) or secrets.token_hex(16)
        # Bounded: names are self-asserted, so a stream of made-up users must not grow it.
        self._cache: OrderedDict[tuple[object, ...], Access] = OrderedDict()
        self._lock = Lock()

    def principal(self, user: str | None) -> Principal:
        """Who ``user`` is; a PolicyError when governance is on and nobody is named."""
        if not self.catalog.governed:
            return Principal(name=user)
        if user is None:
            if self.catalog.default_user is None:
                raise PolicyError(
                    "this catalog governs access: say which user is asking (user=... or --user)",
                    code="policy.user_required",
                )
            user = self.catalog.default_user
        found = self.resolver.resolve(user)
        return found if found is not None else Principal(name=user, known=False)

    def access(self, user: str | None) -> Access:
        return self.access_for(self.principal(user))

    def access_for(self, principal: Principal) -> Access:
        """The access of an already resolved principal (built once per principal, then cached)."""
        key = (principal.name, principal.email, principal.groups, principal.known)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        built = self._build(principal)
        with self._lock:
            self._cache[key] = built
            while len(self._cache) > ACCESS_CACHE_SIZE:
                self._cache.popitem(last=False)
        return built

    # ---- building ------------------------------------------------------------------------
    def _build(self, principal: Principal) -> Access:
        governed = self.catalog.governed
        groups = [g for g in (self.catalog.find_group(n) for n in principal.groups) if g]
        tables: dict[str, TablePolicy] = {}
        for table in self.catalog.tables:
            if not table.reviewed:
                continue
            if not governed:
                tables[fold(table.name)] = TablePolicy(table=table, groups=())
                continue
            policy = self._table_policy(table, groups, principal)
            if policy is not None:
                tables[fold(table.name)] = policy
        view = _view(self.catalog, tables)
        schema = MappingSchema(dict(view.schema()), dialect=self.dialect, normalize=True)
        blob = repr(sorted(
            (k, [c.name for c in p.table.columns], sorted(p.masks),
             p.row_filter.sql() if p.row_filter is not None else "")
            for k, p in tables.items()
        ))
        return Access(principal=principal, governed=governed, tables=tables, catalog=view,
                      schema=schema,
                      key=hashlib.sha256(blob.encode()).hexdigest()[:16])

    def _table_policy(self, table: Table, groups: list[Group],
                      principal: Principal) -> TablePolicy | None:
        lowered = fold(table.name)
        granting = [
            g for g in groups if "*" in g.tables or lowered in {fold(t) for t in g.tables}
        ]
        if not granting:
            return None
        unmasked = {fold(name) for g in granting for name in g.unmask}
        masks: dict[str, Classification] = {}
        hidden: list[str] = []
        for column in table.columns:
            if column.classification is None or "*" in unmasked:
                continue
            if fold(column.classification) in unmasked:
                continue
            classification = self.catalog.find_classification(
                column.classification
            ) or Classification.model_validate({"name": column.classification})
            if classification.mask == "deny":
                hidden.append(column.name)
            else:
                masks[column.name] = classification
        row_filter, filter_groups = self._row_filter(lowered, granting, principal)
        visible = table if not hidden else table.model_copy(
            update={"columns": [c for c in table.columns if c.name not in hidden]}
        )
        return TablePolicy(table=visible, groups=tuple(g.name for g in granting), masks=masks,
                           hidden=tuple(hidden), row_filter=row_filter,
                           filter_groups=filter_groups)

    def _row_filter(self, table: str, granting: list[Group],
                    principal: Principal) -> tuple[exp.Expr | None, tuple[str, ...]]:
        """A group that grants the table without a filter sees every row; otherwise the rows
        any granting group may see (OR of each group's filters, AND within a group)."""
        per_group: list[exp.Expr] = []
        names: list[str] = []
        for group in granting:
            own = [f for f in group.row_filters if fold(f.table) == table]
            if not own:
                return None, ()
            predicates = [self._predicate(f.where, principal) for f in own]
            per_group.append(exp.and_(*predicates) if len(predicates) > 1 else predicates[0])
            names.append(group.name)
        combined = exp.or_(*per_group) if len(per_group) > 1 else per_group[0]
        return combined, tuple(names)

    def _predicate(self, where: str, principal: Principal) -> exp.Expr:
        values = {"user_name": principal.name, "user_email": principal.email}

        def substitute(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Placeholder):
                name = str(node.name).lower()
                if name not in values:
                    raise PolicyError(f"row filter placeholder :{node.name} is not one of "
                                      + ", ".join(f":{p}" for p in USER_PLACEHOLDERS),
                                      code="policy.bad_row_filter")
                value = values[name]
                return exp.Null() if value is None else exp.Literal.string(value)
            return node

        def pin(node: exp.Expr) -> exp.Expr:
            # A schema-qualified name binds to the stored table, never to a user's CTE.
            if isinstance(node, exp.Table) and not node.args.get("db"):
                table = self.catalog.find_table(node.name)
                if table is not None:
                    node.set("db", exp.to_identifier(table.db_schema))
            return node

        tree = sqlglot.parse_one(where, read=self.dialect).transform(substitute).transform(pin)
        return exp.paren(tree, copy=False)


def _view(catalog: Catalog, tables: dict[str, TablePolicy]) -> Catalog:
    """The catalog as one principal sees it (the catalog itself when everything is visible)."""
    if len(tables) == len(catalog.tables) and all(not p.hidden for p in tables.values()):
        return catalog
    return catalog.restricted([p.table for p in tables.values()])
