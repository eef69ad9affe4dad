"""Words and reference data the Town Lake generator draws names, places and prices from."""

from __future__ import annotations

import numpy as np

COMPANY_WORDS_A = (
    "Acme", "Blue", "Bright", "Cedar", "Clear", "Coastal", "Copper", "Crimson", "Delta", "Eagle",
    "Ember", "Evergreen", "Falcon", "First", "Fox", "Golden", "Granite", "Green", "Harbor",
    "Highland", "Horizon", "Iron", "Jade", "Juniper", "Keystone", "Lakeside", "Lumen", "Maple",
    "Meridian", "Midnight", "Modern", "Nimbus", "North", "Northwind", "Oak", "Orbit", "Pacific",
    "Pine", "Pioneer", "Polar", "Prairie", "Quantum", "Quartz", "Rapid", "Red", "Ridge", "River",
    "Rocket", "Sage", "Silver", "Solar", "Sterling", "Stone", "Summit", "Swift", "Tidal", "True",
    "Urban", "Vector", "Velvet", "Vista", "West", "Willow", "Zenith",
)
COMPANY_WORDS_B = (
    "Analytics", "Apps", "Bakery", "Bank", "Bikes", "Books", "Brands", "Cloud", "Coffee",
    "Commerce", "Data", "Design", "Devices", "Dynamics", "Energy", "Engineering", "Farms",
    "Fashion", "Finance", "Fitness", "Foods", "Games", "Gear", "Goods", "Health", "Holdings",
    "Homes", "Hosting", "Insurance", "Labs", "Learning", "Logistics", "Media", "Medical", "Motors",
    "Music", "Networks", "News", "Outdoors", "Payments", "Pets", "Pharma", "Photo", "Press",
    "Realty", "Robotics", "Security", "Shipping", "Shop", "Software", "Sports", "Studios",
    "Supply", "Systems", "Telecom", "Textiles", "Tickets", "Tools", "Toys", "Travel", "Ventures",
    "Video", "Wellness", "Works",
)
COMPANY_SUFFIXES = (
    "Inc", "LLC", "Ltd", "GmbH", "SA", "BV", "Co", "Group", "AB", "Pty", "KK", "SAS",
)
FIRST_NAMES = (
    "ada", "alan", "amara", "ana", "arjun", "ben", "carla", "chen", "dana", "diego", "elena",
    "emma",
    "farah", "felix", "grace", "hana", "ivan", "jamal", "jin", "julia", "kai", "kofi", "lara",
    "leo", "lucia", "maya", "mei", "mohammed", "nadia", "nina", "omar", "oscar", "priya", "quinn",
    "rafael", "rosa", "sam", "sara", "sofia", "tariq", "tom", "uma", "vera", "wei", "yara", "yuki",
    "zane", "zoe",
)
LAST_NAMES = (
    "adams", "ahmed", "alvarez", "bauer", "brown", "chen", "costa", "dubois", "eriksen", "fischer",
    "garcia", "gupta", "hansen", "ito", "jansen", "kim", "kowalski", "lee", "lopez", "martin",
    "meyer", "mueller", "nakamura", "novak", "okafor", "olsen", "park", "patel", "rossi", "santos",
    "schmidt", "silva", "singh", "smith", "tanaka", "taylor", "wang", "weber", "williams", "wong",
    "yamamoto", "zhang",
)
DOMAIN_WORDS_A = (
    "alpha", "amber", "apex", "atlas", "aurora", "beacon", "bit", "bloom", "bolt", "bright",
    "byte", "canyon", "cedar", "cloud", "cobalt", "comet", "coral", "crest", "cyber", "dawn",
    "delta", "echo", "ember", "fable", "fern", "flux", "forge", "frost", "glow", "grove", "harbor",
    "hive", "hyper", "indigo", "iris", "jet", "kinetic", "lark", "lime", "lunar", "maple", "mesa",
    "metro", "mint", "nova", "oasis", "onyx", "orbit", "pixel", "prism", "pulse", "quill",
    "raven", "ripple", "sable", "shift", "sky", "spark", "terra", "tidal", "ultra", "velo",
    "wave", "zest",
)
DOMAIN_WORDS_B = (
    "app", "base", "bay", "box", "cart", "cast", "co", "craft", "deck", "desk", "dock", "feed",
    "field", "flow", "gate", "grid", "hq", "hub", "io", "kit", "lab", "land", "line", "link",
    "loop", "mart", "mind", "nest", "net", "ops", "pad", "path", "point", "port", "press",
    "rise", "scape", "shop", "side", "site", "soft", "space", "stack", "station", "store",
    "stream", "studio", "sync", "tech", "town", "trail", "ware", "works", "yard",
)
DOMAIN_PREFIXES = ("", "get", "my", "try", "the", "go", "use")
TLDS = ("com", "com", "com", "io", "net", "org", "dev", "app", "co", "shop", "de", "co.uk", "fr")

