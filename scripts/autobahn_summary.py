"""Summarises Autobahn index.json reports and judges them strictly.

Every case must be OK or INFORMATIONAL for both `behavior` and `behaviorClose`. NON-STRICT,
FAILED, UNIMPLEMENTED or a missing case fail the run, except UNIMPLEMENTED in the case groups
given as allowed (said loudly).
"""
import collections
import json
import os
import sys

GOOD = {"OK", "INFORMATIONAL"}


def judge(path, allowed_prefixes):
    with open(path) as f:
        index = json.load(f)
    failures, allowed = [], []
    counts = collections.Counter()
    total = 0
    for agent, cases in index.items():
        for case_id, r in sorted(cases.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
            total += 1
            b, bc = r.get("behavior"), r.get("behaviorClose")
            counts["behavior " + str(b)] += 1
            counts["behaviorClose " + str(bc)] += 1
            if b in GOOD and bc in GOOD:
                continue
            if b == "UNIMPLEMENTED" and any(case_id.startswith(p) for p in allowed_prefixes):
                allowed.append(case_id)
                continue
            failures.append(f"{agent} {case_id}: behavior={b} behaviorClose={bc}")
    return total, counts, failures, allowed


def main():
    # The report directories under `out` (servers, clients, tokio-servers, ...).
    out, roles, allowed = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
    ok = True
    for role in roles:
        path = os.path.join(out, role, "index.json")
        print(f"\n== Autobahn, {role} ({path})")
        if not os.path.exists(path):
            print("   no report: the run did not complete")
            ok = False
            continue
        total, counts, failures, allowed_cases = judge(path, allowed)
        print(f"   {total} cases")
        for key in sorted(counts):
            print(f"   {key:<32} {counts[key]}")
        if allowed_cases:
            print(f"   !!! {len(allowed_cases)} cases UNIMPLEMENTED and ALLOWED (permessage-deflate not implemented yet: "
                  f"{' '.join(p + '*' for p in allowed)})")
        if failures:
            ok = False
            print(f"   FAILED: {len(failures)} cases not OK:")
            for line in failures[:60]:
                print("     " + line)
    print("\nAutobahn: " + ("every case OK or INFORMATIONAL" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
