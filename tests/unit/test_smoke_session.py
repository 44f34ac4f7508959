import threading
import time

from pyspark import SparkContext

from dataflix_spark import session


def test_session_is_utc_with_delta(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions")


def test_jvm_starts_take_turns_on_the_ivy_folder(tmp_path, monkeypatch):
    # Two starts on a machine without the jars downloaded them into the same files at once, and failed.
    monkeypatch.setattr(SparkContext, "_gateway", None)  # as before this process starts its JVM
    said = []

    def second_start() -> None:
        with session._one_jvm_start_at_a_time(str(tmp_path / "ivy")):
            said.append("second started")

    with session._one_jvm_start_at_a_time(str(tmp_path / "ivy")):
        other = threading.Thread(target=second_start)
        other.start()
        time.sleep(0.5)
        said.append("first started")
    other.join(timeout=10)
    assert said == ["first started", "second started"]
    assert (tmp_path / "ivy" / ".dataflix-jvm-start.lock").exists()


def test_a_running_jvm_resolves_nothing_and_takes_no_lock(spark, tmp_path):
    with session._one_jvm_start_at_a_time(str(tmp_path / "ivy")):
        assert not (tmp_path / "ivy").exists()
