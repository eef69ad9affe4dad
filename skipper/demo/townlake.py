"""Town Lake's synthetic world: seeded numpy draws turned into Arrow tables, one chunk at a time.

Every random stream is seeded by ``(seed, stream, chunk)`` so a chunk's rows do not depend on how
many chunks came before it: the same arguments always give the same lake, at any scale.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from skipper.demo.vocabulary import (
    CLIENT_COUNTRIES,
    COMPANY_SUFFIXES,
    COMPANY_WORDS_A,
    COMPANY_WORDS_B,
    DEPARTMENTS,
    DOMAIN_PREFIXES,
    DOMAIN_WORDS_A,
    DOMAIN_WORDS_B,
    FIRST_NAMES,
    LAST_NAMES,
    PLAN_SHARE,
    PLANS,
    PRODUCTS,
    REGION_SHARE,
    REGIONS,
    TICKET_CATEGORIES,
    TICKET_CATEGORY_SHARE,
    TLDS,
    unique_names,
)

HISTORY_DAYS = 90
MIGRATIONS_TODAY = 5  # big sites that join on the as-of day and are active at once
INCIDENT_TICKETS = 8  # P1 tickets per scale unit opened during an as-of-day incident
SAMPLE_INTERVAL = 100
DNS_LAG_DAYS = 8
ACCOUNTS_PER_SCALE = 2_000
DOMAINS_PER_SCALE = 10_000
INTERNAL_ACCOUNTS = (
    "Town Lake Engineering", "Town Lake QA", "Town Lake Load Testing", "Town Lake Marketing",
    "Town Lake Sales Demo", "Town Lake Security Research", "Town Lake Staging", "Town Lake Support",
)
EMPLOYEES = 240

# Per plan (free, pro, business, enterprise).
_DOMAIN_WEIGHT = np.array([1.0, 2.0, 6.0, 30.0])
_TRAFFIC_MULT = np.array([1.0, 3.0, 10.0, 40.0])
_USAGE_MULT = np.array([1.0, 5.0, 30.0, 400.0])
_PRICE_MULT = np.array([0.0, 1.0, 0.95, 0.7])
_TICKETS_PER_DAY = np.array([0.005, 0.02, 0.05, 0.2])
_PRODUCT_ADOPTION = {  # share of accounts on each plan that use the product
    "r2_storage": (0.15, 0.35, 0.6, 0.85),
    "r2_operations": (0.15, 0.35, 0.6, 0.85),
    "workers_requests": (0.3, 0.5, 0.7, 0.9),
    "bandwidth": (1.0, 1.0, 1.0, 1.0),
    "images": (0.05, 0.25, 0.4, 0.6),
}
_PRODUCT_MEDIAN = {  # median daily quantity for a free account (bandwidth comes from traffic)
    "r2_storage": (50.0, 1.5),
    "r2_operations": (0.2, 1.2),
    "workers_requests": (2.0, 1.5),
    "images": (0.5, 1.2),
}
_RESOLUTION_HOURS = np.array([3.0, 10.0, 30.0, 60.0])  # median time to solve, P1..P4

_STREAM_ACCOUNTS, _STREAM_DOMAINS, _STREAM_HTTP, _STREAM_BILLING = 1, 2, 3, 4
_STREAM_DNS, _STREAM_TICKETS, _STREAM_STAFF = 5, 6, 7

_SECOND = np.timedelta64(1, "s")
_DAY = np.timedelta64(1, "D")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _strings(values: list[str] | np.ndarray) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _pick(names: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Strings from a small vocabulary by index, without a Python loop over rows."""
    return _strings(list(names)).take(pa.array(index, type=pa.int32()))


