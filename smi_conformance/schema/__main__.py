"""python -m smi_conformance.schema {generate,check} [--root schemas] | compare CRD_DIR

generate: write schemas/ (and the linter's quick-accept schemas, smi_conformance/models/quick_accept.json)
from the models; check: exit 1 if they differ from what the models generate;
compare: print how the generated CRDs differ from the CRD sets in CRD_DIR's subfolders (e.g. smi-sdk-go/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smi_conformance.models.quick_accept import SCHEMAS as QUICK_SCHEMAS
from smi_conformance.schema import drift, official_differences, write
from smi_conformance.schema.quick import quick_drift, write_quick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smi_conformance.schema", description=__doc__)
    parser.add_argument("command", choices=["generate", "check", "compare"])
    parser.add_argument("crd_dir", nargs="?", type=Path, help="for compare: a folder of CRD sets")
    parser.add_argument(
        "--root", type=Path, default=Path("schemas"), help="the schemas/ folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.command == "compare":
        if args.crd_dir is None:
            parser.error("compare needs CRD_DIR")
        for set_name, difference in official_differences(args.crd_dir):
            print(f"{set_name}: {difference}")
        return 0
    if args.command == "generate":
        changed = write(args.root) + ([str(QUICK_SCHEMAS)] if write_quick() else [])
        print(
            f"{len(changed)} file(s) written or removed under {args.root}"
            + "".join(f"\n  {c}" for c in changed)
        )
        return 0
    problems = drift(args.root) + quick_drift()
    if problems:
        print(f"{args.root} is out of date with the models; run `make schemas`:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{args.root} matches the models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
