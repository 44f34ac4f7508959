"""bench/conf_ab.py: a variant is a name and the settings it sets."""
import argparse

import pytest

from bench.conf_ab import variant


def test_a_variant_is_named_settings():
    assert variant("one-task=spark.databricks.delta.snapshotPartitions:1,spark.x.y:a:b") == (
        "one-task", {"spark.databricks.delta.snapshotPartitions": "1", "spark.x.y": "a:b"})


@pytest.mark.parametrize("text", ["no-settings", "=spark.x:1", "name=", "name=spark.x"])
def test_a_variant_without_a_name_or_a_key_value_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        variant(text)
