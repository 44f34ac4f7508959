"""Exact nearest-rank percentiles, as metrics.md defines them.

The p-th percentile of n values is the smallest x with at least ⌈p·n⌉ values <= x, i.e. the
value at 1-based rank ⌈p·n⌉ in ascending order. For large groups (a day's sessions on a device),
ranks come from a window sort, which spills to disk instead of holding a group's values in memory
(`agg_percentiles`). For small groups (one user's sessions in a month) the values are collected
and sorted within the aggregation that computes the group's other measures (`nearest_rank`): one
shuffle instead of three.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def percentile_rank(permille: int, n: str = "_n") -> str:
    """SQL for ⌈permille·n/1000⌉ in integer arithmetic (0.9 * 10 must be 9, never 9.000000000000002);
    `n` is the SQL of the count."""
    return f"({permille} * {n} + 999) div 1000"


def agg_percentiles(df: DataFrame, keys: list[str], value: str, percentiles: dict[str, int]) -> DataFrame:
    """One row per key group that has a non-null `value`, one column per name in `percentiles` (permille)."""
    group = Window.partitionBy(*keys)
    ranked = df.where(F.col(value).isNotNull()).select(
        *keys,
        value,
        F.row_number().over(group.orderBy(value)).alias("_rank"),
        F.count(F.lit(1)).over(group).alias("_n"),
    )
    return ranked.groupBy(*keys).agg(
        *[
            F.min(F.when(F.col("_rank") == F.expr(percentile_rank(permille)), F.col(value))).alias(name)
            for name, permille in percentiles.items()
        ]
    )


def nearest_rank(sorted_values: str, permille: int) -> Column:
    """The percentile of an ascending array column of non-null values, e.g. `F.sort_array(F.collect_list(v))`
    (collect_list skips nulls); null when it is empty. Holds a group's values in memory: small groups only."""
    n = f"size({sorted_values})"
    rank = f"CAST({percentile_rank(permille, n)} AS INT)"
    return F.expr(f"CASE WHEN {n} > 0 THEN element_at({sorted_values}, {rank}) END")
