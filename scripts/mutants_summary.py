"""Summarises a cargo-mutants run: per source file, the mutants caught, missed, unviable and timed
out, and the mutation score caught / (caught + missed); then the total and every missed mutant.

    python3 scripts/mutants_summary.py [target/mutants/mutants.out]

Reads outcomes.json (written as the run goes, so a stopped run is summarised as far as it got);
falls back to caught.txt, missed.txt, unviable.txt and timeout.txt. Exits 1 when any mutant was
missed, 0 otherwise.
"""
import collections
import json
import os
import re
import sys

KINDS = ("caught", "missed", "unviable", "timeout")
# cargo-mutants' summary word for each outcome of a mutant.
SUMMARY_KIND = {
    "CaughtMutant": "caught",
    "MissedMutant": "missed",
    "Unviable": "unviable",
    "Timeout": "timeout",
}


def describe(m):
    """The `file:line:col: replace ... with ...` line cargo-mutants prints for a mutant."""
    if m.get("name"):
        return m["name"]
    span = m.get("span", {}).get("start", {})
    func = (m.get("function") or {}).get("function_name", "?")
    return "{}:{}:{}: replace {} with {} in {}".format(
        m.get("file", "?"), span.get("line", "?"), span.get("column", "?"),
        m.get("original", "?"), m.get("replacement", "?"), func)


def from_json(path):
    with open(path) as f:
        data = json.load(f)
    rows = []
    for o in data.get("outcomes", []):
        scenario = o.get("scenario")
        if not isinstance(scenario, dict) or "Mutant" not in scenario:
            continue  # the baseline run
        kind = SUMMARY_KIND.get(o.get("summary"))
        if kind is None:
            continue
        m = scenario["Mutant"]
        rows.append((m.get("file", "?"), kind, describe(m)))
    return rows


LINE = re.compile(r"^(?P<file>[^:]+):\d+:\d+: ")


def from_text(out_dir):
    rows = []
    for kind in KINDS:
        path = os.path.join(out_dir, kind + ".txt")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    m = LINE.match(line)
                    rows.append((m.group("file") if m else "?", kind, line))
    return rows


def score(c):
    judged = c["caught"] + c["missed"]
    return "{:.1f} %".format(100.0 * c["caught"] / judged) if judged else "-"


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "mutants.out"
    outcomes = os.path.join(out_dir, "outcomes.json")
    rows = []
    if os.path.exists(outcomes):
        try:
            rows = from_json(outcomes)
        except (ValueError, OSError) as e:
            print("mutants_summary: cannot read {} ({}); using the .txt lists".format(outcomes, e),
                  file=sys.stderr)
            rows = from_text(out_dir)
    else:
        rows = from_text(out_dir)
    if not rows:
        print("mutants_summary: no mutant outcome in {}".format(out_dir))
        return 0

    per_file = collections.defaultdict(collections.Counter)
    total = collections.Counter()
    missed = []
    for file, kind, desc in rows:
        per_file[file][kind] += 1
        total[kind] += 1
        if kind == "missed":
            missed.append(desc)

    width = max(len("file"), max(len(f) for f in per_file), len("total"))
    header = "{:<{w}}  {:>6}  {:>6}  {:>8}  {:>7}  {:>7}".format(
        "file", "caught", "missed", "unviable", "timeout", "score", w=width)
    print()
    print(header)
    print("-" * len(header))
    for file in sorted(per_file):
        c = per_file[file]
        print("{:<{w}}  {:>6}  {:>6}  {:>8}  {:>7}  {:>7}".format(
            file, c["caught"], c["missed"], c["unviable"], c["timeout"], score(c), w=width))
    print("-" * len(header))
    print("{:<{w}}  {:>6}  {:>6}  {:>8}  {:>7}  {:>7}".format(
        "total", total["caught"], total["missed"], total["unviable"], total["timeout"], score(total),
        w=width))
    print("(score = caught / (caught + missed); unviable mutants do not build, timed-out ones hung the tests)")
    if missed:
        print()
        print("MISSED ({}): the tests pass with these changes".format(len(missed)))
        for desc in sorted(missed):
            print("  " + desc)
        return 1
    print()
    print("no missed mutant")
    return 0


if __name__ == "__main__":
    sys.exit(main())
