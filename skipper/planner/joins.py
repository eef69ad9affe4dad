"""Join paths over the catalog's declared relationships: the shortest one, or a refusal."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.errors import AmbiguousJoinError, NoJoinPathError

_TO_MANY = {"one_to_many", "many_to_many"}
_FROM_MANY = {"many_to_one", "many_to_many"}


@dataclass(frozen=True)
class Edge:
    """One step of a join path, in the direction it is walked."""

    source: str
    target: str
    on: exp.Expr
    to_many: bool  # one ``source`` row can match several ``target`` rows

    def describe(self) -> str:
        return f"{self.source} -> {self.target} on {self.on.sql()}"


class JoinGraph:
    """The catalog's tables as nodes and its relationships as edges, walkable both ways."""

    def __init__(self, catalog: Catalog) -> None:
        self._edges: dict[str, list[Edge]] = {t.name.lower(): [] for t in catalog.tables}
        self._searches: dict[str, tuple[dict[str, int], dict[str, int],
                                        dict[str, list[Edge]]]] = {}
        seen: set[tuple[frozenset[str], str]] = set()
        for table in catalog.tables:
            for rel in table.relationships:
                on = sqlglot.parse_one(rel.on, read=catalog.dialect)
                key = (frozenset({table.name.lower(), rel.table.lower()}), _canonical(on))
                if key in seen:
                    continue
                seen.add(key)
                here, there = table.name.lower(), rel.table.lower()
                declared = catalog.find_table(rel.table)
                target = declared.name if declared is not None else rel.table
                self._edges[here].append(
                    Edge(table.name, target, on, rel.cardinality in _TO_MANY)
                )
                self._edges.setdefault(there, []).append(
                    Edge(target, table.name, on, rel.cardinality in _FROM_MANY)
                )

    def path(self, start: str, goal: str) -> list[Edge]:
        """The unique shortest path of edges from ``start`` to ``goal``.

        Raises NoJoinPathError when nothing connects them and AmbiguousJoinError when two paths
        are equally short: picking one silently could change the answer.
        """
        source, target = start.lower(), goal.lower()
        if source == target:
            return []
        distance, ways, came_by = self._search(source)
        if target not in distance:
            raise NoJoinPathError(
                f"no relationships in the catalog connect {start} to {goal}; "
                "declare one under the table's `relationships`",
                source=start, target=goal,
            )
        if ways[target] > 1:
            options = self._alternatives(came_by, source, target)
            raise AmbiguousJoinError(
                f"{start} and {goal} are connected by {ways[target]} equally short join paths "
                f"({'; '.join(options)}); Skipper will not choose one for you. Remove or rename "
                "one relationship in the catalog, or ask via a table that settles it.",
                source=start, target=goal, paths=options,
            )
        path: list[Edge] = []
        node = target
        while node != source:
            edge = came_by[node][0]
            path.append(edge)
            node = edge.source.lower()
        return list(reversed(path))

    def _search(
        self, source: str
    ) -> tuple[dict[str, int], dict[str, int], dict[str, list[Edge]]]:
        """Breadth-first search from ``source``, kept: the graph never changes, and a planner
        asks for paths from the same few metric tables to many others."""
        found = self._searches.get(source)
        if found is not None:
            return found
        distance = {source: 0}
        ways = {source: 1}
        came_by: dict[str, list[Edge]] = {}
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for edge in self._edges.get(node, []):
                nxt = edge.target.lower()
                if nxt not in distance:
                    distance[nxt] = distance[node] + 1
                    ways[nxt] = ways[node]
                    came_by[nxt] = [edge]
                    queue.append(nxt)
                elif distance[nxt] == distance[node] + 1:
                    ways[nxt] += ways[node]
                    came_by[nxt].append(edge)
        if len(self._searches) < 4096:
            self._searches[source] = (distance, ways, came_by)
        return distance, ways, came_by

    @staticmethod
    def _alternatives(came_by: dict[str, list[Edge]], source: str, target: str) -> list[str]:
        def walk(node: str) -> list[list[str]]:
            if node == source:
                return [[]]
            out: list[list[str]] = []
            for edge in came_by[node]:
                for prefix in walk(edge.source.lower()):
                    out.append(prefix + [edge.on.sql()])
                    if len(out) >= 3:
                        return out
            return out

        return [" then ".join(steps) for steps in walk(target)]


def _canonical(on: exp.Expr) -> str:
    """The same condition written either way round gets one key."""
    if isinstance(on, exp.EQ):
        sides = sorted((on.left.sql().lower(), on.right.sql().lower()))
        return " = ".join(sides)
    return on.sql().lower()
