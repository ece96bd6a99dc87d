"""The library stays readable: no module under srnlib/ is over 400 lines (one idea per module, issue 16)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 400


def line_counts() -> dict[str, int]:
    return {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
            for path in sorted((ROOT / "srnlib").rglob("*.py"))}


def over_the_limit() -> dict[str, int]:
    return {name: lines for name, lines in line_counts().items() if lines > LIMIT}


def test_no_srnlib_file_is_over_400_lines():
    offenders = over_the_limit()
    assert not offenders, f"over {LIMIT} lines: " + ", ".join(f"{name} ({n})" for name, n in offenders.items())


def test_the_line_count_sees_the_library():
    counts = line_counts()
    assert "srnlib/refine.py" in counts and "srnlib/clutrr/kinship.py" in counts and counts["srnlib/refine.py"] > 0
    assert "srnlib/sortofclevr/scene.py" in counts and "srnlib/sortofclevr/data.py" in counts
