"""Rerun the benchmarks and fail when a figure is more than 20 % worse than the last run on this machine kind.

Usage: python scripts/bench_check.py [drift serve features model dashboard] [--tolerance 0.2] [--compare-only]
(``make bench-check``; run it before every release, on a quiet machine, and commit the new records).

Each benchmark appends its figures to ``docs/benchmarks/<bench>.jsonl`` (``benchutil.record``). For each bench
asked for, this script reads the newest record of this machine kind (cores, memory, CPU model), runs the
benchmark's make target, and compares every figure of the new record with the old one: a "lower is better" figure
(seconds, milliseconds) regresses above (1 + tolerance) times its old value, a "higher is better" one (requests or
rows per second, ratios) below (1 - tolerance) times it. A figure that names a baseline of its own run (the hello
world for the API, Evidently for the drift report, the empty page for the dashboard) is compared as its ratio to
that baseline, so the machine's speed on the day cancels out; the others are compared as they are.
``--compare-only`` runs nothing and compares the newest two records of each bench. A run whose load average
exceeded the core count is flagged: a busy machine's figures are not comparable, so rerun before believing a regression.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Final

from benchutil import PROJECT_ROOT, machine_kind, read_records

# bench name -> the make target that runs it (and appends its record)
BENCHES: Final = {
    "drift": "bench-drift",
    "serve": "bench-serve",
    "features": "bench-features",
    "model": "bench-model",
    "dashboard": "bench-dashboard",
}
TOLERANCE: Final = 0.20


@dataclass(frozen=True)
class Change:
    """One figure, before and after, and the same-run baseline it is compared through (when it has one)."""

    name: str
    before: float
    after: float
    unit: str
    better: str
    tolerance: float
    baseline: str | None = None
    before_base: float = 1.0
    after_base: float = 1.0
    # another figure's baseline (the hello world, Evidently): it measures the machine, so it never fails the check
    yardstick: bool = False

    @property
    def ratio(self) -> float:
        """After over before; for a figure with a baseline, its share of the baseline after over before."""
        before = self.before / self.before_base if self.before_base else 0.0
        after = self.after / self.after_base if self.after_base else float("inf")
        return after / before if before else float("inf")

    @property
    def regressed(self) -> bool:
        """Worse than the tolerance allows, in the figure's own direction (a yardstick never is)."""
        if self.yardstick:
            return False
        if self.better == "lower":
            return self.ratio > 1 + self.tolerance
        return self.ratio < 1 - self.tolerance

    def line(self) -> str:
        """One row of the printed table."""
        verdict = "WORSE" if self.regressed else "ok"
        through = f"; against {self.baseline}" if self.baseline else "; absolute"
        if self.yardstick:
            through, verdict = "; the machine's yardstick", "-"
        return (
            f"  {self.name:<44}{self.before:>12.4g}{self.after:>12.4g} {self.unit:<8}"
            f"{self.ratio - 1:>+8.0%}  ({self.better} is better{through}) {verdict}"
        )


def changes(before: dict[str, Any], after: dict[str, Any], tolerance: float) -> list[Change]:
    """Every figure in both records, in the newer record's order.

    A figure that names a baseline present in both records is compared as its ratio to that baseline (the same
    run's hello world, Evidently, empty page): a machine that is slower today moves both. Without one, it is
    compared as it is, and a slower machine day shows there.
    """
    found = []
    yardsticks = {figure.get("baseline") for figure in after["figures"].values()}
    for name, figure in after["figures"].items():
        old = before["figures"].get(name)
        if old is None or old["better"] != figure["better"]:
            continue
        values = float(old["value"]), float(figure["value"])
        baseline = figure.get("baseline")
        bases = (before["figures"].get(baseline), after["figures"].get(baseline)) if baseline else (None, None)
        if bases[0] is None or bases[1] is None:
            found.append(
                Change(name, *values, figure["unit"], figure["better"], tolerance, yardstick=name in yardsticks)
            )
            continue
        base_values = float(bases[0]["value"]), float(bases[1]["value"])
        found.append(Change(name, *values, figure["unit"], figure["better"], tolerance, baseline, *base_values))
    return found


def on_this_machine(bench: str, kind: str) -> list[dict[str, Any]]:
    return [entry for entry in read_records(bench) if entry["machine"] == kind]


def busy(entry: dict[str, Any]) -> bool:
    cores = os.cpu_count() or 1
    return max(entry.get("load_at_start", 0.0), entry.get("load_at_end", 0.0)) > cores


def compare(bench: str, before: dict[str, Any], after: dict[str, Any], tolerance: float) -> bool:
    """Print the bench's figures side by side; whether any regressed."""
    print(f"\n{bench}: {before['date']} ({before['commit']}) -> {after['date']} ({after['commit']})")
    for label, entry in (("before", before), ("after", after)):
        if busy(entry):
            load = f"load {entry['load_at_start']} at start, {entry['load_at_end']} at end"
            print(f"  note: the {label} run was on a busy machine ({load}, {os.cpu_count()} cores): rerun first")
    print(f"  {'figure':<44}{'before':>12}{'after':>12} {'unit':<8}{'change':>8}")
    found = changes(before, after, tolerance)
    for change in found:
        print(change.line())
    if not found:
        print("  no figure in common")
    return any(change.regressed for change in found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="allowed worsening, as a fraction")
    parser.add_argument("--compare-only", action="store_true", help="run nothing; compare the newest two records")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benches) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    kind = machine_kind()
    print(f"machine kind: {kind}; a figure more than {args.tolerance:.0%} worse than the last run here fails")
    regressed, failed = [], []
    for bench in args.benches or list(BENCHES):
        earlier = on_this_machine(bench, kind)
        if args.compare_only:
            if len(earlier) < 2:
                print(f"\n{bench}: {len(earlier)} record(s) on this machine kind, nothing to compare")
                continue
            before, after = earlier[-2], earlier[-1]
        else:
            print(f"\n== make {BENCHES[bench]}", flush=True)
            if subprocess.run(["make", "--no-print-directory", BENCHES[bench]], cwd=PROJECT_ROOT).returncode != 0:
                failed.append(bench)
                continue
            now = on_this_machine(bench, kind)
            if len(now) == len(earlier):
                print(f"{bench}: the benchmark left no record", file=sys.stderr)
                failed.append(bench)
                continue
            if not earlier:
                print(f"\n{bench}: the first record on this machine kind, nothing to compare")
                continue
            before, after = earlier[-1], now[-1]
        if compare(bench, before, after, args.tolerance):
            regressed.append(bench)
    if failed:
        print(f"\nbench-check: FAILED to run {', '.join(failed)}", file=sys.stderr)
    if regressed:
        print(f"\nbench-check: REGRESSED: {', '.join(regressed)}", file=sys.stderr)
    if not failed and not regressed:
        print("\nbench-check: no figure more than the tolerance worse")
    return 1 if failed or regressed else 0


if __name__ == "__main__":
    sys.exit(main())
