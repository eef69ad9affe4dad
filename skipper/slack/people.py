"""Who is asking: a Slack user mapped to a catalog user, by configured id or email, or by the
email Slack's users.info returns matched against the catalog's users."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from skipper.catalog import Catalog

log = logging.getLogger(__name__)


class People:
    """Resolves Slack user ids to catalog user names (``None``: the catalog does not know them).

    Emails are cached for ``ttl_s`` seconds so a busy thread does not call users.info each time.
    """

    def __init__(
        self,
        catalog: Catalog,
        mapping: Mapping[str, str] | None = None,
        *,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.mapping = {key.lower() if "@" in key else key: value
                        for key, value in (mapping or {}).items()}
        self.ttl_s = ttl_s
        self.clock = clock
        self._emails: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, slack_user: str, client: Any) -> str | None:
        name = self.mapping.get(slack_user)
        if name is None:
            email = self.email(slack_user, client)
            if email is None:
                return None
            name = self.mapping.get(email) or self.catalog_user(email)
        return name if name is not None and self.known(name) else None

    def known(self, name: str) -> bool:
        """Whether the catalog knows this user (a catalog that declares nobody knows everyone:
        it has no policies to apply)."""
        return not self.catalog.governed or self.catalog.find_user(name) is not None

    def catalog_user(self, email: str) -> str | None:
        """The catalog user with this email (case-insensitive), if the catalog declares users."""
        return next((user.name for user in self.catalog.users
                     if user.email is not None and user.email.lower() == email), None)

    def email(self, slack_user: str, client: Any) -> str | None:
        """The user's email from users.info (needs the users:read.email scope)."""
        now = self.clock()
        with self._lock:
            cached = self._emails.get(slack_user)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        from slack_sdk.errors import SlackApiError

        try:
            response = client.users_info(user=slack_user)
        except SlackApiError as error:
            log.warning("users.info failed for %s: %s", slack_user, error.response.get("error"))
            return None
        user = response.get("user") or {}
        email = None if user.get("is_bot") else (user.get("profile") or {}).get("email")
        found = email.lower() if isinstance(email, str) and email else None
        with self._lock:
            self._emails[slack_user] = (now, found)
        return found


class Throttle:
    """At most ``limit`` questions per person in any ``window_s`` seconds."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._times: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> float:
        """0 and counts the question when it may go ahead; else the seconds until it may."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._times.get(key, []) if now - t < self.window_s]
            if len(recent) >= self.limit:
                self._times[key] = recent
                return max(0.0, self.window_s - (now - recent[0]))
            recent.append(now)
            self._times[key] = recent
            return 0.0
