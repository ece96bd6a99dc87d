"""The papermill batch runner: a broken notebook is named, the others still run, the exit status says so."""
import json
import os

import nbformat
import pytest

from srnlib import profiles, run


def write_notebook(path, body):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("profile = None\nseed = 0", metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture
def notebooks(isolated_home):
    folder = isolated_home / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_fine.ipynb", "import srnlib\nsrnlib.results.write_results('00_fine', profile, "
                   "[seed], 0.1, answer=42.0)")
    write_notebook(folder / "01_broken.ipynb", "raise RuntimeError('the slider callback is broken')")
    write_notebook(folder / "02_fine_too.ipynb", "assert profile == 'smoke', profile")
    return folder


def test_a_broken_notebook_is_named_and_the_others_complete(notebooks, isolated_home, capsys):
    status = run.main(["--profile", "smoke", "--notebooks", str(notebooks)])
    assert status == 1
    assert "01_broken" in capsys.readouterr().err and "the slider callback is broken" in (
        isolated_home / "results" / "SUMMARY.smoke.md").read_text()
    assert {p.name for p in (isolated_home / "runs" / "smoke").iterdir()} == {
        "00_fine.ipynb", "01_broken.ipynb", "02_fine_too.ipynb"}
    summary = json.loads((isolated_home / "results" / "SUMMARY.smoke.json").read_text())
    assert [r["ok"] for r in summary["runs"]] == [True, False, True]
    assert summary["results"]["00_fine.smoke.json"]["answer"] == 42.0


def test_only_selects_notebooks_by_number(notebooks):
    assert [p.stem for p in run.find_notebooks(notebooks, ["00", "02"])] == ["00_fine", "02_fine_too"]
    with pytest.raises(ValueError, match="07"):
        run.find_notebooks(notebooks, ["07"])


def test_unknown_profile_is_rejected_before_running_anything(notebooks):
    with pytest.raises(SystemExit):
        run.main(["--profile", "huge", "--notebooks", str(notebooks)])


README = "intro\n<!-- effects:start -->\nold table\n<!-- effects:end -->\nend\n"
RESULTS_PAGE = "# Results\n\nprose\n<!-- results:start -->\nold results\n<!-- results:end -->\nafter\n"


def write_pages(home):
    (home / "README.md").write_text(README)
    (home / "docs").mkdir()
    (home / "docs" / "results.md").write_text(RESULTS_PAGE)


def test_a_run_writes_results_only_and_never_the_readme_or_docs(notebooks, isolated_home):
    write_pages(isolated_home)
    assert run.main(["--profile", "quick", "--notebooks", str(notebooks), "--only", "00"]) == 0
    assert run.main(["--profile", "quick", "--notebooks", str(notebooks), "--report-only"]) == 0
    assert (isolated_home / "README.md").read_text() == README
    assert (isolated_home / "docs" / "results.md").read_text() == RESULTS_PAGE
    assert (isolated_home / "results" / "00_fine.quick.json").exists()


def test_update_readme_rewrites_the_readme_effect_table_and_the_quick_results_page(notebooks, isolated_home, capsys):
    write_pages(isolated_home)
    folder = isolated_home / "results"
    folder.mkdir()
    for name, claims in [("00_fine.smoke.json", {}), ("00_fine.quick.json", {"SRN wins": True}),
                         ("00_fine.quick.seed1.json", {"SRN wins": False})]:
        (folder / name).write_text(json.dumps({"notebook": "00_fine", "profile": name.split(".")[1],
                                               "seeds": [1 if "seed1" in name else 0], "claims": claims}))
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--report-only", "--update-readme"]) == 0
    text = (isolated_home / "README.md").read_text()
    assert "old table" not in text
    assert "| `00_fine` | – | not checked | ✗ (1 of 2 seeds) | not run | not run |" in text
    assert "| `02_fine_too` | – | not run | not run | not run | not run |" in text  # every notebook, run or not
    assert (isolated_home / "docs" / "results.md").read_text() == RESULTS_PAGE  # it holds the quick summary only
    assert run.main(["--profile", "quick", "--notebooks", str(notebooks), "--report-only", "--update-readme"]) == 0
    out = capsys.readouterr().out
    assert "rewritten: README.md (notebooks x profiles table), docs/results.md (quick results)" in out
    page = (isolated_home / "docs" / "results.md").read_text()
    # the summary's headings sit one level below the page's "# Results"
    assert "old results" not in page and "\n## Results at the `quick` profile\n" in page
    assert "\n### 00_fine (extra seed 1)\n" in page
    assert page.startswith("# Results\n\nprose\n<!-- results:start -->\n")
    assert page.endswith("<!-- results:end -->\nafter\n")
    text = (isolated_home / "README.md").read_text()
    assert text.startswith("intro\n") and text.endswith("<!-- effects:end -->\nend\n") and "Results at" not in text


def test_update_readme_leaves_pages_without_their_markers_alone(notebooks, isolated_home, capsys):
    (isolated_home / "README.md").write_text("no markers\n")
    assert run.main(["--profile", "quick", "--notebooks", str(notebooks), "--report-only", "--update-readme"]) == 0
    assert (isolated_home / "README.md").read_text() == "no markers\n"
    assert not (isolated_home / "docs").exists()
    assert "rewritten: nothing (no markers)" in capsys.readouterr().out


def test_parallel_jobs_give_the_same_verdicts(notebooks, isolated_home):
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--jobs", "2", "--only", "00,01"]) == 1
    summary = json.loads((isolated_home / "results" / "SUMMARY.smoke.json").read_text())
    assert [(r["notebook"], r["ok"]) for r in summary["runs"]] == [("00_fine", True), ("01_broken", False)]


def test_report_only_rebuilds_the_summary_without_running(notebooks, isolated_home):
    (isolated_home / "results").mkdir(exist_ok=True)
    (isolated_home / "results" / "00_fine.smoke.json").write_text('{"notebook": "00_fine", "answer": 1.0}')
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--report-only"]) == 0
    assert not (isolated_home / "runs").exists()
    assert "00_fine" in (isolated_home / "results" / "SUMMARY.smoke.md").read_text()


def test_the_summary_lists_extra_seeds_after_their_notebook(notebooks, isolated_home):
    folder = isolated_home / "results"
    folder.mkdir(exist_ok=True)
    for name, answer in [("00_fine.smoke.json", 1.0), ("00_fine.smoke.seed2.json", 3.0),
                         ("00_fine.smoke.seed10.json", 4.0), ("01_other.smoke.json", 5.0), ("00_fine.quick.json", 9.0)]:
        (folder / name).write_text(json.dumps({"notebook": name.split(".")[0], "answer": answer}))
    assert [p.name for p in run.result_files(folder, "smoke")] == [
        "00_fine.smoke.json", "00_fine.smoke.seed2.json", "00_fine.smoke.seed10.json", "01_other.smoke.json"]
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--report-only"]) == 0
    text = (folder / "SUMMARY.smoke.md").read_text()
    assert "## 00_fine (extra seed 2)" in text and "## 00_fine (extra seed 10)" in text
    assert text.index("(extra seed 10)") < text.index("## 01_other") and "9.0" not in text


def test_parallel_jobs_share_the_cores_without_overriding_the_user(monkeypatch):
    monkeypatch.setattr(run.os, "cpu_count", lambda: 8)
    environ = {}
    assert run.share_cores(2, environ) == 4
    assert {environ[name] for name in run.THREAD_VARIABLES} == {"4"}
    environ = {"OMP_NUM_THREADS": "3"}
    assert run.share_cores(16, environ) == 1  # never 0 threads
    assert environ["OMP_NUM_THREADS"] == "3" and environ["MKL_NUM_THREADS"] == "1"


def test_the_summary_pools_a_notebooks_seeds_right_after_them(notebooks, isolated_home):
    folder = isolated_home / "results"
    folder.mkdir(exist_ok=True)
    for seed, srn in [(0, 20.0), (1, 30.0)]:
        table1 = {"baseline": {str(k): 10.0 for k in range(1, 6)}, "srn": {str(k): srn for k in range(1, 6)}}
        name = "01_circles_decomposition.smoke" + (f".seed{seed}" if seed else "") + ".json"
        (folder / name).write_text(json.dumps({"notebook": "01_circles_decomposition", "seeds": [seed],
                                               "table1": table1}))
    (folder / "02_later.smoke.json").write_text(json.dumps({"notebook": "02_later", "answer": 1.0}))
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--report-only"]) == 0
    text = (folder / "SUMMARY.smoke.md").read_text()
    pooled = text.index("## 01_circles_decomposition over 2 seeds")
    assert text.index("(extra seed 1)") < pooled < text.index("## 02_later")
    assert "| 2 | 10.0 ± 0.0 | 25.0 ± 7.1 | 2 of 2 seeds | 16.5 | 88.7 |" in text


def test_the_status_table_keeps_the_latest_run_of_every_notebook_and_seed(notebooks, isolated_home):
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks)]) == 1  # 01_broken fails
    write_notebook(notebooks / "01_broken.ipynb", "x = 1")  # mended, then rerun alone
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--only", "01"]) == 0
    summary = json.loads((isolated_home / "results" / "SUMMARY.smoke.json").read_text())
    assert [(r["notebook"], r["ok"]) for r in summary["runs"]] == [
        ("00_fine", True), ("01_broken", True), ("02_fine_too", True)]
    assert run.main(["--profile", "smoke", "--notebooks", str(notebooks), "--report-only"]) == 0
    text = (isolated_home / "results" / "SUMMARY.smoke.md").read_text()
    assert "| 00_fine | 0 | ok |" in text and "| 01_broken | 0 | ok |" in text and "FAILED" not in text
    (isolated_home / "results" / "SUMMARY.smoke.json").write_text("{not json")
    assert run.recorded_runs("smoke") == []


