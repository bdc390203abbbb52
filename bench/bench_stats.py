"""Interval arithmetic shared by the Python benchmarks (probe_cost.py, node_cost.py, guard_cost.py): one t table,
one rule."""
import math
import statistics

# Two-sided 95 % Student t quantiles by degrees of freedom (then 1.96).
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 12: 2.18,
       15: 2.13, 20: 2.09, 25: 2.06, 30: 2.04, 40: 2.02, 60: 2.00}


def t95(df):
    """The quantile of the nearest tabulated df at or above df (conservative), 1.96 past the table."""
    best = 1.96
    for k in sorted(T95, reverse=True):
        if df <= k:
            best = T95[k]
    return best


def judge(mean, half, goal):
    """A ratio's mean and 95 % half-width against an upper goal: met only when the whole interval is within it,
    missed only when the whole interval is past it (bench/report.cpp's judge_interval() says the same)."""
    return "met" if mean + half <= goal else ("MISSED" if mean - half > goal else "unresolved")


def interval(values):
    """Mean and 95 % half-width of the mean."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.inf
    return m, t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
