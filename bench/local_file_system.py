"""Hadoop's local file system against LocalFileSystemWithoutForks, in one JVM (not a test). Run it on a quiet machine.

    python bench/local_file_system.py --rounds 20

Writes and then appends to a small Delta table per round with each class in turn (the file system is chosen per
query: Hadoop's file system cache is off here), so both meet the same moments of a noisy machine. Prints each
class's median seconds per table (a create and an append: Delta's commits, parquet files, checksums).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataflix_spark.config import SparkSettings  # noqa: E402
from dataflix_spark.local_file_system import CLASS, HADOOP_CONF  # noqa: E402
from dataflix_spark.session import get_spark  # noqa: E402

HADOOP = {"fs.file.impl": "org.apache.hadoop.fs.LocalFileSystem",
          "fs.AbstractFileSystem.file.impl": "org.apache.hadoop.fs.local.LocalFs"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    spark = get_spark(SparkSettings(master="local[2]", app_name="bench-local-fs", driver_memory="2g",
                                    shuffle_partitions=2, conf={"spark.ui.enabled": "false"}))
    jvm = spark.sparkContext._jvm
    if jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"),
                                              spark.sparkContext._jsc.hadoopConfiguration()).getClass().getName() != CLASS:
        raise SystemExit("this JVM has no LocalFileSystemWithoutForks (no javac, or DATAFLIX_CACHE_DIR=off)")
    spark.conf.set("fs.file.impl.disable.cache", "true")
    seconds: dict[str, list[float]] = {"hadoop": [], "ours": []}
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(args.rounds + 1):
            for name, settings in (("hadoop", HADOOP), ("ours", HADOOP_CONF)):
                for key, value in settings.items():
                    spark.conf.set(key, value)
                path = os.path.join(work, f"{name}-{round_}")
                started = time.perf_counter()
                spark.range(100).write.format("delta").save(path)
                spark.range(100).write.format("delta").mode("append").save(path)
                if round_:  # the first round warms the JIT for both
                    seconds[name].append(time.perf_counter() - started)
    for name, values in seconds.items():
        print(f"{name:<7} median {statistics.median(values):.3f} s per table (create and append), "
              f"min {min(values):.3f}, max {max(values):.3f}, {len(values)} rounds")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
