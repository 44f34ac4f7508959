"""Synthetic DataFlix source documents: JSON Lines files shaped like a Cosmos DB export.

`generate(out_dir, ...)` writes the four containers of `documents.md` under `out_dir`,
with the faults the pipeline must survive: newer versions of a document, re-delivered
events, out-of-order lines, unknown fields, events on titles missing from the catalogue,
and bad documents of every kind the contract names.

Standard library only (no Spark), so it runs anywhere. Deterministic: the same arguments
give byte-identical files. Streaming: events are made day by day, user by user, and only
per-user state (subscription periods, devices) is kept, so memory does not grow with the
number of events.

Layout::

    <out>/content/content.jsonl
    <out>/subscriptions/subscriptions.jsonl
    <out>/playback_events/events-YYYY-MM-DD.jsonl          (by session start day, UTC)
    <out>/recommendations/recommendations-YYYY-MM-DD.jsonl
    <out>/_manifest.json                                    (the summary)
"""
from __future__ import annotations

import binascii
import calendar
import gzip
import json
import math
import os
import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from dataflix_spark.lakehouse import CONTAINERS

UNKNOWN_CONTENT_ID = "c-99999"  # never in the catalogue: the pipeline must accept and report it
MANIFEST = "_manifest.json"

DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MASK64 = (1 << 64) - 1
_SHUFFLE_WINDOW = 500

# --- reference data ------------------------------------------------------------------------

GENRES = ("Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
          "Fantasy", "Horror", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western", "Music",
          "Sport", "Reality", "Kids")
LANGUAGES = (("en", 70), ("es", 8), ("hi", 7), ("fr", 5), ("ko", 5), ("ja", 5))
MOVIE_RATINGS = (("G", 5), ("PG", 20), ("PG-13", 40), ("R", 30), ("NC-17", 5))
TV_RATINGS = (("TV-Y", 5), ("TV-G", 10), ("TV-PG", 25), ("TV-14", 35), ("TV-MA", 25))
TITLE_ADJECTIVES = ("Silent", "Broken", "Last", "Hidden", "Crimson", "Golden", "Midnight", "Lost",
                    "Endless", "Frozen", "Wild", "Electric", "Hollow", "Iron", "Paper", "Northern")
TITLE_NOUNS = ("Harbor", "Kingdom", "Signal", "Garden", "Empire", "River", "Code", "Horizon", "Witness",
               "Orchard", "Frontier", "Protocol", "Lighthouse", "Circuit", "Crown", "Tide")
TITLE_UPDATES = (" (Remastered)", " (Extended Cut)", " (Director's Cut)", ": Special Edition")

# Plan, monthly price (USD) and share of new subscriptions.
PLANS = (("Basic", 9.99, 30), ("Standard", 15.49, 45), ("Premium", 22.99, 25))
PLAN_PRICES = {name: price for name, price, _ in PLANS}
# ISO-2 country, share of users, UTC offset in minutes (to place viewing in local evenings).
COUNTRIES = (("US", 30, -300), ("GB", 8, 0), ("DE", 7, 60), ("IN", 10, 330), ("BR", 8, -180),
             ("MX", 6, -360), ("CA", 5, -300), ("FR", 6, 60), ("JP", 5, 540), ("KR", 5, 540),
             ("ES", 4, 60), ("AU", 3, 600), ("NL", 3, 60))
FIRST_NAMES = (("Emma", "emma"), ("Liam", "liam"), ("Olivia", "olivia"), ("Noah", "noah"),
               ("Sofía", "sofia"), ("Mateo", "mateo"), ("Aarav", "aarav"), ("Priya", "priya"),
               ("Yuki", "yuki"), ("Haruto", "haruto"), ("Min-jun", "minjun"), ("Seo-yeon", "seoyeon"),
               ("Lukas", "lukas"), ("Zoë", "zoe"), ("Chloé", "chloe"), ("Lucas", "lucas"),
               ("João", "joao"), ("Ana", "ana"), ("Oliver", "oliver"), ("Amelia", "amelia"))
LAST_NAMES = (("Smith", "smith"), ("García", "garcia"), ("Müller", "muller"), ("Sharma", "sharma"),
              ("Tanaka", "tanaka"), ("Kim", "kim"), ("Silva", "silva"), ("Martin", "martin"),
              ("Brown", "brown"), ("López", "lopez"), ("Patel", "patel"), ("Dubois", "dubois"),
              ("Jones", "jones"), ("Park", "park"), ("Santos", "santos"), ("Wilson", "wilson"))
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")

DEVICES = (("tv", 40), ("mobile", 25), ("web", 15), ("tablet", 10), ("console", 10))
APP_VERSIONS = {"tv": ("6.3.2", "6.4.0", "6.4.1"), "mobile": ("14.8.0", "14.9.1", "15.0.0"),
                "web": ("2026.9.1", "2026.10.0", "2026.10.2"), "tablet": ("14.8.0", "14.9.1", "15.0.0"),
                "console": ("3.1.0", "3.2.0", "3.2.1")}
# Median startup (ms) and rebuffers per playing hour: mobile networks are the slowest.
STARTUP_MEDIAN_MS = {"tv": 1100, "mobile": 1900, "web": 1400, "tablet": 1500, "console": 1000}
BUFFERS_PER_HOUR = {"tv": 0.6, "mobile": 2.5, "web": 1.2, "tablet": 1.5, "console": 0.6}
PAUSES_PER_HOUR = 1.5
SOFT_ERRORS_PER_HOUR = 0.08
ERROR_CODES = (("NETWORK_TIMEOUT", 50), ("CDN_404", 25), ("DECODE", 15), ("DRM_LICENSE", 10))
# Local-time hour weights: a little at lunch, a peak from 19:00 to 22:00.
HOUR_WEIGHTS = (2, 1, 0.5, 0.3, 0.3, 0.5, 1, 1.5, 1.5, 1.5, 1.5, 2, 2.5, 2.5, 2.5, 2.5, 3, 4, 5.5, 7,
                8.5, 8, 6, 4)
ALGORITHMS = (("collab_filter_v2", 45), ("trending", 25), ("because_you_watched", 30))

DRIFT_RATE = 0.01  # share of good documents with a field the contract does not name
DRIFT_FIELDS = (
    ("llmInteraction", {"prompt": "something funny and short for tonight", "model": "dataflix-assist-1"}),
    ("llmInteraction", {"prompt": "more like the last thing I watched", "model": "dataflix-assist-2"}),
    ("experiment", {"id": "exp-artwork-42", "variant": "B"}),
    ("schemaVersion", 3),
)

