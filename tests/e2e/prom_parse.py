#!/usr/bin/env python3
"""Strict parser of the Prometheus text exposition format (0.0.4) for the e2e tests.

Reads an exposition on stdin; exits 1 with one line per problem on stderr, or prints one JSON object:
{"family": {"type": "counter", "help": "...", "samples": [{"name": ..., "labels": {...}, "value": ...}]}}.

Every line must be a HELP, a TYPE, or a sample of the family whose TYPE came last (samples of a family are
contiguous); names and label names must be valid, label values correctly escaped, values floats; no series twice;
histogram buckets ascending in le, cumulative, ending with le="+Inf" equal to _count, with _sum. The result is also
cross-checked against prometheus_client's own parser (Debian's python3-prometheus-client).
"""
import json
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
HELP_RE = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE_RE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)(?: (-?\d+))?$")
LABEL_RE = re.compile(rf'({LABEL_NAME})="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)')
SUFFIXES = {"counter": ["_total", ""], "gauge": [""], "untyped": [""], "histogram": ["_bucket", "_sum", "_count"]}


def unescape(value):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], value)


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"bad value {text!r}")
    return float(text)


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            raise ValueError(f"bad labels {text!r}")
        if m.group(1) in labels:
            raise ValueError(f"label {m.group(1)} twice")
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
    return labels


def parse(text):
    problems, families, current = [], {}, None
    seen_series = set()
    if not text.endswith("\n"):
        problems.append("the exposition does not end with a newline")
    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}: {line!r}"
        if m := HELP_RE.match(line):
            name = m.group(1)
            if name in families:
                problems.append(f"{where}: family {name} declared twice")
            families[name] = {"type": None, "help": unescape(m.group(2)), "samples": []}
            current = name
        elif m := TYPE_RE.match(line):
            name = m.group(1)
            if name != current or families[name]["type"] is not None:
                problems.append(f"{where}: TYPE must follow its own HELP, once")
                continue
            families[name]["type"] = m.group(2)
        elif m := SAMPLE_RE.match(line):
            name, labels_text, value_text = m.group(1), m.group(2) or "", m.group(3)
            family = families.get(current) if current else None
            if not family or family["type"] is None:
                problems.append(f"{where}: sample before any HELP and TYPE")
                continue
            suffix = name[len(current):] if name.startswith(current) else None
            if suffix not in SUFFIXES[family["type"]]:
                problems.append(f"{where}: {name} is not a sample of the {family['type']} {current}")
                continue
            try:
                labels = parse_labels(labels_text)
                value = parse_value(value_text)
            except ValueError as e:
                problems.append(f"{where}: {e}")
                continue
            key = (name, tuple(sorted(labels.items())))
            if key in seen_series:
                problems.append(f"{where}: series twice")
            seen_series.add(key)
            family["samples"].append({"name": name, "labels": labels, "value": value})
        else:
            problems.append(f"{where}: neither HELP, TYPE nor a sample")
    for name, family in families.items():
        if family["type"] == "histogram":
            problems += check_histogram(name, family["samples"])
    return families, problems


def check_histogram(name, samples):
    problems, series = [], {}
    for s in samples:
        base = tuple(sorted((k, v) for k, v in s["labels"].items() if k != "le"))
        entry = series.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if s["name"] == name + "_bucket":
            if "le" not in s["labels"]:
                problems.append(f"{name}: a bucket without le")
                continue
            entry["buckets"].append((parse_value(s["labels"]["le"]), s["value"]))
        elif s["name"] == name + "_sum":
            entry["sum"] = s["value"]
        else:
            entry["count"] = s["value"]
    for base, e in series.items():
        les = [le for le, _ in e["buckets"]]
        counts = [c for _, c in e["buckets"]]
        if not les or les[-1] != math.inf:
            problems.append(f"{name}{dict(base)}: no le=\"+Inf\" bucket last")
        if les != sorted(les) or len(set(les)) != len(les):
            problems.append(f"{name}{dict(base)}: buckets not in ascending le")
        if counts != sorted(counts):
            problems.append(f"{name}{dict(base)}: bucket counts not cumulative")
        if e["sum"] is None or e["count"] is None:
            problems.append(f"{name}{dict(base)}: _sum or _count missing")
        elif counts and counts[-1] != e["count"]:
            problems.append(f"{name}{dict(base)}: +Inf bucket {counts[-1]} != _count {e['count']}")
    return problems


def cross_check(text, families):
    from prometheus_client.parser import text_string_to_metric_families

    theirs = {}
    for f in text_string_to_metric_families(text):
        theirs[f.name] = len(f.samples)
    # prometheus_client names a counter family without its _total.
    ours = {(n[: -len("_total")] if f["type"] == "counter" and n.endswith("_total") else n): len(f["samples"])
            for n, f in families.items()}
    return [] if theirs == ours else [f"prometheus_client reads {theirs}, this parser {ours}"]


def main():
    text = sys.stdin.read()
    families, problems = parse(text)
    if not problems:
        problems = cross_check(text, families)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    json.dump(families, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
