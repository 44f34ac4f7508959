"""The shared built lakehouse: hand-made documents whose gold rows are known, and the constants it is built with."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path


AS_OF = "2026-10-31"
PEPPER = "e2e-pepper"
HAND_USER = "u-hand-made"


def sha(user: str) -> str:
    return hashlib.sha256(f"{PEPPER}:{user}".encode()).hexdigest()


def write_hand_made(root: Path) -> None:
    """A session and a subscription whose gold rows are computed by hand below."""
    events = [
        ("h1", "start", "2026-10-20T20:00:00.000Z", 0),
        ("h2", "play", "2026-10-20T20:00:01.500Z", 0),
        ("h3", "pause", "2026-10-20T20:10:01.500Z", 600),
        ("h4", "play", "2026-10-20T20:15:01.500Z", 600),
        ("h5", "buffer", "2026-10-20T20:20:01.500Z", 900),
        ("h6", "stop", "2026-10-20T20:30:01.500Z", 1500),
    ]
    lines = []
    for doc_id, event_type, ts, pos in events:
        doc = {"id": doc_id, "userId": HAND_USER, "sessionId": "hand-session", "contentId": "c-00001",
               "deviceType": "console", "eventType": event_type, "timestamp": ts, "positionSec": pos, "_ts": 1793000000}
        if event_type == "buffer":
            doc["bufferTimeMs"] = 3000
        lines.append(json.dumps(doc))
    lines.append(lines[1])  # a duplicate delivery
    (root / "playback_events" / "zz-hand.jsonl").write_text("\n".join(reversed(lines)) + "\n")
    sub = {"id": "hand-sub", "userId": HAND_USER, "plan": "Premium", "priceMonthly": 22.99, "status": "active",
           "startDate": "2026-01-31", "endDate": None, "cancelledAt": None, "autoRenew": True,
           "customer": {"name": "Hand Made", "email": "hand@example.com", "country": "NZ"},
           "payment": {"method": "card", "cardLast4": "4242"}, "_ts": 1790000000}
    cancelled = {**sub, "status": "cancelled", "endDate": "2026-09-30", "cancelledAt": "2026-09-12T08:00:00Z",
                 "autoRenew": False, "_ts": 1790000100}
    (root / "subscriptions" / "zz-hand.jsonl").write_text(json.dumps(cancelled) + "\n" + json.dumps(sub) + "\n")


def read_documents(path: Path) -> list[dict]:
    """The JSON documents of a JSON Lines file (the generator's invalid-JSON lines left out)."""
    docs = []
    for line in path.read_text().splitlines():
        try:
            docs.append(json.loads(line))
        except ValueError:
            continue
    return docs


def cancellation_of_an_open_subscription(folder: Path) -> dict:
    """A newer version (`_ts` later) of a generated open-ended active subscription: cancelled on 2026-10-30."""
    subs = read_documents(folder / "subscriptions" / "subscriptions.jsonl")
    cancelled_ids = {s["id"] for s in subs if s.get("status") == "cancelled"}
    sub = next(s for s in subs if s.get("status") == "active" and s.get("endDate") is None
               and s["id"] not in cancelled_ids and not s["id"].startswith("sub-bad"))
    return {**sub, "status": "cancelled", "cancelledAt": "2026-10-30T12:00:00Z", "endDate": "2026-10-31",
            "autoRenew": False, "_ts": sub["_ts"] + 10_000_000}


def embedded_data(dashboard: Path) -> dict:
    """The data a dashboard file embeds (its JSON script tag)."""
    html = dashboard.read_text()
    return json.loads(re.search(r'<script type="application/json" id="dataflix-data">(.*?)</script>', html, re.S)[1])