def test_a_claim_that_does_not_hold_is_shown_and_fails_only_with_strict(isolated_home, capsys):
    folder = isolated_home / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_claims.ipynb", "import srnlib\nsrnlib.results.write_results('00_claims', profile, "
                   "[seed], 0.1, claims={'SRN beats the baseline': False, 'numbers are finite': True})")
    assert run.main(["--profile", "smoke", "--notebooks", str(folder)]) == 0  # it ran: the main job succeeds
    printed = capsys.readouterr().out
    assert "✗ 00_claims (seed 0): SRN beats the baseline" in printed and "numbers are finite" not in printed
    summary = (isolated_home / "results" / "SUMMARY.smoke.md").read_text()
    assert "| 00_claims | 0 | SRN beats the baseline | ✗ |" in summary
    assert "| 00_claims | 0 | numbers are finite | ✓ |" in summary
    assert run.main(["--profile", "smoke", "--notebooks", str(folder), "--strict"]) == 1


def test_claims_must_be_booleans():
    with pytest.raises(ValueError, match="claims"):
        run.claim_rows({"00_x.quick.json": {"notebook": "00_x", "seeds": [0], "claims": {"holds": "yes"}}})


def test_a_notebook_whose_experiment_lacks_the_profile_is_skipped_and_named(isolated_home, capsys, monkeypatch):
    from srnlib import profiles

    monkeypatch.setitem(profiles.SETTINGS, "circles", dict(profiles.SETTINGS["circles"], long={"epochs": 1}))
    monkeypatch.setitem(profiles.SETTINGS, "responsibility",
                        {k: v for k, v in profiles.SETTINGS["responsibility"].items() if k != "long"})
    folder = isolated_home / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_no_long.ipynb", "raise RuntimeError('must not run')")
    write_notebook(folder / "01_has_long.ipynb", "assert profile == 'long', profile")
    monkeypatch.setenv("SRN_PROFILE", "smoke")
    assert run.main(["--profile", "long", "--notebooks", str(folder)]) == 0
    assert os.environ["SRN_PROFILE"] == "smoke"  # the runner's profile does not leak into later tests
    assert "00_no_long: skipped, its experiment 'responsibility' has no 'long' settings" in capsys.readouterr().out
    assert {p.name for p in (isolated_home / "runs" / "long").iterdir()} == {"01_has_long.ipynb"}


