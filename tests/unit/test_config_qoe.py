"""The optional `qoe:` block of conf/*.yaml → `QoeThresholds` (no Spark needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dataflix_spark.config import ConfigError, QoeThresholds, load_settings

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_defaults_without_a_qoe_block(tmp_path):
    conf = tmp_path / "old.yaml"
    conf.write_text("source: local\nlakehouse: ./lh\n")
    assert load_settings(str(conf)).qoe == QoeThresholds(rebuffer_ratio=0.02, startup_p90_ms=4000)
    assert load_settings().qoe == QoeThresholds()


def test_shipped_configs_state_the_default_thresholds():
    for name in ("local.yaml", "cluster.yaml"):
        assert load_settings(str(CONF / name)).qoe == QoeThresholds()


def test_a_qoe_block_overrides_only_what_it_names(tmp_path):
    conf = tmp_path / "strict.yaml"
    conf.write_text("qoe:\n  rebuffer_ratio: 0.01\n")
    assert load_settings(str(conf)).qoe == QoeThresholds(rebuffer_ratio=0.01, startup_p90_ms=4000)


@pytest.mark.parametrize(
    "block",
    [
        "qoe:\n  rebuffer_ratio: 2\n",  # a percentage, not a ratio
        "qoe:\n  rebuffer_ratio: '2%'\n",
        "qoe:\n  startup_p90_ms: 4.5\n",
        "qoe:\n  startup_p90_ms: -1\n",
        "qoe:\n  startup_p90_ms: true\n",
        "qoe:\n  rebuffering: 0.02\n",  # unknown key
        "qoe: 0.02\n",
    ],
)
def test_bad_qoe_settings_are_config_errors(tmp_path, block):
    conf = tmp_path / "bad.yaml"
    conf.write_text(block)
    with pytest.raises(ConfigError):
        load_settings(str(conf))
