"""Who is asking: a user's name, email and groups, looked up by a pluggable resolver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from skipper.catalog import Catalog


@dataclass(frozen=True)
class Principal:
    """A resolved user. ``known`` is False for a name nobody declared: such a user reads nothing."""

    name: str | None
    email: str | None = None
    groups: tuple[str, ...] = ()
    known: bool = True


@runtime_checkable
class GroupResolver(Protocol):
    """Looks a user up. A deployment implements it to take groups from its directory (LDAP,
    SCIM, an identity provider); groups the catalog does not declare grant nothing."""

    def resolve(self, user: str) -> Principal | None:
        """The principal for ``user``, or None when the user is unknown."""
        ...


class CatalogResolver:
    """The default resolver: users and their groups as the catalog declares them."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def resolve(self, user: str) -> Principal | None:
        found = self.catalog.find_user(user)
        if found is None:
            return None
        return Principal(name=found.name, email=found.email, groups=tuple(found.groups))
