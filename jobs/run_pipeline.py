"""spark-submit entry point: `spark-submit jobs/run_pipeline.py --input DIR --lakehouse DIR [--as-of D]`.

Takes the same flags as `dataflix run`.
"""
import sys

from dataflix_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
