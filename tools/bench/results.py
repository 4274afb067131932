"""Benchmark result records: BENCH line parsing and JSON-lines output.

A record is one JSON object per line in build/bench/results.jsonl:
  {"name": "<area>.<system>.<metric>_<unit>", "value": <number>,
   "unit": "<unit>", "mode": "tcg" | "tcg-icount" | "host", "config": {...}}
system is hallows or linux; the name must end with "_" + unit.

Guests print results on serial as
  BENCH <name> <value> <unit> [key=value ...]
and the key=value pairs land in config.
"""
import json
import math
import os
import re
from typing import Iterable, List, Optional

MODES = ("tcg", "tcg-icount", "host")
NAME_RX = re.compile(r"^[a-z][a-z0-9_]*\.(hallows|linux)\.[a-z][a-z0-9_]*$")
UNIT_RX = re.compile(r"^[a-z][a-z0-9]*$")
BENCH_RX = re.compile(r"^BENCH\s+(\S+)\s+(\S+)\s+(\S+)((?:\s+[A-Za-z0-9_.-]+=\S*)*)\s*$")


class ResultError(ValueError):
    """A record that breaks the naming or type rules."""


def make_result(name: str, value, unit: str, mode: str,
                config: Optional[dict] = None) -> dict:
    """Return a validated record; raise ResultError if a rule is broken."""
    if not NAME_RX.match(name or ""):
        raise ResultError(f"bad name {name!r}: want <area>.<hallows|linux>.<metric>_<unit>")
    if not UNIT_RX.match(unit or "") or not name.endswith("_" + unit):
        raise ResultError(f"name {name!r} must end with _{unit}")
    if mode not in MODES:
        raise ResultError(f"bad mode {mode!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise ResultError(f"bad value {value!r} for {name}")
    return {"name": name, "value": value, "unit": unit, "mode": mode,
            "config": dict(config or {})}


def append_results(path: str, records: Iterable[dict]) -> int:
    """Append records as JSON lines to path (dirs created); return how many."""
    recs = list(records)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        for r in recs:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    return len(recs)


def _number(text: str):
    """int or float from text, or None (also for nan/inf)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_bench_line(line: str) -> Optional[dict]:
    """Parse one 'BENCH name value unit [k=v ...]' line.

    Returns {"name", "value", "unit", "extra": {k: number-or-str}} or None
    if the line is not a well-formed BENCH line. Never raises.
    """
    if not isinstance(line, str):
        return None
    m = BENCH_RX.match(line.strip())
    if not m:
        return None
    value = _number(m.group(2))
    if value is None:
        return None
    extra = {}
    for kv in m.group(4).split():
        k, v = kv.split("=", 1)
        n = _number(v)
        extra[k] = v if n is None else n
    return {"name": m.group(1), "value": value, "unit": m.group(3), "extra": extra}


def parse_bench_lines(lines: Iterable[str]) -> List[dict]:
    """All well-formed BENCH lines, in order."""
    return [p for p in (parse_bench_line(l) for l in lines) if p]


def bench_errors(lines: Iterable[str]) -> List[str]:
    """Lines a guest printed to say a benchmark failed (BENCH-ERROR ...)."""
    return [l.strip() for l in lines if l.strip().startswith("BENCH-ERROR")]


def run_records(run, cfg, program: str, who: str) -> List[dict]:
    """The records of a guest run's BENCH lines (run: qemu.run_qemu's result).

    Exits naming `who` and showing the last console lines when the guest
    printed no figure or no BENCH-DONE.
    """
    config = dict(cfg.describe(), program=program)
    recs = [make_result(b["name"], b["value"], b["unit"], cfg.mode(), config)
            for b in parse_bench_lines([t for _, t in run.lines])]
    if not recs or not run.search(r"^BENCH-DONE"):
        raise SystemExit(f"{who}: {os.path.basename(program)} did not finish:\n" +
                         "\n".join(t for _, t in run.lines[-20:]))
    return recs


def known_values(path: str, recs: Iterable[dict]) -> dict:
    """name -> value of the figures in the results file at path, then recs."""
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                known[r["name"]] = r["value"]
    known.update({r["name"]: r["value"] for r in recs})
    return known