def _timestamps(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[us]"), type=pa.timestamp("us"))


def _dates(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[D]"), type=pa.date32())


def _usd(cents: np.ndarray) -> pa.Array:
    """Exact DECIMAL(12,2) amounts from integer cents (two's-complement 128-bit words)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty(len(cents) * 2, dtype=np.int64)
    words[0::2] = cents
    words[1::2] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words)])


def _hidden() -> Any:
    """A field the world's builders fill in after construction."""
    return field(init=False, repr=False)


@dataclass
class World:
    """The hidden truth behind the tables: who the accounts are and how their domains behave."""

    as_of: date
    scale: int
    seed: int
    # accounts (index i is account_id i + 1)
    plan: np.ndarray = _hidden()
    created: np.ndarray = _hidden()
    accounts: pa.Table = _hidden()
    # domains (index j is domain_id j + 1)
    owner: np.ndarray = _hidden()
    live_from: np.ndarray = _hidden()
    live_until: np.ndarray = _hidden()
    base: np.ndarray = _hidden()
    object_bytes: np.ndarray = _hidden()
    cache_ratio: np.ndarray = _hidden()
    threat_rate: np.ndarray = _hidden()
    growth: np.ndarray = _hidden()
    weekend: np.ndarray = _hidden()
    on_dns: np.ndarray = _hidden()
    domains: pa.Table = _hidden()
    # (domain, client country) pairs that can carry traffic, and each pair's share
    pair_domain: np.ndarray = _hidden()
    pair_country: np.ndarray = _hidden()
    pair_share: np.ndarray = _hidden()

    @property
    def first_day(self) -> np.datetime64:
        """The oldest day of history; day index ``t`` is ``first_day + t``."""
        return np.datetime64(self.as_of, "D") - (HISTORY_DAYS - 1) * _DAY

    @property
    def horizon(self) -> np.datetime64:
        """Midnight after the as-of day: every timestamp is before it."""
        return (np.datetime64(self.as_of, "D") + _DAY).astype("datetime64[s]")


def build_world(as_of: date, scale: int, seed: int) -> World:
    world = World(as_of=as_of, scale=scale, seed=seed)
    _make_accounts(world)
    _make_domains(world)
    return world


def _make_accounts(world: World) -> None:
    rng = _rng(world.seed, _STREAM_ACCOUNTS)
    n = ACCOUNTS_PER_SCALE * world.scale
    plan = rng.choice(len(PLANS), size=n, p=PLAN_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    country = np.empty(n, dtype=object)
    for r, (codes, share) in enumerate(REGIONS.values()):
        members = np.flatnonzero(region == r)
        picks = rng.choice(len(codes), len(members), p=share)
        country[members] = np.array(codes, dtype=object)[picks]
    age_days = 1 + np.floor(2400 * rng.beta(1.3, 2.2, n)) + np.where(plan == 3, 300, 0)
    internal = np.zeros(n, dtype=bool)
    internal[rng.choice(n, size=len(INTERNAL_ACCOUNTS), replace=False)] = True
    plan[internal] = 3
    age_days[internal] = 2000 + rng.integers(0, 400, internal.sum())
    created = (
        np.datetime64(world.as_of, "s") - age_days.astype("timedelta64[D]")
        + rng.integers(0, 86_400, n) * _SECOND
    )
    names = unique_names(rng, n, (COMPANY_WORDS_A, COMPANY_WORDS_B, COMPANY_SUFFIXES), " ")
    for slot, index in enumerate(np.flatnonzero(internal)):
        names[index] = INTERNAL_ACCOUNTS[slot]
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    mail_domains = [
        "townlake.example" if staff else "".join(name.lower().split()[:2]) + ".example"
        for name, staff in zip(names, internal, strict=True)
    ]
    emails = [f"{f}.{s}@{d}" for f, s, d in zip(first, last, mail_domains, strict=True)]
    # Account ids grow with sign-up time, as they do in a real billing system.
    order = np.argsort(created, kind="stable")
    world.plan, world.created = plan[order], created[order]
    world.accounts = pa.table({
        "account_id": pa.array(np.arange(1, n + 1), type=pa.int64()),
        "account_name": _strings([names[i] for i in order]),
        "email": _strings([emails[i] for i in order]),
        "plan": _pick(PLANS, plan[order]),
        "region": _pick(tuple(REGIONS), region[order]),
        "country_code": _strings(country[order]),
        "is_internal": pa.array(internal[order], type=pa.bool_()),
        "created_at": _timestamps(created[order]),
    })


def _make_domains(world: World) -> None:
    rng = _rng(world.seed, _STREAM_DOMAINS)
    n, m = len(world.plan), DOMAINS_PER_SCALE * world.scale
    weight = _DOMAIN_WEIGHT[world.plan] * rng.lognormal(0.0, 0.9, n)
    owner = np.concatenate([np.arange(n), rng.choice(n, size=m - n, p=weight / weight.sum())])
    first_domain = np.arange(m) < n
    created = world.created[owner]
    room = (world.horizon - created) / _SECOND - 1
    offset = np.where(first_domain, np.minimum(rng.random(m) * 172_800, room), rng.random(m) * room)
    signup = created + offset.astype(np.int64) * _SECOND
    today = np.datetime64(world.as_of, "s")
    fresh = rng.choice(np.flatnonzero(~first_domain), size=25 * world.scale, replace=False)
    during_today = today + rng.integers(0, 86_400, len(fresh)) * _SECOND
    signup[fresh] = np.maximum(created[fresh], during_today)

    order = np.argsort(signup, kind="stable")  # domain ids grow with sign-up time
    owner, signup = owner[order], signup[order]
    signup_day = ((signup.astype("datetime64[D]") - world.first_day) / _DAY).astype(np.int64)
    recent = signup_day >= HISTORY_DAYS - 3
    roll = rng.random(m)
    status = np.where(roll < np.where(recent, 0.7, 0.03), 1, np.where(roll > 0.94, 2, 0))
    moved_on = rng.integers(-HISTORY_DAYS, HISTORY_DAYS, m)
    world.owner = owner
    world.live_from = np.where(status == 1, HISTORY_DAYS, signup_day)
    world.live_until = np.where(status == 2, moved_on, HISTORY_DAYS - 1)
    world.base = (
        rng.lognormal(np.log(8_000), 2.1, m) * _TRAFFIC_MULT[world.plan[owner]]
    ).clip(50, 3e9)
    # A few big sites migrate onto the platform on the as-of day itself and serve traffic at
    # once, so "domains that signed up today in the Top 100 by traffic" is a real answer.
    joined_today = np.flatnonzero(signup_day == HISTORY_DAYS - 1)
    movers = rng.choice(joined_today, size=min(MIGRATIONS_TODAY, len(joined_today)), replace=False)
    status[movers] = 0
    world.live_from[movers] = HISTORY_DAYS - 1
    world.live_until[movers] = HISTORY_DAYS - 1
    world.base[movers] = np.quantile(world.base, 0.9995) * rng.uniform(1.0, 3.0, len(movers))
    world.object_bytes = rng.lognormal(np.log(30_000), 0.8, m)
    world.cache_ratio = rng.beta(5, 2, m)
    world.threat_rate = rng.beta(1.2, 300, m)
    world.growth = rng.normal(0.001, 0.004, m)
    world.weekend = 1 - 0.3 * rng.random(m)
    world.on_dns = rng.random(m) < 0.9

    names = unique_names(rng, m, (DOMAIN_PREFIXES, DOMAIN_WORDS_A, DOMAIN_WORDS_B), "")
    tld = rng.choice(TLDS, m)
    world.domains = pa.table({
        "domain_id": pa.array(np.arange(1, m + 1), type=pa.int64()),
        "account_id": pa.array(owner + 1, type=pa.int64()),
        "domain_name": _strings([f"{name}.{t}" for name, t in zip(names, tld, strict=True)]),
        "status": _pick(("active", "pending", "moved"), status),
        "signed_up_at": _timestamps(signup),
    })
    _make_traffic_mix(world, rng)


def _make_traffic_mix(world: World, rng: np.random.Generator) -> None:
    """Which client countries each domain's visitors come from, and in what shares."""
    codes = [code for code, _ in CLIENT_COUNTRIES]
    popularity = np.array([weight for _, weight in CLIENT_COUNTRIES])
    m, c = len(world.owner), len(codes)
    home_code = world.accounts.column("country_code").to_numpy(zero_copy_only=False)[world.owner]
    home = np.array([codes.index(code) for code in home_code])
    width = np.clip(1 + np.floor(1.5 * np.log10(1 + world.base / SAMPLE_INTERVAL)), 1, c)
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(m, c))
    keys[np.arange(m), home] = np.inf
    ranked = np.argsort(-keys, axis=1)
    taken = np.arange(c)[None, :] < width[:, None]
    pair_domain = np.repeat(np.arange(m), width.astype(np.int64))
    pair_country = ranked[taken]
    share = popularity[pair_country] * rng.lognormal(0.0, 0.6, len(pair_country))
    is_home = pair_country == home[pair_domain]
    home_share = np.where(width > 1, rng.uniform(0.3, 0.8, m), 1.0)
    away_total = np.bincount(pair_domain, weights=np.where(is_home, 0.0, share), minlength=m)
    share = np.where(
        is_home,
        home_share[pair_domain],
        share / np.maximum(away_total[pair_domain], 1e-12) * (1 - home_share[pair_domain]),
    )
    world.pair_domain, world.pair_country, world.pair_share = pair_domain, pair_country, share


def _day_factor(world: World, rng: np.random.Generator, t: int, noise: float) -> np.ndarray:
    """How busy each domain is on day ``t``: trend, weekly rhythm and day-to-day noise."""
    day = (world.first_day + t * _DAY).astype(object)
    weekend = world.weekend if day.weekday() >= 5 else 1.0
    alive = (world.live_from <= t) & (t <= world.live_until)
    trend = np.exp(world.growth * (t - (HISTORY_DAYS - 1)))
    return alive * trend * weekend * rng.lognormal(0.0, noise, len(world.base))


def http_requests_day(world: World, t: int) -> pa.Table:
    """One day of the 1% request sample, aggregated per (day, domain, client country)."""
    rng = _rng(world.seed, _STREAM_HTTP, t)
    factor = _day_factor(world, rng, t, 0.15)
    attacked = rng.random(len(factor)) < 0.002
    factor = factor * np.where(attacked, rng.uniform(3, 10, len(factor)), 1.0)
    threat_rate = np.where(attacked, rng.uniform(0.3, 0.8, len(factor)), world.threat_rate)
    pd = world.pair_domain
    expected = world.base[pd] / SAMPLE_INTERVAL * factor[pd] * world.pair_share
    requests = rng.poisson(expected)
    kept = np.flatnonzero(requests)
    requests, pd = requests[kept], pd[kept]
    size = world.object_bytes[pd] * rng.lognormal(0.0, 0.2, len(kept))
    codes = tuple(code for code, _ in CLIENT_COUNTRIES)
    day = world.first_day + t * _DAY
    return pa.table({
        "day": _dates(np.full(len(kept), day)),
        "domain_id": pa.array(pd + 1, type=pa.int64()),
        "client_country": _pick(codes, world.pair_country[kept]),
        "requests": pa.array(requests, type=pa.int64()),
        "bytes": pa.array((requests * size).astype(np.int64), type=pa.int64()),
        "cached_requests": pa.array(rng.binomial(requests, world.cache_ratio[pd]), type=pa.int64()),
        "threats": pa.array(rng.binomial(requests, threat_rate[pd]), type=pa.int64()),
        "sample_interval": pa.array(np.full(len(kept), SAMPLE_INTERVAL), type=pa.int32()),
    })


def dns_queries_days(world: World, days: range) -> pa.Table:
    """Exact daily DNS query counts for domains on Town Lake's name servers."""
    parts = []
    for t in days:
        rng = _rng(world.seed, _STREAM_DNS, t)
        factor = _day_factor(world, rng, t, 0.1) * world.on_dns
        queries = rng.poisson(world.base * 0.02 * factor)
        kept = np.flatnonzero(queries)
        nx_rate = rng.beta(1, 80, len(kept))
        parts.append(pa.table({
            "day": _dates(np.full(len(kept), world.first_day + t * _DAY)),
            "domain_id": pa.array(kept + 1, type=pa.int64()),
            "queries": pa.array(queries[kept], type=pa.int64()),
            "nxdomain": pa.array(rng.binomial(queries[kept], nx_rate), type=pa.int64()),
        }))
    return pa.concat_tables(parts)


def billing_days(world: World, days: range) -> pa.Table:
    """Exact daily usage and charges per account and product (list price times plan discount)."""
    usage = _account_usage(world)
    n = len(world.plan)
    created_day = ((world.created.astype("datetime64[D]") - world.first_day) / _DAY).astype(int)
    parts = []
    for t in days:
        rng = _rng(world.seed, _STREAM_BILLING, t)
        for p, (product, (unit, price)) in enumerate(PRODUCTS.items()):
            base = usage[:, p]
            noise = rng.lognormal(0.0, 0.03 if product == "r2_storage" else 0.12, n)
            trend = np.exp(0.002 * (t - (HISTORY_DAYS - 1)))
            accounts = np.flatnonzero((base > 0) & (created_day <= t))
            quantity = np.round(base[accounts] * noise[accounts] * trend, 3)
            cents = np.round(quantity * price * _PRICE_MULT[world.plan[accounts]] * 100)
            parts.append(pa.table({
                "usage_date": _dates(np.full(len(accounts), world.first_day + t * _DAY)),
                "account_id": pa.array(accounts + 1, type=pa.int64()),
                "product": _strings([product] * len(accounts)),
                "quantity": pa.array(quantity, type=pa.float64()),
                "unit": _strings([unit] * len(accounts)),
                "amount_usd": _usd(cents.astype(np.int64)),
            }))
    return pa.concat_tables(parts)


def _account_usage(world: World) -> np.ndarray:
    """Each account's typical daily quantity of each product (0 when it does not use it)."""
    rng = _rng(world.seed, _STREAM_BILLING)
    n = len(world.plan)
    usage = np.zeros((n, len(PRODUCTS)))
    gb_per_day = np.bincount(
        world.owner, weights=world.base * world.object_bytes / 1e9, minlength=n
    )
    for p, product in enumerate(PRODUCTS):
        adopted = rng.random(n) < np.array(_PRODUCT_ADOPTION[product])[world.plan]
        if product == "bandwidth":
            amount = gb_per_day * rng.lognormal(0.0, 0.2, n)
        else:
            median, sigma = _PRODUCT_MEDIAN[product]
            amount = rng.lognormal(np.log(median), sigma, n) * _USAGE_MULT[world.plan]
        usage[:, p] = np.where(adopted, amount, 0.0)
    usage[:, 1] = np.where(usage[:, 0] > 0, usage[:, 1], 0.0)  # no operations without storage
    return usage


def support_tickets(world: World) -> pa.Table:
    rng = _rng(world.seed, _STREAM_TICKETS)
    window_start = world.first_day.astype("datetime64[s]")
    counts = rng.poisson(_TICKETS_PER_DAY[world.plan] * HISTORY_DAYS)
    account = np.repeat(np.arange(len(world.plan)), counts)
    earliest = np.maximum(world.created[account], window_start)
    span = (world.horizon - earliest) / _SECOND
    opened = earliest + (rng.random(len(account)) * span).astype(np.int64) * _SECOND
    enterprise = world.plan[account] == 3
    priority = np.where(
        enterprise,
        rng.choice(4, len(account), p=(0.08, 0.22, 0.45, 0.25)),
        rng.choice(4, len(account), p=(0.02, 0.10, 0.48, 0.40)),
    )
    hours = rng.lognormal(np.log(_RESOLUTION_HOURS[priority]), 1.0)
    closed = opened + (hours * 3600).astype(np.int64) * _SECOND
    stuck = rng.random(len(account)) < 0.03  # waiting on the customer, whatever its age
    solved = (closed < world.horizon) & ~stuck
    status = np.where(solved, 2, np.where(stuck | (rng.random(len(account)) < 0.35), 1, 0))
    category = rng.choice(len(TICKET_CATEGORIES), len(account), p=TICKET_CATEGORY_SHARE)
    # An incident on the as-of day: paying customers open P1 tickets that are still open.
    burst = INCIDENT_TICKETS * world.scale
    paying = np.flatnonzero(world.plan >= 2)
    account = np.concatenate([account, rng.choice(paying, burst)])
    incident = world.horizon - 86_400 * _SECOND
    opened = np.concatenate(
        [opened, incident + rng.integers(8 * 3600, 20 * 3600, burst) * _SECOND]
    )
    closed = np.concatenate([closed, np.full(burst, world.horizon)])
    solved = np.concatenate([solved, np.zeros(burst, dtype=bool)])
    status = np.concatenate([status, np.where(rng.random(burst) < 0.75, 0, 1)])
    priority = np.concatenate([priority, np.zeros(burst, dtype=priority.dtype)])
    category = np.concatenate(
        [category, np.full(burst, TICKET_CATEGORIES.index("performance"))]
    )
    order = np.argsort(opened, kind="stable")  # ticket ids grow with opening time
    closed_at = pa.array(
        closed[order].astype("datetime64[us]"), type=pa.timestamp("us"), mask=~solved[order]
    )
    return pa.table({
        "ticket_id": pa.array(np.arange(1, len(account) + 1), type=pa.int64()),
        "account_id": pa.array(account[order] + 1, type=pa.int64()),
        "opened_at": _timestamps(opened[order]),
        "closed_at": closed_at,
        "priority": _pick(("P1", "P2", "P3", "P4"), priority[order]),
        "category": _pick(TICKET_CATEGORIES, category[order]),
        "status": _pick(("open", "pending", "solved"), status[order]),
    })


def employee_salaries(world: World) -> pa.Table:
    """HR data that shares the warehouse but must never be reachable through Skipper."""
    rng = _rng(world.seed, _STREAM_STAFF)
    first = rng.choice(FIRST_NAMES, EMPLOYEES)
    last = rng.choice(LAST_NAMES, EMPLOYEES)
    salary = np.round(rng.lognormal(np.log(120_000), 0.35, EMPLOYEES) * 100)
    return pa.table({
        "employee_id": pa.array(np.arange(1, EMPLOYEES + 1), type=pa.int64()),
        "name": _strings([f"{f.title()} {s.title()}" for f, s in zip(first, last, strict=True)]),
        "department": _pick(DEPARTMENTS, rng.choice(len(DEPARTMENTS), EMPLOYEES)),
        "salary_usd": _usd(salary.astype(np.int64)),
    })


def etl_loads(world: World) -> pa.Table:
    """When the pipelines last loaded each table (daily loads; the DNS pipeline broke)."""
    schedule = {  # table -> (hour of the daily load, days since its last successful load)
        "accounts": (1, 0), "domains": (1, 0), "http_requests_sampled": (23, 0),
        "traffic_rank_daily": (23, 0), "billing_usage": (3, 0), "support_tickets": (6, 0),
        "dns_queries_daily": (2, DNS_LAG_DAYS - 1),
    }
    names: list[str] = []
    times: list[datetime] = []
    for table, (hour, lag) in schedule.items():
        for back in range(lag, HISTORY_DAYS):
            names.append(table)
            times.append(datetime.combine(world.as_of - timedelta(days=back), datetime.min.time())
                         + timedelta(hours=hour, minutes=15))
    return pa.table({
        "table_name": _strings(names),
        "loaded_at": pa.array(times, type=pa.timestamp("us")),
    })


def chunks(days: range, size: int) -> Iterator[range]:
    for start in range(days.start, days.stop, size):
        yield range(start, min(start + size, days.stop))