# Bad documents: every kind the contract names, per container that can carry it.
BAD_KINDS = {
    "content": ("missing_field", "null_field", "wrong_type", "bad_enum", "non_positive_duration",
                "invalid_json"),
    "subscriptions": ("missing_field", "null_field", "wrong_type", "bad_date", "bad_timestamp", "bad_enum",
                      "negative_price", "end_before_start", "invalid_json"),
    "playback_events": ("missing_field", "null_field", "wrong_type", "bad_timestamp", "bad_enum",
                        "buffer_without_time", "negative_buffer_time", "negative_position",
                        "timestamp_too_old", "timestamp_in_future", "invalid_json"),
    "recommendations": ("missing_field", "null_field", "wrong_type", "bad_timestamp", "timestamp_too_old",
                        "timestamp_in_future", "invalid_json"),
}
# The container that must carry each kind at least once (the busiest one that can).
_KIND_OWNER = {
    "non_positive_duration": "content",
    "bad_date": "subscriptions", "negative_price": "subscriptions", "end_before_start": "subscriptions",
    **{kind: "playback_events" for kind in BAD_KINDS["playback_events"]},
}
REQUIRED = {
    "content": ("contentId", "title", "contentType", "genres", "language", "maturityRating", "releaseYear",
                "durationSec"),
    "subscriptions": ("userId", "plan", "priceMonthly", "status", "startDate", "autoRenew", "customer",
                      "payment"),
    "playback_events": ("userId", "sessionId", "contentId", "deviceType", "eventType", "timestamp",
                        "positionSec"),
    "recommendations": ("userId", "timestamp", "algorithm", "surface", "items"),
}
BAD_ID_PREFIX = {"content": "c-bad-", "subscriptions": "sub-bad-", "playback_events": "e-bad-",
                 "recommendations": "r-bad-"}


@dataclass
class GenerateSummary:
    """What one `generate` call wrote (also saved as `<out_dir>/_manifest.json`)."""

    out_dir: str
    counts: dict[str, int]  # lines per container, bad and duplicate lines included
    bad: dict[str, dict[str, int]]  # container -> kind of bad document -> lines
    duplicates: dict[str, int]  # container -> lines repeating an id (older versions, re-deliveries)
    end_date: date
    unknown_content_events: int = 0  # distinct good events whose contentId is not in the catalogue


# --- small helpers ---------------------------------------------------------------------------

