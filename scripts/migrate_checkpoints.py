"""Rewrite checkpoints written before issue 16's renames to today's names (settings, parameters, file names).

    .venv/bin/python scripts/migrate_checkpoints.py shipped/          # every shipped/<experiment>/*.pt + manifest
    .venv/bin/python scripts/migrate_checkpoints.py checkpoints/      # every checkpoints/<experiment>/*.pt
    .venv/bin/python scripts/migrate_checkpoints.py --dry-run checkpoints/circles
    .venv/bin/python scripts/migrate_checkpoints.py --results results/  # results that name settings by hash

Each PATH is a folder of experiment folders (checkpoints/, shipped/), one experiment's folder, or one file. A file
already in today's names is left alone, so running it again changes nothing; a file that cannot be migrated (or
whose migrated copy fails its checks) is kept as it is and reported. What changes and how it is checked:
``srnlib.migrate``. Do not run it on a folder while a training run writes there: stop the run first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from srnlib import migrate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="checkpoints/, shipped/, an experiment folder or a file")
    parser.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    parser.add_argument("--results", type=Path, default=None, help="also give results/ JSONs the new settings hashes")
    args = parser.parse_args(argv)
    if not args.paths and args.results is None:
        parser.error("name at least one PATH (or --results)")
    counts: dict[str, int] = {}
    for root in args.paths:
        if not root.exists():
            parser.error(f"{root} does not exist")
        for status, _, message in migrate.migrate_tree(root, dry_run=args.dry_run):
            counts[status] = counts.get(status, 0) + 1
            print(f"{status:>8}  {message}")
    if args.results is not None:
        for path in migrate.migrate_results(args.results, dry_run=args.dry_run):
            print(f"{'would fix' if args.dry_run else 'fixed':>8}  {path}: settings hash / names")
    print(", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no checkpoints")
    return 1 if counts.get("failed") else 0


if __name__ == "__main__":
    raise SystemExit(main())
