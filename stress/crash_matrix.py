"""Heavy variant of tests/reliability/test_crash_matrix.py: SIGKILL the operator N times (default 1000).

    python stress/crash_matrix.py [--kills 1000] [--lanes 3] [--in-flight 6] [--seed 8] [--json out.json]

Prints one JSON document (the report) and a short table; exits 1 if any invariant failed (a duplicate restart, a CR
that is not terminal, an Unknown the policy does not explain). Not a test: the CI suite runs about 200 kills.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.crash_matrix import CrashMatrix, MatrixEnvironment, MatrixSettings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--lanes", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=6)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the operator logs (printed path)")
    args = parser.parse_args()
    settings = MatrixSettings(kills=args.kills, lanes=args.lanes, in_flight=args.in_flight, seed=args.seed,
                              settle_timeout=300.0)
    with tempfile.TemporaryDirectory(prefix="crash-matrix-") as tmp_name:
        tmp = Path(tmp_name)
        with MatrixEnvironment(tmp) as env:
            report = CrashMatrix(env, settings, label="stress").run()
        if args.keep:
            keep = Path(tempfile.mkdtemp(prefix="crash-matrix-logs-"))
            for log in tmp.glob("*.log"):
                (keep / log.name).write_bytes(log.read_bytes())
            print(f"operator logs: {keep}", file=sys.stderr)
    document = report.as_dict()
    print(json.dumps(document, indent=2, sort_keys=True))
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    rows = [("kills", report.kills), ("fallback kills", report.fallback_kills), ("CRs", report.crs),
            ("waitForCompletion CRs", report.runs_with_waiting), ("duplicates", report.duplicates),
            ("unknowns", report.unknowns), ("unexplained unknowns", report.unexplained_unknowns),
            ("restart requests", report.restart_requests), ("operator starts", report.operator_starts),
            ("elapsed (s)", f"{report.elapsed:.1f}")]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    for point, count in sorted(report.kills_by_point.items()):
        print(f"  kills at {point:<{width - 9}}  {count}")
    ok = not report.problems and report.duplicates == 0 and report.kills >= args.kills
    if report.problems:
        print("PROBLEMS:\n" + "\n".join(report.problems[:50]), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
