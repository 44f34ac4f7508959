"""The containers are ingested at once; the events' unknown-content count alone waits for this run's catalogue."""
from __future__ import annotations

import datetime as dt
import json
import threading

from dataflix_spark import pipeline
from dataflix_spark.generate import generate
from dataflix_spark.pipeline import RunOptions, run
from tests.integration.built import read_documents


def test_the_unknown_content_count_waits_for_the_catalogue_ingested_beside_it(spark, tmp_path, monkeypatch):
    """The catalogue's ingest starts only once the events' count has asked for it: a count that did not wait
    would read a catalogue not written yet."""
    data = tmp_path / "input"
    summary = generate(str(data), users=5, days=2, seed=3, titles=6, bad_rate=0.0, duplicate_rate=0.0)
    event = next(e for e in read_documents(next((data / "playback_events").iterdir())) if e.get("eventType") == "play")
    (data / "playback_events" / "zz-unknown.jsonl").write_text(
        json.dumps({**event, "id": "e-unknown-title", "contentId": "c-not-in-the-catalogue"}) + "\n")

    real, asked, order = pipeline.ingest_container, threading.Event(), []

    def ingest(spark, opts, container, taken, progress, catalogue_ready=pipeline._ready):
        if container == "content":
            assert asked.wait(300), "the events' count never asked for the catalogue"
            try:
                return real(spark, opts, container, taken, progress)
            finally:
                order.append("catalogue ingested")
        if container != "playback_events":
            return real(spark, opts, container, taken, progress, catalogue_ready)

        def ready() -> None:
            asked.set()
            catalogue_ready()
            order.append("count may read the catalogue")
        return real(spark, opts, container, taken, progress, ready)

    monkeypatch.setattr(pipeline, "ingest_container", ingest)
    counts = {c.container: c for c in run(spark, RunOptions(input_dir=str(data), lakehouse=str(tmp_path / "lake"),
                                                            as_of=dt.date(2026, 10, 31), pepper="order"))}
    assert order == ["catalogue ingested", "count may read the catalogue"]
    assert counts["playback_events"].unknown_content == summary.unknown_content_events + 1