def test_a_notebook_whose_profile_is_a_candidate_is_skipped_and_named(isolated_home, capsys, monkeypatch):
    from srnlib import profiles

    monkeypatch.setattr(profiles, "CANDIDATE_PROFILES", {("sortofclevr", "long")})  # whatever is shipped today
    assert profiles.has_profile("sortofclevr", "long") and profiles.is_candidate("sortofclevr", "long")
    assert not profiles.is_candidate("sortofclevr", "quick") and not profiles.is_candidate("clutrr", "long")
    folder = isolated_home / "notebooks"
    folder.mkdir()
    write_notebook(folder / "03_candidate.ipynb", "raise RuntimeError('must not train for hours')")
    assert run.main(["--profile", "long", "--notebooks", str(folder)]) == 0
    assert "03_candidate: skipped, its 'long' models are not all shipped" in capsys.readouterr().out
    assert not (isolated_home / "runs" / "long").exists() or not any((isolated_home / "runs" / "long").iterdir())


def test_a_cell_that_runs_past_the_timeout_fails_its_notebook_instead_of_hanging(isolated_home):
    folder = isolated_home / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_hangs.ipynb", "import time\ntime.sleep(60)")
    outcome = run.execute(folder / "00_hangs.ipynb", "smoke", 0, isolated_home / "runs", cell_timeout=2)
    assert not outcome.ok and outcome.seconds < 50 and "timed out" in outcome.error.lower(), outcome
    # every profile has a limit (training cells take minutes; paper-size training has none)
    assert set(profiles.CELL_TIMEOUT) == set(profiles.PROFILES)
    assert profiles.CELL_TIMEOUT["paper"] is None and profiles.CELL_TIMEOUT["quick"] >= 1800
