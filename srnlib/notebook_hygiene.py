"""Keep committed notebooks diff-friendly: no outputs, no execution counts, cell tags kept.

    python -m srnlib.notebook_hygiene notebooks/          # strip in place
    python -m srnlib.notebook_hygiene --check notebooks/  # exit 1 if any notebook carries outputs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat


def has_outputs(notebook) -> bool:
    return any(cell.get("outputs") or cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")


def strip(notebook):
    """Remove outputs and execution counts in place; keep sources, metadata and tags."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    notebook.metadata.pop("papermill", None)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only report notebooks with outputs")
    args = parser.parse_args(argv)
    files = sorted(p for path in args.paths for p in ([path] if path.is_file() else path.glob("*.ipynb")))
    dirty = []
    for path in files:
        notebook = nbformat.read(path, as_version=4)
        if has_outputs(notebook):
            dirty.append(path)
            if not args.check:
                nbformat.write(strip(notebook), path)
    for path in dirty:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