def _cumulative(weights: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


class _Choice:
    """Weighted choice with precomputed cumulative weights (fast in hot loops)."""

    def __init__(self, pairs):
        pairs = list(pairs)
        self.values = [v for v, _ in pairs]
        self.cum = _cumulative(w for _, w in pairs)

    def pick(self, rng: random.Random):
        return rng.choices(self.values, cum_weights=self.cum)[0]


_LANGUAGE = _Choice(LANGUAGES)
_MOVIE_RATING = _Choice(MOVIE_RATINGS)
_TV_RATING = _Choice(TV_RATINGS)
_PLAN = _Choice((name, share) for name, _, share in PLANS)
_COUNTRY = _Choice((c, share) for c, share, _ in COUNTRIES)
_UTC_OFFSET_MIN = {c: offset for c, _, offset in COUNTRIES}
_DEVICE = _Choice(DEVICES)
_ERROR_CODE = _Choice(ERROR_CODES)
_ALGORITHM = _Choice(ALGORITHMS)
_HOUR = _Choice(enumerate(HOUR_WEIGHTS))


def _epoch_day(d: date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


@lru_cache(maxsize=8192)
def _date_text(epoch_day: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + epoch_day).isoformat()


def _iso_ms(ms: int) -> str:
    """Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (faster than datetime for millions of events)."""
    day, rem = divmod(ms, DAY_MS)
    hour, rem = divmod(rem, 3_600_000)
    minute, rem = divmod(rem, 60_000)
    second, milli = divmod(rem, 1000)
    return f"{_date_text(day)}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


def _add_months(start: date, months: int) -> date:
    """`start` plus whole months, the day clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    return date(year, month0 + 1, min(start.day, calendar.monthrange(year, month0 + 1)[1]))


def _next_billing_date(start: date, after: date) -> date:
    """The first billing date (start + k months) strictly after `after`."""
    k = max(1, (after.year - start.year) * 12 + after.month - start.month)
    while _add_months(start, k) <= after:
        k += 1
    while k > 1 and _add_months(start, k - 1) > after:
        k -= 1
    return _add_months(start, k)


def _lognormal_ms(rng: random.Random, median_ms: float, sigma: float, low: int, high: int) -> int:
    # exp(gauss) rather than lognormvariate: same distribution, several times faster.
    return int(min(high, max(low, median_ms * math.exp(sigma * rng.gauss(0.0, 1.0)))))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_dumps = _ENCODER.encode


def _members(fields: dict | None) -> str:
    """`fields` as JSON object members with a leading comma ("" when empty), to splice into a line."""
    return "," + _dumps(fields)[1:-1] if fields else ""


class _Ids:
    """Unique ids that look random: xor with a salt, then an odd multiplier, is a bijection on 64 bits."""

    def __init__(self, prefix: str, salt: int):
        self.prefix, self.salt, self.n = prefix, salt, 0

    def next(self) -> str:
        self.n += 1
        return f"{self.prefix}{((self.n ^ self.salt) * 0x9E3779B97F4A7C15) & _MASK64:016x}"


class _Cosmos:
    """Adds the Cosmos DB system properties to a document (same `_rid` for every version of it).

    A document `_rid` is 16 bytes: database (4), collection (4), document (8).
    """

    def __init__(self, container: str):
        index = CONTAINERS.index(container) + 1
        db, coll = b"\x8f\x1c\x02\x00", bytes((index, 0x5a, 0x3e, 0x11))
        self._db_rid, self._coll_rid = _rid(db), _rid(db + coll)
        # Base64 encodes 3 bytes at a time, so the first 6 bytes' text never changes: encode it once.
        self._rid_head, self._rid_tail = _rid(db + coll[:2]), coll[2:]
        self._self_head = f"dbs/{self._db_rid}/colls/{self._coll_rid}/docs/"

    def _doc_rid(self, number: int) -> str:
        doc_part = ((number * 0xD6E8FEB86659FD93) & _MASK64).to_bytes(8, "little")
        return self._rid_head + _rid(self._rid_tail + doc_part)

    def stamp(self, doc: dict, number: int, ts: int) -> dict:
        rid = self._doc_rid(number)
        doc["_rid"] = rid
        doc["_self"] = f"{self._self_head}{rid}/"
        doc["_etag"] = _etag(number, ts)
        doc["_attachments"] = "attachments/"
        doc["_ts"] = ts
        return doc

    def system_json(self, number: int, ts: int) -> str:
        """The JSON text `stamp` would add (members only, no braces), for the events' fast path."""
        rid = self._doc_rid(number)
        return (f'"_rid":"{rid}","_self":"{self._self_head}{rid}/",'
                f'"_etag":"\\"{number & 0xFFFFFFFF:08x}-0000-0700-0000-{ts & 0xFFFFFFFF:08x}0000\\"",'
                f'"_attachments":"attachments/","_ts":{ts}')


def _rid(raw: bytes) -> str:
    # Cosmos rids are base64 with '-' for '/', so they can sit inside `_self` paths.
    return binascii.b2a_base64(raw, newline=False).decode("ascii").replace("/", "-")


def _etag(number: int, ts: int) -> str:
    return f'"{number & 0xFFFFFFFF:08x}-0000-0700-0000-{ts & 0xFFFFFFFF:08x}0000"'


def _restamp(doc: dict, ts: int) -> dict:
    """A copy of `doc` as stored again at `ts` (new `_etag`, same `_rid`)."""
    copy = dict(doc)
    copy["_ts"] = ts
    copy["_etag"] = _etag(int(doc["_etag"][1:9], 16), ts)
    return copy


class _JsonlWriter:
    """One `.jsonl` (or `.jsonl.gz`) file; with `shuffle`, lines are shuffled within a window.

    Gzip output uses mtime 0 and no file name in the header so reruns are byte-identical, and
    level 3: about twice as fast as the default for about 10% larger files.
    """

    def __init__(self, path: Path, gzip_files: bool, shuffle: random.Random | None = None):
        self.path = path.with_name(path.name + ".gz") if gzip_files else path
        self._raw = open(self.path, "wb")
        self._out = (gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=3)
                     if gzip_files else self._raw)
        self._shuffle = shuffle
        self._buffer: list[str] = []

    def write(self, line: str) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= _SHUFFLE_WINDOW:
            self._flush()

    def _flush(self) -> None:
        if self._shuffle is not None:
            self._shuffle.shuffle(self._buffer)
        if self._buffer:
            self._out.write(("\n".join(self._buffer) + "\n").encode("utf-8"))
        self._buffer.clear()

    def close(self) -> None:
        self._flush()
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()


@dataclass
class _Tally:
    lines: int = 0
    duplicates: int = 0
    bad: dict[str, int] = field(default_factory=dict)


# --- bad documents ------------------------------------------------------------------------------

class _BadDocs:
    """Injects bad documents (fresh ids) at `rate`, cycling through each container's kinds.

    Cycling rather than drawing a kind at random covers every kind as soon as a container has
    had as many bad documents as it has kinds; `top_up` covers each kind's owner container
    even when the rate alone would not.
    """

    def __init__(self, seed: int, rate: float, end_date: date, cosmos: dict[str, _Cosmos]):
        self.rng = random.Random(f"{seed}:bad")
        self.rate, self.end_date, self.cosmos = rate, end_date, cosmos
        self._next_kind = {c: 0 for c in CONTAINERS}
        self._kinds = {c: self.rng.sample(kinds, len(kinds)) for c, kinds in BAD_KINDS.items()}
        self._serial = 0

    def due(self) -> bool:
        """Whether a bad document follows the good one just written (drawn for every good one)."""
        return self.rate > 0 and self.rng.random() < self.rate

    def write_next(self, container: str, template: dict, writer: _JsonlWriter, tally: _Tally) -> None:
        kinds = self._kinds[container]
        kind = kinds[self._next_kind[container] % len(kinds)]
        self._next_kind[container] += 1
        self._write(container, kind, template, writer, tally)

    def top_up(self, container: str, template: dict | None, writer: _JsonlWriter, tally: _Tally) -> None:
        """Write each kind this container owns that it has not written yet."""
        if self.rate <= 0 or template is None:
            return
        for kind in BAD_KINDS[container]:
            if _KIND_OWNER.get(kind) == container and kind not in tally.bad:
                self._write(container, kind, template, writer, tally)

    def _write(self, container: str, kind: str, template: dict, writer: _JsonlWriter, tally: _Tally) -> None:
        self._serial += 1
        doc = {k: v for k, v in template.items() if not k.startswith("_")}
        doc["id"] = f"{BAD_ID_PREFIX[container]}{self._serial:06d}"
        if container == "content":
            doc["contentId"] = doc["id"]
        if kind != "invalid_json":
            _corrupt(self.rng, container, kind, doc, self.end_date)
        self.cosmos[container].stamp(doc, 1_000_000_000 + self._serial, template["_ts"])
        line = _dumps(doc)
        if kind == "invalid_json":
            # A line cut short in transit: never valid JSON, since the closing brace is gone.
            line = line[: self.rng.randint(len(line) // 3, len(line) - 2)]
        writer.write(line)
        tally.lines += 1
        tally.bad[kind] = tally.bad.get(kind, 0) + 1


def _corrupt(rng: random.Random, container: str, kind: str, doc: dict, end_date: date) -> None:
    """Break `doc` (a copy) in the way `kind` names."""
    required = REQUIRED[container]
    if kind == "missing_field":
        del doc[rng.choice(required)]
    elif kind == "null_field":
        doc[rng.choice(required)] = None
    elif kind in ("timestamp_too_old", "timestamp_in_future", "bad_timestamp") and "timestamp" in doc:
        doc["timestamp"] = _bad_timestamp(rng, kind, doc["timestamp"], end_date)
    else:
        _CORRUPTERS[container](rng, kind, doc)


def _bad_timestamp(rng: random.Random, kind: str, good: str, end_date: date) -> str:
    if kind == "timestamp_too_old":  # a device clock reset to its epoch, or just wrong
        return rng.choice(("1970-01-01T00:00:00.000Z", "1999-12-31T23:59:59.000Z", "1998-06-01T12:00:00Z"))
    if kind == "timestamp_in_future":
        return (end_date + timedelta(days=30)).isoformat() + good[10:]
    return rng.choice(("yesterday evening", "2026-13-45T12:00:00Z", "31/10/2026 20:15", "not-a-time"))


def _corrupt_content(rng: random.Random, kind: str, doc: dict) -> None:
    if kind == "wrong_type":
        if rng.random() < 0.5:
            doc["releaseYear"] = "nineteen"
        else:
            doc["durationSec"] = "ninety minutes"
    elif kind == "bad_enum":
        doc["contentType"] = rng.choice(("documentary", "short", "Movie"))
    elif kind == "non_positive_duration":
        doc["durationSec"] = rng.choice((0, -120))


def _corrupt_subscription(rng: random.Random, kind: str, doc: dict) -> None:
    start = date.fromisoformat(doc["startDate"])
    if kind == "wrong_type":
        if rng.random() < 0.5:
            doc["priceMonthly"] = "cheap"
        else:
            doc["autoRenew"] = "maybe"
    elif kind == "bad_date":
        doc["startDate"] = rng.choice(("2026-02-30", "yesterday", "2026-13-01"))
    elif kind == "bad_timestamp":
        doc.update(status="cancelled", autoRenew=False, cancelledAt="last tuesday",
                   endDate=_add_months(start, 1).isoformat())
    elif kind == "bad_enum":
        if rng.random() < 0.5:
            doc["plan"] = rng.choice(("Platinum", "Family", "basic"))
        else:
            doc["status"] = rng.choice(("paused", "trial", "ACTIVE"))
    elif kind == "negative_price":
        doc["priceMonthly"] = -doc["priceMonthly"]
    elif kind == "end_before_start":
        doc.update(status="cancelled", autoRenew=False, cancelledAt=f"{start.isoformat()}T09:30:00.000Z",
                   endDate=(start - timedelta(days=rng.randint(1, 40))).isoformat())


def _corrupt_event(rng: random.Random, kind: str, doc: dict) -> None:
    if kind == "wrong_type":
        if rng.random() < 0.5:
            doc["positionSec"] = "abc"
        else:
            _make_buffer(doc, "fast")
    elif kind == "bad_enum":
        if rng.random() < 0.5:
            doc["eventType"] = rng.choice(("seek", "heartbeat", "PLAY"))
        else:
            doc["deviceType"] = rng.choice(("smartwatch", "fridge", "car"))
    elif kind == "buffer_without_time":
        _make_buffer(doc, None)
    elif kind == "negative_buffer_time":
        _make_buffer(doc, -rng.randint(1, 5000))
    elif kind == "negative_position":
        doc["positionSec"] = -round(rng.uniform(0.5, 120.0), 3)


def _make_buffer(doc: dict, buffer_time_ms) -> None:
    for name in ("bufferTimeMs", "errorCode", "fatal"):
        doc.pop(name, None)
    doc["eventType"] = "buffer"
    if buffer_time_ms is not None:
        doc["bufferTimeMs"] = buffer_time_ms


def _corrupt_recommendation(rng: random.Random, kind: str, doc: dict) -> None:
    if kind == "wrong_type":
        doc["items"] = "none"


_CORRUPTERS = {"content": _corrupt_content, "subscriptions": _corrupt_subscription,
               "playback_events": _corrupt_event, "recommendations": _corrupt_recommendation}


# --- the run context ------------------------------------------------------------------------------

@dataclass
class _Run:
    """Settings and state shared by the writers of one `generate` call."""

    out: Path
    seed: int
    users: int
    days: int
    titles: int
    duplicate_rate: float
    end_date: date
    gzip_files: bool
    bad: _BadDocs
    cosmos: dict[str, _Cosmos]
    tallies: dict[str, _Tally]
    drift: random.Random

    @property
    def first_day(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def limit_ms(self) -> int:
        """The last millisecond of `end_date`: no good document is later."""
        return _epoch_day(self.end_date) * DAY_MS + DAY_MS - 1

    def rng(self, stream: str) -> random.Random:
        # One stream per concern, so e.g. changing bad_rate leaves the good documents unchanged.
        return random.Random(f"{self.seed}:{stream}")

    def writer(self, container: str, name: str, shuffle: random.Random | None = None) -> _JsonlWriter:
        folder = self.out / container
        folder.mkdir(parents=True, exist_ok=True)
        return _JsonlWriter(folder / name, self.gzip_files, shuffle)

    def emit(self, container: str, doc: dict, writer: _JsonlWriter, bad_template: bool = True) -> None:
        """Write one good document (sometimes with an unknown field), then maybe a bad one."""
        self.write_doc(container, doc, writer, self.drift_due(), bad_template and self.bad.due())

    def drift_due(self) -> bool:
        return self.drift.random() < DRIFT_RATE

    def write_doc(self, container: str, doc: dict, writer: _JsonlWriter, drift: bool, bad: bool) -> None:
        if drift:
            name, value = DRIFT_FIELDS[self.drift.randrange(len(DRIFT_FIELDS))]
            system = {k: doc.pop(k) for k in [k for k in doc if k.startswith("_")]}
            doc[name] = value
            doc.update(system)
        writer.write(_dumps(doc))
        self.tallies[container].lines += 1
        if bad:
            self.bad.write_next(container, doc, writer, self.tallies[container])


# --- content --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Title:
    content_id: str
    duration_sec: int
    series_id: str | None
    next_episode: str | None  # for binge watching


def _movie_title(rng: random.Random) -> str:
    adjective, noun = rng.choice(TITLE_ADJECTIVES), rng.choice(TITLE_NOUNS)
    form = rng.randrange(3)
    if form == 0:
        return f"The {adjective} {noun}"
    if form == 1:
        return f"{adjective} {noun}"
    return f"{noun} of the {rng.choice(TITLE_NOUNS)}"


def _release_year(rng: random.Random, latest: int) -> int:
    # Catalogues lean recent: most titles from the last decade, a long tail back to 1970.
    return latest - int(min(latest - 1970, rng.expovariate(1 / 8)))


def _catalogue_plan(rng: random.Random, titles: int) -> list[int]:
    """Block sizes in id order: 1 for a movie, n for a series of n episodes (about 40% episodes)."""
    series = min(8, titles // 10)
    episodes = round(titles * 0.4) if series else 0
    sizes = [1] * series
    for _ in range(episodes - series):
        sizes[rng.randrange(series)] += 1
    blocks = [-s for s in sizes] + [1] * (titles - episodes)  # negative: a series block
    rng.shuffle(blocks)
    return blocks


def _content_docs(rng: random.Random, titles: int, latest_year: int) -> list[dict]:
    docs: list[dict] = []
    series_number = 0
    for block in _catalogue_plan(rng, titles):
        if block > 0:
            docs.append(_movie_doc(rng, len(docs) + 1, latest_year))
        else:
            series_number += 1
            docs.extend(_series_docs(rng, len(docs) + 1, -block, series_number, latest_year))
    return docs


def _movie_doc(rng: random.Random, number: int, latest_year: int) -> dict:
    content_id = f"c-{number:05d}"
    return {"id": content_id, "contentId": content_id, "title": _movie_title(rng), "contentType": "movie",
            "seriesId": None, "genres": rng.sample(GENRES, rng.choice((1, 2, 2, 3))),
            "language": _LANGUAGE.pick(rng), "maturityRating": _MOVIE_RATING.pick(rng),
            "releaseYear": _release_year(rng, latest_year), "durationSec": rng.randint(80 * 60, 150 * 60)}


def _series_docs(rng: random.Random, first_number: int, episodes: int, series_number: int,
                 latest_year: int) -> list[dict]:
    name = f"{rng.choice(TITLE_ADJECTIVES)} {rng.choice(TITLE_NOUNS)}"
    shared = {"genres": rng.sample(GENRES, rng.choice((1, 2, 3))), "language": _LANGUAGE.pick(rng),
              "maturityRating": _TV_RATING.pick(rng)}
    typical_sec = rng.randint(22, 55) * 60
    first_year = _release_year(rng, latest_year)
    docs = []
    for i in range(episodes):
        content_id = f"c-{first_number + i:05d}"
        season, episode = divmod(i, 8)
        docs.append({"id": content_id, "contentId": content_id,
                     "title": f"{name}: S{season + 1} E{episode + 1}", "contentType": "episode",
                     "seriesId": f"s-{series_number:04d}", **shared,
                     "releaseYear": min(latest_year, first_year + season),
                     "durationSec": min(3600, max(1200, int(typical_sec * rng.uniform(0.9, 1.1))))})
    return docs


def _write_content(run: _Run) -> list[_Title]:
    """The catalogue, then a newer version of a few titles (same id, later `_ts`, changed title)."""
    rng = run.rng("content")
    docs = _content_docs(rng, run.titles, min(2026, run.end_date.year))
    cosmos, tally = run.cosmos["content"], run.tallies["content"]
    first_s = _epoch_day(run.first_day) * 86400
    writer = run.writer("content", "content.jsonl")
    last = None
    for number, doc in enumerate(docs, start=1):
        created = first_s - rng.randint(86400, 700 * 86400)  # in the CMS well before the window
        last = cosmos.stamp(dict(doc), number, created)
        run.emit("content", last, writer)
    for number in sorted(rng.sample(range(1, len(docs) + 1), max(1, len(docs) // 20) if docs else 0)):
        newer = dict(docs[number - 1])
        newer["title"] += rng.choice(TITLE_UPDATES)
        updated = rng.randint(first_s, run.limit_ms // 1000)
        run.emit("content", cosmos.stamp(newer, number, updated), writer, bad_template=False)
        tally.duplicates += 1
    run.bad.top_up("content", last, writer, tally)
    writer.close()
    return _titles(docs)


def _titles(docs: list[dict]) -> list[_Title]:
    titles = []
    for i, doc in enumerate(docs):
        following = docs[i + 1] if i + 1 < len(docs) else None
        same_series = following is not None and doc["seriesId"] and following["seriesId"] == doc["seriesId"]
        titles.append(_Title(doc["contentId"], doc["durationSec"], doc["seriesId"],
                             following["contentId"] if same_series else None))
    return titles


# --- users and subscriptions -----------------------------------------------------------------------

@dataclass(slots=True)
class _User:
    """What event generation needs to know about a subscriber (the only per-user state kept)."""

    user_id: str
    country: str
    devices: tuple[str, ...]  # favourite devices, most used first
    device_cum: tuple[float, ...]
    app_versions: dict[str, str]
    activity: float  # chance of watching on a given day
    periods: tuple[tuple[int, int], ...]  # subscribed [startDate, endDate) as date ordinals
    busy_until_ms: int = 0  # end of the user's latest session, so sessions never overlap

    def subscribed(self, ordinal: int) -> bool:
        return any(start <= ordinal < end for start, end in self.periods)


def _customer(rng: random.Random, number: int, country: str) -> tuple[dict, dict]:
    (first, first_ascii), (last, last_ascii) = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first_ascii}.{last_ascii}{number}@{rng.choice(EMAIL_DOMAINS)}"
    customer = {"name": f"{first} {last}", "email": email, "country": country}
    if rng.random() < 0.75:
        payment = {"method": "card", "cardLast4": f"{rng.randrange(10000):04d}"}
    else:
        payment = {"method": "paypal", "cardLast4": None}
    return customer, payment


def _first_start(rng: random.Random, end_date: date) -> date:
    start = end_date - timedelta(days=rng.randrange(365))
    if rng.random() < 0.06:
        # Month-end starts exercise the billing rule "day clamped to the month's last day".
        month_end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        start = month_end if month_end <= end_date else start
    return start


def _cancellation(rng: random.Random, start: date, created_s: int, limit_s: int):
    """(cancelledAt seconds, endDate) or None while the subscription stays open."""
    if rng.random() < 0.08:
        tenure_s = rng.randint(3600, 30 * 86400)  # gave up within the first month
    else:
        tenure_s = int(rng.expovariate(1 / 500) * 86400)  # about 6% a month afterwards
    cancelled_s = created_s + max(3600, tenure_s)
    if cancelled_s > limit_s:
        return None
    cancel_day = date.fromordinal(_EPOCH_ORDINAL + cancelled_s // 86400)
    if rng.random() < 0.1:
        return cancelled_s, cancel_day + timedelta(days=1)  # ended at once
    return cancelled_s, _next_billing_date(start, cancel_day)  # service runs to the paid-up date


def _subscription_versions(rng: random.Random, ids: _Ids, user_id: str, customer: dict, payment: dict,
                           end_date: date, limit_s: int):
    """A user's subscription documents (each version) in `_ts` order, and the periods they cover."""
    versions, periods = [], []
    start, plan = _first_start(rng, end_date), _PLAN.pick(rng)
    while start <= end_date:
        created_s = _epoch_day(start) * 86400 + rng.randrange(86400)
        doc = {"id": ids.next(), "userId": user_id, "plan": plan, "priceMonthly": PLAN_PRICES[plan],
               "status": "active", "startDate": start.isoformat(), "endDate": None, "cancelledAt": None,
               "autoRenew": rng.random() < 0.92, "customer": customer, "payment": payment}
        created_ts = created_s + rng.randint(1, 5)
        versions.append((doc, created_ts))
        cancel = _cancellation(rng, start, created_s, limit_s)
        if cancel is None:
            periods.append((start.toordinal(), date.max.toordinal()))
            break
        cancelled_s, end = cancel
        cancelled = dict(doc, status="cancelled", autoRenew=False, endDate=end.isoformat(),
                         cancelledAt=_iso_ms(cancelled_s * 1000 + rng.randrange(1000)))
        versions.append((cancelled, max(created_ts + 1, cancelled_s + rng.randint(1, 5))))
        periods.append((start.toordinal(), end.toordinal()))
        if rng.random() >= 0.3:
            break
        # Came back later (or switched plan at once): never before the previous period ends.
        start = end + timedelta(days=0 if rng.random() < 0.2 else rng.randint(1, 120))
        plan = plan if rng.random() < 0.6 else _PLAN.pick(rng)
    return versions, tuple(periods)


def _devices(rng: random.Random) -> tuple[tuple[str, ...], tuple[float, ...]]:
    favourites: list[str] = []
    for _ in range(rng.choice((1, 2, 2, 3))):
        device = _DEVICE.pick(rng)
        if device not in favourites:
            favourites.append(device)
    weights = (0.7, 0.2, 0.1)[: len(favourites)]
    return tuple(favourites), tuple(_cumulative(weights))


def _write_subscriptions(run: _Run) -> list[_User]:
    """Subscription histories (about 85% of users have one); returns the subscribers' state."""
    rng = run.rng("subscriptions")
    ids = _Ids("sub-", rng.getrandbits(64))
    cosmos, tally = run.cosmos["subscriptions"], run.tallies["subscriptions"]
    writer = run.writer("subscriptions", "subscriptions.jsonl")
    subscribers, last = [], None
    for number in range(1, run.users + 1):
        user_id, country = f"u-{number:06d}", _COUNTRY.pick(rng)
        customer, payment = _customer(rng, number, country)
        devices, device_cum = _devices(rng)
        activity = min(0.95, 0.55 * rng.lognormvariate(0, 0.5))
        if rng.random() >= 0.85:
            continue
        versions, periods = _subscription_versions(rng, ids, user_id, customer, payment, run.end_date,
                                                   run.limit_ms // 1000)
        for doc, ts in versions:
            number_in_container = int(doc["id"][4:], 16)
            is_update = doc["status"] == "cancelled"
            last = cosmos.stamp(dict(doc), number_in_container, ts)
            run.emit("subscriptions", last, writer, bad_template=not is_update)
            tally.duplicates += is_update
        apps = {d: rng.choice(APP_VERSIONS[d]) for d in devices}
        subscribers.append(_User(user_id, country, devices, device_cum, apps, activity, periods))
    run.bad.top_up("subscriptions", last, writer, tally)
    writer.close()
    return subscribers


# --- player sessions ---------------------------------------------------------------------------------

@dataclass(slots=True)
class _Session:
    session_id: str
    user: _User
    content_id: str
    duration_sec: int
    device: str
    start_ms: int
    resume_sec: float  # where playback starts (continue watching)
    events: list[tuple] | None = None  # (time ms, eventType, position ms, extra fields)
    end_ms: int = 0


def _simulate(rng: random.Random, s: _Session) -> list[tuple]:
    """The player's events for one session: (time ms, eventType, position ms, extra fields)."""
    t, pos = s.start_ms, int(s.resume_sec * 1000)
    events = [(t, "start", pos, None)]
    fate = rng.random()
    startup = _lognormal_ms(rng, STARTUP_MEDIAN_MS[s.device], 0.6, 150, 30_000)
    if fate < 0.03:  # exit before video start: gave up while it was still loading
        if rng.random() < 0.5:
            t += startup
            events.append((t, "buffer", pos, {"bufferTimeMs": startup}))
        events.append((t + rng.randint(2000, 20_000), "stop", pos, None))
        return events
    fatal = fate < 0.05
    if fatal and rng.random() < 0.4:  # failed during startup, e.g. no licence
        code = "DRM_LICENSE" if rng.random() < 0.5 else _ERROR_CODE.pick(rng)
        events.append((t + startup, "error", pos, {"errorCode": code, "fatal": True}))
        return events
    t += startup
    events.append((t, "play", pos, None))
    end_pos = _watch_until(rng, s)
    if fatal:
        end_pos = pos + int(rng.random() * (end_pos - pos))
    t, pos = _play(rng, s, events, t, pos, end_pos)
    if fatal:
        events.append((t, "error", pos, {"errorCode": _ERROR_CODE.pick(rng), "fatal": True}))
    elif fate < 0.10:  # abandoned: the app was closed or crashed, no stop arrives
        if rng.random() < 0.5:
            events.append((t, "pause", pos, None))
    else:
        if rng.random() < 0.15:  # paused, then gave up
            events.append((t, "pause", pos, None))
            t += _lognormal_ms(rng, 60_000, 1.0, 1000, 1_800_000)
        events.append((t, "stop", pos, None))
    return events


def _watch_until(rng: random.Random, s: _Session) -> int:
    """The position (ms) the viewer intends to reach: a completion, or a partial watch."""
    duration_ms, resume_ms = s.duration_sec * 1000, int(s.resume_sec * 1000)
    if rng.random() < (0.5 if s.duration_sec <= 3600 else 0.3):
        return max(resume_ms, int(duration_ms * rng.uniform(0.92, 1.0)))  # to the credits
    watched = _lognormal_ms(rng, 18 * 60_000, 0.9, 20_000, duration_ms)
    return min(duration_ms, resume_ms + watched)


def _play(rng: random.Random, s: _Session, events: list, t: int, pos: int, end_pos: int) -> tuple[int, int]:
    """Play from `pos` to `end_pos`, with stalls, pauses and recovered errors on the way."""
    network = rng.lognormvariate(0, 0.7)  # some sessions sit on a bad connection
    buffers = BUFFERS_PER_HOUR[s.device] * network
    rate_per_ms = (buffers + PAUSES_PER_HOUR + SOFT_ERRORS_PER_HOUR) / 3_600_000
    p_buffer = buffers / (buffers + PAUSES_PER_HOUR + SOFT_ERRORS_PER_HOUR)
    p_pause = p_buffer + PAUSES_PER_HOUR / (buffers + PAUSES_PER_HOUR + SOFT_ERRORS_PER_HOUR)
    while True:
        gap = int(rng.expovariate(rate_per_ms))
        if pos + gap >= end_pos:
            return t + end_pos - pos, end_pos
        t, pos = t + gap, pos + gap
        kind = rng.random()
        if kind < p_buffer:  # the stall ends at t; the playhead did not move meanwhile
            stall = _lognormal_ms(rng, 1200, 0.9, 120, 30_000)
            t += stall
            events.append((t, "buffer", pos, {"bufferTimeMs": stall}))
        elif kind < p_pause:
            events.append((t, "pause", pos, None))
            t += _lognormal_ms(rng, 45_000, 1.2, 1000, 3_600_000)
            events.append((t, "play", pos, None))
        else:  # recovered after a retry: the player resumes with `play`
            events.append((t, "error", pos, {"errorCode": _ERROR_CODE.pick(rng), "fatal": False}))
            t += _lognormal_ms(rng, 2500, 0.7, 200, 30_000)
            events.append((t, "play", pos, None))


# --- a day of activity ------------------------------------------------------------------------------

class _Day:
    """Builds and writes one day's sessions, events and recommendation lists."""

    def __init__(self, run: _Run, day: date, catalogue: list[_Title], streams: dict[str, random.Random],
                 ids: dict[str, _Ids]):
        self.run, self.day, self.catalogue = run, day, catalogue
        self.content_ids = [title.content_id for title in catalogue]
        self.rng, self.rec_rng, self.dup_rng = streams["events"], streams["recommendations"], streams["duplicates"]
        self.ids = ids
        self.day_ms = _epoch_day(day) * DAY_MS
        self.day_end_ms = min(run.limit_ms, self.day_ms + DAY_MS - 1)  # sessions start on this day
        self.events_out = run.writer("playback_events", f"events-{day.isoformat()}.jsonl", streams["shuffle"])
        self.recs_out = run.writer("recommendations", f"recommendations-{day.isoformat()}.jsonl",
                                   streams["shuffle"])
        self.event_count = self.rec_count = self.unknown_content = 0
        self.deferred: list[str] = []  # re-deliveries that arrive in the next day's file
        self.last_event: tuple | None = None  # (session, shared fields, optional fields, number)
        self.last_rec: tuple | None = None  # the fields of the last list written

    def user(self, user: _User, popularity: list[float]) -> None:
        sessions = self._sessions(user, popularity)
        for s in sessions:
            self._write_events(s)
        self._write_recommendations(user, sessions)

    def _sessions(self, user: _User, popularity: list[float]) -> list[_Session]:
        rng, sessions, end_ms = self.rng, [], self.run.limit_ms
        # Not before yesterday's last session (which may run past midnight) has ended.
        start = max(self._local_time_ms(rng, user), user.busy_until_ms + 60_000)
        for _ in range(rng.choices((1, 2, 3), cum_weights=(40, 75, 100))[0]):
            if start > self.day_end_ms:
                break  # the next session would start on another day
            s = self._session(user, start, sessions[-1] if sessions else None, popularity)
            s.events = [e for e in _simulate(rng, s) if e[0] <= end_ms]  # nothing after end_date
            s.end_ms = s.events[-1][0]
            sessions.append(s)
            # Binges follow within minutes (same engagement session); else hours later.
            gap = _lognormal_ms(rng, 90_000, 1.0, 5000, 3_600_000) if rng.random() < 0.5 else \
                _lognormal_ms(rng, 2 * 3_600_000, 0.6, 1_800_001, 10 * 3_600_000)
            start = s.end_ms + gap
        if sessions:
            user.busy_until_ms = sessions[-1].end_ms
        return sessions

    def _local_time_ms(self, rng: random.Random, user: _User) -> int:
        """A time on this UTC day, drawn from the viewing hours of the user's own time zone."""
        local_s = _HOUR.pick(rng) * 3600 + rng.randrange(3600)
        utc_s = (local_s - _UTC_OFFSET_MIN[user.country] * 60) % 86400  # stay on this UTC day
        return self.day_ms + utc_s * 1000 + rng.randrange(1000)

    def _session(self, user: _User, start_ms: int, previous: _Session | None, popularity) -> _Session:
        rng = self.rng
        title, binge = self._title(previous, popularity)
        content_id, duration = (title.content_id, title.duration_sec) if title else \
            (UNKNOWN_CONTENT_ID, rng.randint(40, 120) * 60)
        device = previous.device if binge else rng.choices(user.devices, cum_weights=user.device_cum)[0]
        resume = 0.0 if binge or rng.random() < 0.75 else round(duration * rng.uniform(0.05, 0.7), 3)
        return _Session(self.ids["session"].next(), user, content_id, duration, device, start_ms, resume)

    def _title(self, previous: _Session | None, popularity: list[float]) -> tuple[_Title | None, bool]:
        """(title, is the next episode of the previous session); title None: not in the catalogue."""
        rng = self.rng
        if previous is not None and rng.random() < 0.6:
            current = self._by_id(previous.content_id)
            if current is not None and current.next_episode is not None:
                return self._by_id(current.next_episode), True
        if rng.random() < 0.005:
            return None, False
        return rng.choices(self.catalogue, cum_weights=popularity)[0], False

    def _by_id(self, content_id: str) -> _Title | None:
        number = int(content_id[2:]) if content_id != UNKNOWN_CONTENT_ID else 0
        return self.catalogue[number - 1] if 0 < number <= len(self.catalogue) else None

    def _write_events(self, s: _Session) -> None:
        """Write a session's events: as text straight away, or as a document when it needs more.

        Most events go through the fast path (an f-string, identical to what json would write);
        those with an unknown field, a bad document after them or a re-delivery are built as
        dicts. Events are most of a run's lines, so this is where the speed is.
        """
        rng, run, ids = self.rng, self.run, self.ids["event"]
        shared = {"userId": s.user.user_id, "sessionId": s.session_id, "contentId": s.content_id,
                  "deviceType": s.device}
        optional = {}
        if rng.random() < 0.92:
            optional["country"] = s.user.country
        if rng.random() < 0.9:
            optional["appVersion"] = s.user.app_versions[s.device]
        shared_json, optional_json = _members(shared), _members(optional)
        cosmos, tally, out = run.cosmos["playback_events"], run.tallies["playback_events"], self.events_out
        for t, event_type, pos, extra in s.events:
            event_id = ids.next()
            ingested_s = (t + 50 + int(rng.expovariate(1 / 2500))) // 1000  # ingestion delay
            drift, bad, duplicate = run.drift_due(), run.bad.due(), self.dup_rng.random() < run.duplicate_rate
            if drift or bad or duplicate:
                doc = {"id": event_id, **shared, "eventType": event_type, "timestamp": _iso_ms(t),
                       "positionSec": pos / 1000, **(extra or {}), **optional}
                run.write_doc("playback_events", cosmos.stamp(doc, ids.n, ingested_s), out, drift, bad)
                if duplicate:
                    self._duplicate(doc, tally)
            else:
                out.write(f'{{"id":"{event_id}"{shared_json},"eventType":"{event_type}",'
                          f'"timestamp":"{_iso_ms(t)}","positionSec":{pos / 1000!r}{_members(extra)}'
                          f'{optional_json},{cosmos.system_json(ids.n, ingested_s)}}}')
                tally.lines += 1
        self.last_event = (s, shared, optional, ids.n)
        self.event_count += len(s.events)
        self.unknown_content += len(s.events) if s.content_id == UNKNOWN_CONTENT_ID else 0

    def _duplicate(self, doc: dict, tally: _Tally) -> None:
        """At-least-once delivery: the same event again, now or in the next day's file."""
        rng = self.dup_rng
        tally.duplicates += 1
        tally.lines += 1
        if rng.random() < 0.25:
            self.deferred.append(_dumps(_restamp(doc, doc["_ts"] + rng.randint(3600, 86400))))
        elif rng.random() < 0.5:
            self.events_out.write(_dumps(doc))
        else:
            self.events_out.write(_dumps(_restamp(doc, doc["_ts"] + rng.randint(1, 900))))

    def _event_template(self) -> dict | None:
        """The last event written, as a document (the model for bad documents topped up at the end)."""
        if self.last_event is None:
            return None
        s, shared, optional, number = self.last_event
        t, event_type, pos, extra = s.events[-1]
        doc = {"id": "template", **shared, "eventType": event_type, "timestamp": _iso_ms(t),
               "positionSec": pos / 1000, **(extra or {}), **optional}
        return self.run.cosmos["playback_events"].stamp(doc, number, t // 1000)

    def _write_recommendations(self, user: _User, sessions: list[_Session]) -> None:
        for t, surface, played in self._rec_lists(user, sessions):
            self._write_rec(user, t, surface, played)

    def _rec_lists(self, user: _User, sessions: list[_Session]) -> list[tuple[int, str, str | None]]:
        """(time, surface, title the list leads to) for this user's lists today.

        Some lists are shown shortly before a session and contain its title (these convert);
        the others are home rows at other times and post-play rows after the last session.
        """
        rng, lists = self.rec_rng, []
        for s in sessions:
            if s.content_id != UNKNOWN_CONTENT_ID and rng.random() < 0.2:
                lists.append((max(self.day_ms, s.start_ms - rng.randint(3000, 900_000)), "home_row", s.content_id))
        for _ in range(rng.randint(1, 2)):
            lists.append((self._local_time_ms(rng, user), "home_row", None))
        if sessions and rng.random() < 0.5:
            lists.append((sessions[-1].end_ms + rng.randint(1000, 8000), "post_play", None))
        return [entry for entry in lists if entry[0] <= self.day_end_ms]

    def _write_rec(self, user: _User, t: int, surface: str, played: str | None) -> None:
        """Write one list; like events, as text unless it needs an unknown field or a bad document after it."""
        rng, run, ids = self.rec_rng, self.run, self.ids["rec"]
        rec_id, algorithm = ids.next(), _ALGORITHM.pick(rng)
        items = self._rec_items(played)
        ts = (t + rng.randint(200, 5000)) // 1000
        drift, bad = run.drift_due(), run.bad.due()
        if drift or bad:
            doc = _rec_doc(rec_id, user.user_id, t, algorithm, surface, items)
            run.cosmos["recommendations"].stamp(doc, ids.n, ts)
            run.write_doc("recommendations", doc, self.recs_out, drift, bad)
        else:
            items_json = ",".join([f'{{"contentId":"{c}","rank":{rank},"score":{score!r}}}'
                                   for rank, (c, score) in enumerate(items, 1)])
            self.recs_out.write(f'{{"id":"{rec_id}","userId":"{user.user_id}","timestamp":"{_iso_ms(t)}",'
                                f'"algorithm":"{algorithm}","surface":"{surface}","items":[{items_json}],'
                                f'{run.cosmos["recommendations"].system_json(ids.n, ts)}}}')
            run.tallies["recommendations"].lines += 1
        self.rec_count += 1
        self.last_rec = (rec_id, user.user_id, t, algorithm, surface, items, ids.n, ts)

    def _rec_items(self, played: str | None) -> list[tuple[str, float]]:
        """(contentId, score) by rank: 5-10 distinct titles, `played` among the first few."""
        rng = self.rec_rng
        size = rng.randint(5, 10)
        picks = rng.sample(self.content_ids, min(size, len(self.content_ids)))
        chosen = [c for c in picks if c != played][: size - (played is not None)]
        if played is not None:
            # Position bias: the title that gets played sits near the top of the row.
            chosen.insert(min(len(chosen), int(rng.expovariate(0.6))), played)
        scores = sorted([rng.random() for _ in chosen], reverse=True)
        return [(c, round(0.05 + 0.94 * score, 4)) for c, score in zip(chosen, scores)]

    def _rec_template(self) -> dict | None:
        if self.last_rec is None:
            return None
        *fields, number, ts = self.last_rec
        return self.run.cosmos["recommendations"].stamp(_rec_doc(*fields), number, ts)

    def close(self, last_day: bool) -> list[str]:
        """Close the files; returns the re-deliveries due in the next day's file."""
        if last_day:
            for line in self.deferred:
                self.events_out.write(line)
            self.deferred = []
            self.run.bad.top_up("playback_events", self._event_template(), self.events_out,
                                self.run.tallies["playback_events"])
            self.run.bad.top_up("recommendations", self._rec_template(), self.recs_out,
                                self.run.tallies["recommendations"])
        self.events_out.close()
        self.recs_out.close()
        return self.deferred


def _rec_doc(rec_id: str, user_id: str, t: int, algorithm: str, surface: str,
             items: list[tuple[str, float]]) -> dict:
    return {"id": rec_id, "userId": user_id, "timestamp": _iso_ms(t), "algorithm": algorithm, "surface": surface,
            "items": [{"contentId": c, "rank": rank, "score": score} for rank, (c, score) in enumerate(items, 1)]}


def _popularity(rng: random.Random, catalogue: list[_Title]) -> list[float]:
    """Cumulative Zipf-like weights over the catalogue: a few hits, a long tail."""
    ranks = list(range(1, len(catalogue) + 1))
    rng.shuffle(ranks)
    return _cumulative(1 / r ** 0.9 for r in ranks)


def _write_days(run: _Run, catalogue: list[_Title], subscribers: list[_User],
                progress: Callable[[str], None] | None) -> int:
    """Events and recommendations, one file each per day; returns events on unknown titles."""
    streams = {name: run.rng(name) for name in ("events", "recommendations", "duplicates", "shuffle")}
    ids = {"event": _Ids("e-", streams["events"].getrandbits(64)),
           "session": _Ids("s-", streams["events"].getrandbits(64)),
           "rec": _Ids("r-", streams["recommendations"].getrandbits(64))}
    popularity = _popularity(streams["events"], catalogue)
    carried: list[str] = []
    unknown = 0
    for offset in range(run.days):
        day = run.first_day + timedelta(days=offset)
        today = _Day(run, day, catalogue, streams, ids)
        for line in carried:
            today.events_out.write(line)
        ordinal, weekend = day.toordinal(), day.weekday() >= 5
        for user in subscribers:
            chance = user.activity * (1.15 if weekend else 1.0)
            if user.subscribed(ordinal) and streams["events"].random() < chance:
                today.user(user, popularity)
        carried = today.close(last_day=offset == run.days - 1)
        unknown += today.unknown_content
        if progress is not None:
            progress(f"{day.isoformat()}: {today.event_count:,} events, {today.rec_count:,} recommendation lists")
    return unknown


# --- entry point ------------------------------------------------------------------------------------

def _check_arguments(users: int, days: int, titles: int, bad_rate: float, duplicate_rate: float,
                     end_date: date) -> None:
    if users < 0 or days < 1:
        raise ValueError("users must be >= 0 and days >= 1")
    if not 1 <= titles < 99_999:
        raise ValueError("titles must be between 1 and 99998 (c-99999 is the unknown title)")
    if not (0 <= bad_rate < 1 and 0 <= duplicate_rate < 1):
        raise ValueError("bad_rate and duplicate_rate must be in [0, 1)")
    if end_date - timedelta(days=days - 1) < date(2000, 1, 2):
        raise ValueError("the generated days must start after 2000-01-01")


def _remove_previous_output(out: Path) -> None:
    """Delete files an earlier run wrote here (only the generator's own names), so none linger."""
    patterns = {"content": "content.jsonl*", "subscriptions": "subscriptions.jsonl*",
                "playback_events": "events-*.jsonl*", "recommendations": "recommendations-*.jsonl*"}
    for container, pattern in patterns.items():
        for path in (out / container).glob(pattern):
            os.remove(path)


def _write_manifest(out: Path, summary: GenerateSummary, parameters: dict) -> None:
    manifest = {k: v for k, v in asdict(summary).items() if k != "out_dir"}  # stays identical if moved
    manifest["end_date"] = summary.end_date.isoformat()
    manifest["parameters"] = parameters
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def generate(out_dir, users: int = 1000, days: int = 30, seed: int = 42, titles: int = 60,
             bad_rate: float = 0.01, duplicate_rate: float = 0.02, end_date: date = date(2026, 10, 31),
             gzip_files: bool = False, progress: Callable[[str], None] | None = None) -> GenerateSummary:
    """Write synthetic source documents for `days` days ending on `end_date` under `out_dir`.

    `bad_rate` is the share of extra bad documents (every kind in documents.md appears at
    least once when it is > 0), `duplicate_rate` the share of events delivered twice.
    `progress` gets one line per day written.
    """
    _check_arguments(users, days, titles, bad_rate, duplicate_rate, end_date)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous_output(out)
    cosmos = {c: _Cosmos(c) for c in CONTAINERS}
    run = _Run(out=out, seed=seed, users=users, days=days, titles=titles, duplicate_rate=duplicate_rate,
               end_date=end_date, gzip_files=gzip_files, bad=_BadDocs(seed, bad_rate, end_date, cosmos),
               cosmos=cosmos, tallies={c: _Tally() for c in CONTAINERS}, drift=random.Random(f"{seed}:drift"))
    catalogue = _write_content(run)
    subscribers = _write_subscriptions(run)
    unknown = _write_days(run, catalogue, subscribers, progress)
    summary = GenerateSummary(
        out_dir=str(out),
        counts={c: run.tallies[c].lines for c in CONTAINERS},
        bad={c: dict(sorted(run.tallies[c].bad.items())) for c in CONTAINERS},
        duplicates={c: run.tallies[c].duplicates for c in CONTAINERS},
        end_date=end_date,
        unknown_content_events=unknown,
    )
    parameters = {"users": users, "days": days, "seed": seed, "titles": titles, "bad_rate": bad_rate,
                  "duplicate_rate": duplicate_rate, "gzip_files": gzip_files,
                  "first_day": run.first_day.isoformat()}
    _write_manifest(out, summary, parameters)
    return summary