PLANS = ("free", "pro", "business", "enterprise")
PLAN_SHARE = (0.55, 0.25, 0.13, 0.07)

REGIONS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "NA": (("US", "CA", "MX"), (0.84, 0.12, 0.04)),
    "EU": (("GB", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "IE", "CH"),
           (0.22, 0.2, 0.14, 0.09, 0.08, 0.08, 0.05, 0.06, 0.04, 0.04)),
    "APAC": (("JP", "IN", "AU", "SG", "KR", "CN", "ID", "NZ"),
             (0.22, 0.24, 0.14, 0.1, 0.1, 0.08, 0.08, 0.04)),
    "LATAM": (("BR", "AR", "CO", "CL", "PE"), (0.5, 0.18, 0.14, 0.11, 0.07)),
    "MEA": (("AE", "ZA", "NG", "EG", "SA", "IL", "KE"), (0.2, 0.2, 0.15, 0.12, 0.12, 0.13, 0.08)),
}
REGION_SHARE = (0.38, 0.30, 0.18, 0.08, 0.06)

# Where web requests come from: country code and relative weight of its internet population.
CLIENT_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 30.0), ("CN", 9.0), ("IN", 8.0), ("DE", 5.0), ("GB", 5.0), ("JP", 5.0), ("BR", 4.5),
    ("FR", 4.0), ("RU", 3.0), ("CA", 3.0), ("KR", 2.5), ("ID", 2.5), ("MX", 2.2), ("IT", 2.2),
    ("ES", 2.0), ("NL", 2.0), ("AU", 2.0), ("TR", 1.6), ("PL", 1.5), ("VN", 1.4), ("SE", 1.0),
    ("SG", 1.0), ("AR", 1.0), ("ZA", 0.9), ("NG", 0.9), ("EG", 0.8), ("CO", 0.8), ("CH", 0.8),
    ("AE", 0.7), ("SA", 0.7), ("IL", 0.6), ("IE", 0.6), ("CL", 0.6), ("PE", 0.4), ("KE", 0.4),
    ("NZ", 0.4), ("UA", 0.8), ("PH", 1.2), ("TH", 1.2), ("PK", 0.9), ("BD", 0.7), ("T1", 0.3),
)

# product -> (unit, list price in USD per unit)
PRODUCTS: dict[str, tuple[str, float]] = {
    "r2_storage": ("GB-day", 0.0005),
    "r2_operations": ("1M operations", 4.50),
    "workers_requests": ("1M requests", 0.30),
    "bandwidth": ("GB", 0.045),
    "images": ("1K images", 1.00),
}

TICKET_CATEGORIES = (
    "billing", "dns", "ssl_tls", "performance", "security", "workers", "r2", "account_access",
)
TICKET_CATEGORY_SHARE = (0.18, 0.16, 0.12, 0.14, 0.1, 0.12, 0.08, 0.1)

DEPARTMENTS = ("engineering", "sales", "support", "finance", "marketing", "legal", "people")


def unique_names(
    rng: np.random.Generator, count: int, parts: tuple[tuple[str, ...], ...], joiner: str
) -> list[str]:
    """``count`` distinct names made of one word from each part, in a seeded random order.

    When the combinations run out, later names repeat a combination with a number appended, so
    the names stay unique at any scale.
    """
    sizes = [len(p) for p in parts]
    space = int(np.prod(sizes))
    order = rng.permutation(space)
    names: list[str] = []
    for i in range(count):
        code, cycle = int(order[i % space]), i // space
        words = []
        for part, size in zip(reversed(parts), reversed(sizes), strict=True):
            code, index = divmod(code, size)
            words.append(part[index])
        name = joiner.join(reversed(words))
        names.append(f"{name}{joiner}{cycle + 1}" if cycle else name)
    return names
