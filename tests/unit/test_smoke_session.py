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


def test_the_jvm_view_asks_once_per_class_package_or_method_and_each_time_for_a_call_or_a_field(spark, monkeypatch):
    from py4j.java_gateway import JavaClass, JavaObject, JavaPackage

    jvm = spark.sparkContext._jvm
    assert spark._jvm is jvm
    functions = jvm.org.apache.spark.sql.functions  # may be the first time in this JVM
    assert isinstance(functions, JavaClass) and isinstance(jvm.org.apache, JavaPackage)
    client = jvm._gateway_client
    sent = []
    send = client.send_command
    monkeypatch.setattr(client, "send_command", lambda command, *a, **k: sent.append(command) or send(command, *a, **k))
    assert jvm.org.apache.spark.sql.functions is functions and sent == []
    dotted = getattr(jvm, "org.apache.spark.sql.functions")  # PySpark's path for F.col, F.lit, …: asked at most once
    asked = len(sent)
    assert asked <= 1 and dotted._fqn == functions._fqn
    assert getattr(jvm, "org.apache.spark.sql.functions") is dotted and len(sent) == asked
    # A static method is asked for once and called each time; a static field's value is asked each time.
    lit = functions.lit
    assert functions.lit is lit
    asked = len(sent)
    assert isinstance(lit(1), JavaObject) and len(sent) == asked + 1
    integer = jvm.java.lang.Integer
    assert integer.MAX_VALUE == 2**31 - 1
    asked = len(sent)
    assert integer.MAX_VALUE == 2**31 - 1 and len(sent) == asked + 1
    # Python's own special names (asked of a view by copy and pickle) are not kept.
    getattr(jvm, "__deepcopy__", None)
    assert "__deepcopy__" not in vars(jvm)
