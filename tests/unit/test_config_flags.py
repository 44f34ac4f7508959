"""Flags over conf/*.yaml over the defaults (no Spark needed)."""
from __future__ import annotations

from dataflix_spark import cli
from dataflix_spark.config import SparkSettings, load_settings


def test_flags_left_unset_keep_the_default_master(tmp_path):
    # `dataflix run` without --conf or --master once ran with master None: Spark's own local[*], but without
    # the local-mode Delta tuning keyed on the master (an incremental 10 M run took 148 s instead of 98 s).
    args = cli._parser().parse_args(["run", "--input", str(tmp_path), "--lakehouse", str(tmp_path / "lh")])
    assert cli._settings(args).spark.master == "local[*]"
    assert load_settings(None, {"spark": {"master": None}}).spark == SparkSettings()
    conf = tmp_path / "only-memory.yaml"
    conf.write_text("spark:\n  driver_memory: 2g\n")
    assert load_settings(str(conf), {"spark": {"master": None}}).spark == SparkSettings(driver_memory="2g")
    assert load_settings(str(conf), {"spark": {"master": "local[1]"}}).spark.master == "local[1]"
