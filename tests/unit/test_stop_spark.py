"""session.stop_spark: the application stops without waiting for PySpark's accumulator server (the CLI's exit).

A stand-in session, as PySpark's SparkContext.stop behaves: it shuts the accumulator server down (a wait of up to
a second) only while the context still holds it. The CLI's subprocess tests stop real sessions through it.
"""
from __future__ import annotations

from dataflix_spark.session import stop_spark


class _AccumulatorServer:
    server_shutdown = False

    def shutdown(self) -> None:
        raise AssertionError("waited for the accumulator server")


class _Context:
    def __init__(self, server: _AccumulatorServer | None) -> None:
        self._accumulatorServer = server


class _Session:
    def __init__(self, server: _AccumulatorServer | None) -> None:
        self.sparkContext = _Context(server)
        self.stopped = False

    def stop(self) -> None:
        if self.sparkContext._accumulatorServer is not None:
            self.sparkContext._accumulatorServer.shutdown()
        self.stopped = True


def test_the_session_stops_and_the_accumulator_server_is_told_to_end_without_a_wait():
    server = _AccumulatorServer()
    session = _Session(server)
    stop_spark(session)
    assert session.stopped
    assert server.server_shutdown  # its handler's loop ends at its next poll
    assert session.sparkContext._accumulatorServer is None


def test_a_context_without_an_accumulator_server_is_stopped_as_usual():
    session = _Session(None)
    stop_spark(session)
    assert session.stopped
