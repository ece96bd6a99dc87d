"""The README fits one screen (what it is, the two commands, the notebooks x profiles table) and links to the
docs pages that hold the details; every relative link in them resolves (issue 16, item 6)."""
import re
from pathlib import Path

from srnlib import run

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
SCREEN = 60  # lines
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_first_screen_has_the_two_commands_and_the_notebooks_by_profiles_table():
    screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:SCREEN])
    assert "\nmake reproduce " in screen and "\nmake test " in screen  # .ci/run runs `make test`
    assert run.EFFECTS_START in screen and run.EFFECTS_END in screen
    for profile in ("smoke", "quick", "long", "paper"):
        assert f"`{profile}`" in screen
    for notebook in run.find_notebooks(ROOT / "notebooks"):
        assert f"| `{notebook.stem}` |" in screen, notebook.stem


def test_the_generated_sections_live_where_update_readme_writes_them():
    readme = (ROOT / run.EFFECTS_PAGE).read_text(encoding="utf-8")
    results = (ROOT / run.RESULTS_PAGE).read_text(encoding="utf-8")
    assert readme.count(run.EFFECTS_START) == 1 and readme.count(run.EFFECTS_END) == 1
    assert results.count(run.README_START) == 1 and results.count(run.README_END) == 1
    assert results.startswith("# Results\n")  # the summary's headings are nested one level below it
    assert run.README_START not in readme
    for page in PAGES:
        assert page == ROOT / run.EFFECTS_PAGE or run.EFFECTS_START not in page.read_text(encoding="utf-8")


def _headings(page: Path) -> list[str]:
    headings, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            headings.append(line.lstrip("#").strip())
    return headings


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_relative_link_in_the_readme_and_docs_resolves():
    checked = 0
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.is_file(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
            if anchor:
                assert anchor in {_anchor(h) for h in _headings(linked)}, f"{page.relative_to(ROOT)}: no #{anchor}"
            checked += 1
    assert checked >= 6


def test_the_anchor_rule_matches_github():
    assert _anchor("The library: `srnlib`") == "the-library-srnlib"
    assert _anchor("Does it show the paper's effect?") == "does-it-show-the-papers-effect"
