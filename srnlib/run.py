"""The main job: run the numbered notebooks headless with papermill and summarise their results.

    python -m srnlib.run --profile quick                 # every notebook, one after the other
    python -m srnlib.run --profile smoke --only 00,01    # a subset, by number prefix
    python -m srnlib.run --profile quick --seeds 3       # seeds 0, 1, 2 for every notebook
    python -m srnlib.run --profile quick --jobs 2        # notebooks in parallel processes
    python -m srnlib.run --profile quick --report-only   # rebuild the summary from results/ without running
    python -m srnlib.run --profile quick --strict        # also fail when a paper's claim does not hold
    python -m srnlib.run --profile quick --report-only --update-readme   # maintainers: refresh README + docs

A notebook that errors makes the exit status non-zero; a claim that does not hold (each notebook records its claims
as true/false in its results' ``claims``) is shown as ✗ in the summary and printed, and is an error only with
``--strict``.

Executed copies go to ``runs/<profile>/`` (git-ignored). A failing notebook is named with the failing cell's
error; the other notebooks still run and the exit status is non-zero. Afterwards ``results/SUMMARY.<profile>.md``
(and ``.json``) puts every ``results/<notebook>.<profile>.json`` beside the paper's numbers. A run writes under
``results/`` (and ``runs/``, ``figures/``, ``checkpoints/``) only: ``--update-readme``, a maintainer's step, also
rewrites the README's notebooks x profiles table from every results JSON and, at ``quick``, the results section of
``docs/results.md`` from the summary.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from . import paths, profiles, report, results
from .kernel_polling import poll_in_slices


@dataclass
class NotebookRun:
    notebook: str
    seed: int
    seconds: float
    ok: bool
    error: str = ""


def find_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    """Numbered notebooks (``NN_name.ipynb``) in ``folder``, optionally only those whose number is in ``only``."""
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [p for p in notebooks if p.name[:2] in only]
        missing = set(only) - {p.name[:2] for p in notebooks}
        if missing:
            raise ValueError(f"--only names notebooks that don't exist: {sorted(missing)}")
    if not notebooks:
        raise ValueError(f"no numbered notebooks (NN_name.ipynb) found in {folder}")
    return notebooks


def experiment_of(notebook: Path) -> str:
    """The experiment whose settings a numbered notebook uses (``profiles.NOTEBOOK_EXPERIMENTS``); a notebook the
    table does not name (e.g. a user's own) is taken to have every profile."""
    return profiles.NOTEBOOK_EXPERIMENTS.get(notebook.name[:2], "")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def share_cores(jobs: int, environ=os.environ) -> int:
    """Give each of ``jobs`` parallel notebooks ``cpu_count // jobs`` threads (at least 1) through the thread
    variables their kernels inherit, unless the user set them. Two kernels with all cores each oversubscribe the
    CPU, and small convolutions then run several times slower. Returns the threads per notebook."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    return threads


def execute(notebook: Path, profile: str, seed: int, output_dir: Path,
            cell_timeout: float | None = None) -> NotebookRun:
    """Run one notebook with papermill, injecting ``profile`` and ``seed``; never raises for a notebook's error.
    ``cell_timeout``: seconds one cell may run (default ``profiles.CELL_TIMEOUT[profile]``), else the run fails."""
    import papermill

    poll_in_slices()
    if cell_timeout is None:
        cell_timeout = profiles.CELL_TIMEOUT.get(profile)

    output_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if seed == 0 else f".seed{seed}"
    output = output_dir / f"{notebook.stem}{suffix}.ipynb"
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters={"profile": profile, "seed": seed},
                                   cwd=str(notebook.parent), progress_bar=False, kernel_name="python3",
                                   execution_timeout=cell_timeout)
        return NotebookRun(notebook.stem, seed, time.perf_counter() - started, True)
    except Exception as error:  # papermill's PapermillExecutionError carries the cell's exception
        name = getattr(error, "ename", type(error).__name__)
        value = getattr(error, "evalue", str(error))
        cell = getattr(error, "exec_count", None)
        where = f" in cell [{cell}]" if cell is not None else ""
        return NotebookRun(notebook.stem, seed, time.perf_counter() - started, False,
                           f"{name}{where}: {value}".strip())


def _flatten(prefix: str, value, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, item, rows)
    elif isinstance(value, float):
        rows.append((prefix, f"{value:.4g}"))


def extra_seed(path: Path) -> int:
    """k for an extra seed's ``<nb>.<profile>.seed<k>.json``, 0 for the main ``<nb>.<profile>.json``."""
    extra = path.name.split(".")[-2]
    return int(extra[4:]) if extra.startswith("seed") and extra[4:].isdigit() else 0


def result_files(folder: Path, profile: str) -> list[Path]:
    """Every notebook's results JSON at ``profile``: ``<nb>.<profile>.json`` then its extra seeds'
    ``<nb>.<profile>.seed<k>.json`` in seed order."""
    main = folder.glob(f"[0-9][0-9]_*.{profile}.json")
    extra = folder.glob(f"[0-9][0-9]_*.{profile}.seed*.json")
    return sorted([*main, *extra], key=lambda path: (path.name.split(".")[0], extra_seed(path)))


def latest_runs(previous: list[NotebookRun], runs: list[NotebookRun]) -> list[NotebookRun]:
    """The newest run of every (notebook, seed): ``runs`` replace ``previous`` ones; sorted by notebook and seed."""
    latest = {(run.notebook, run.seed): run for run in [*previous, *runs]}
    return [latest[key] for key in sorted(latest)]


def recorded_runs(profile: str) -> list[NotebookRun]:
    """The runs listed in ``results/SUMMARY.<profile>.json`` (none if it is missing or unreadable)."""
    path = paths.results_dir() / f"SUMMARY.{profile}.json"
    try:
        return [NotebookRun(**run) for run in json.loads(path.read_text())["runs"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write_summary(profile: str, runs: list[NotebookRun]) -> Path:
    """``results/SUMMARY.<profile>.md`` and ``.json``: each notebook's status and time, then its numbers beside the
    paper's (``srnlib.report``), with the seeds, hardware and torch version they came from.

    The status table keeps the latest run of every notebook and seed: ``runs`` replace the ones the summary
    listed before, so ``--only`` and ``--report-only`` do not drop the other notebooks' statuses."""
    runs = latest_runs(recorded_runs(profile), runs)
    folder = paths.results_dir()
    lines = [f"# Results at the `{profile}` profile", "",
             f"Generated by `python -m srnlib.run --profile {profile}` from `results/*.{profile}.json`; each notebook's "
             "own line says the seeds, wall time, torch version and hardware its numbers came from."]
    if runs:
        machine = results.hardware().split(", ")[:2]  # the runner's own thread count is not the notebooks'
        lines += ["", f"Latest run of each notebook and seed, on {', '.join(machine)} (threads per notebook: see "
                  "its line below):", "",
                  "| notebook | seed | status | wall time |",
                  "|---|---|---|---|"]
    for run in runs:
        status = "ok" if run.ok else f"FAILED: {run.error[:120]}"
        lines.append(f"| {run.notebook} | {run.seed} | {status} | {run.seconds:.0f} s |")
    collected, by_notebook = {}, {}
    for path in result_files(folder, profile):  # grouped by notebook, seeds in order
        payload = json.loads(path.read_text())
        notebook = payload.get("notebook", path.name.split(".")[0])
        collected[path.name] = payload
        by_notebook.setdefault(notebook, []).append((extra_seed(path), payload))
    for notebook, seeded in by_notebook.items():
        for seed, payload in seeded:
            lines += ["", f"## {notebook}" + (f" (extra seed {seed})" if seed else ""), "",
                      f"Seeds {payload.get('seeds')}, {payload.get('wall_seconds')} s, torch "
                      f"{payload.get('torch_version')}, {payload.get('device')}."]
            tables = report.notebook_tables(notebook, payload)
            if not tables:
                rows: list[tuple[str, str]] = []
                _flatten("", {k: v for k, v in payload.items() if k != "wall_seconds"}, rows)
                tables = ["", "| key | value |", "|---|---|"] + [f"| {key} | {value} |" for key, value in rows]
            lines += tables
        pooled = report.across_seeds_tables(notebook, [payload for _, payload in seeded])
        if pooled:
            lines += ["", f"## {notebook} over {len(seeded)} seeds"] + pooled
    checked = claim_rows(collected)
    if checked:
        at = 3  # right after the title and the provenance line
        lines[at:at] = ["", "The paper's claims as each notebook checked them (✓ holds, ✗ does not hold at this "
                        "profile):", "", "| notebook | seed | claim | holds |", "|---|---|---|---|"] + [
            f"| {notebook} | {seed} | {claim} | {'✓' if holds else '✗'} |" for notebook, seed, claim, holds in checked]
    summary = folder / f"SUMMARY.{profile}.md"
    summary.write_text("\n".join(lines) + "\n")
    (folder / f"SUMMARY.{profile}.json").write_text(
        json.dumps({"profile": profile, "runs": [asdict(r) for r in runs], "results": collected}, indent=2) + "\n")
    return summary


def claim_rows(collected: dict) -> list[tuple[str, int, str, bool]]:
    """``(notebook, seed, claim, holds)`` for every claim a notebook recorded (its results' ``claims`` dict of
    claim -> bool), from ``{file name: results payload}``."""
    rows = []
    for name, payload in collected.items():
        claims = payload.get("claims") or {}
        if not isinstance(claims, dict) or not all(isinstance(v, bool) for v in claims.values()):
            raise ValueError(f"results/{name}: 'claims' must map each claim to true or false, got {claims!r}")
        notebook = payload.get("notebook", name.split(".")[0])
        seed = (payload.get("seeds") or [0])[0]
        rows += [(notebook, seed, claim, holds) for claim, holds in claims.items()]
    return rows


def failed_claims(profile: str, runs: list[NotebookRun]) -> list[tuple[str, int, str, bool]]:
    """The claims that do not hold in the results of this invocation's ``runs`` (notebook and seed)."""
    done = {(run.notebook, run.seed) for run in runs if run.ok}
    collected = {path.name: json.loads(path.read_text()) for path in result_files(paths.results_dir(), profile)}
    return [row for row in claim_rows(collected) if (row[0], row[1]) in done and not row[3]]


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
EFFECTS_START, EFFECTS_END = "<!-- effects:start -->", "<!-- effects:end -->"
EFFECTS_PAGE = "README.md"  # the notebooks x profiles table, on the README's first screen
RESULTS_PAGE = "docs/results.md"  # the quick results section, one heading level below the page's "# Results"


def all_results(folder: Path) -> list[dict]:
    """Every notebook's results JSON in ``folder``, at every profile and seed (each names its notebook and
    profile; older files without them are named by their file name)."""
    payloads = []
    for path in sorted(folder.glob("[0-9][0-9]_*.json")):
        payload = json.loads(path.read_text())
        payload.setdefault("notebook", path.name.split(".")[0])
        payload.setdefault("profile", path.name.split(".")[1])
        payloads.append(payload)
    return payloads


def _between(text: str, start: str, end: str, body: str) -> str | None:
    """``text`` with what lies between the markers ``start`` and ``end`` replaced by ``body`` (None without them)."""
    if start not in text or end not in text.split(start, 1)[1]:
        return None
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{body}{end}{rest.split(end, 1)[1]}"


def _rewrite(page: Path, start: str, end: str, body: str) -> bool:
    """Replace what lies between the markers in ``page``; False (and the page left alone) without the page or them."""
    if not page.exists():
        return False
    updated = _between(page.read_text(), start, end, body)
    if updated is not None:
        page.write_text(updated)
    return updated is not None


def update_readme(profile: str, summary: Path, notebooks: list[str]) -> list[str]:
    """The maintainer's ``--update-readme``: the notebooks x profiles table in ``README.md`` (between the effects
    markers) from every results JSON, and at ``quick`` the results section of ``docs/results.md`` (between the
    results markers) from ``summary``. Returns what was rewritten ("effects", "results"); a page without its
    markers is left alone."""
    root, done = paths.repo_root(), []
    table = report.effect_table(notebooks, all_results(paths.results_dir()))
    if _rewrite(root / EFFECTS_PAGE, EFFECTS_START, EFFECTS_END, "\n".join(table) + "\n"):
        done.append("effects")
    if profile == "quick":  # nest the summary's headings under the page's "# Results"
        body = "\n".join("#" + line if line.startswith("#") else line
                         for line in summary.read_text().splitlines()) + "\n"
        if _rewrite(root / RESULTS_PAGE, README_START, README_END, body):
            done.append("results")
    return done


def main(argv: list[str] | None = None) -> int:
    """The command line. The profile (and, with --jobs, the thread variables) reach the notebooks' kernels through
    the environment; they are restored afterwards, so calling ``main`` from Python (e.g. in tests) leaks nothing
    into later code (a leaked ``SRN_PROFILE=long`` once made a test session train the long models)."""
    saved = {name: os.environ.get(name) for name in ("SRN_PROFILE", *THREAD_VARIABLES)}
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` prints every thread's stack (to diagnose a hung run)
        try:
            faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
        except (AttributeError, ValueError, OSError):  # no real stderr (e.g. embedded): run without it
            pass
    try:
        return _main(argv)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default=None, help=f"one of {', '.join(profiles.PROFILES)} (default: $SRN_PROFILE or quick)")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 00,03")
    parser.add_argument("--seeds", type=int, default=1, help="run seeds 0..N-1 (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel processes (default 1)")
    parser.add_argument("--notebooks", type=Path, default=None, help="folder of notebooks (default: notebooks/)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the summary from results/")
    parser.add_argument("--strict", action="store_true",
                        help="also exit non-zero when a notebook ran but one of its claims does not hold")
    parser.add_argument("--update-readme", action="store_true",
                        help="maintainers: also rewrite README.md's notebooks x profiles table from every results "
                             "JSON and, at quick, the results section of docs/results.md (a plain run never "
                             "touches the README or docs/)")
    args = parser.parse_args(argv)
    try:
        profile = profiles.resolve(args.profile)
        notebooks = find_notebooks(args.notebooks or paths.notebooks_dir(), [s for s in args.only.split(",") if s])
        if args.seeds < 1 or args.jobs < 1:
            raise ValueError("--seeds and --jobs must be at least 1")
    except ValueError as error:
        parser.error(str(error))
    os.environ["SRN_PROFILE"] = profile
    if args.report_only:
        summary = write_summary(profile, [])
        print(f"summary: {summary}")
        if args.update_readme:
            _update_readme(profile, summary, args.notebooks)
        return 0
    output_dir = paths.repo_root() / "runs" / profile
    lacking = [nb for nb in notebooks if experiment_of(nb) and not profiles.has_profile(experiment_of(nb), profile)]
    for notebook in lacking:
        print(f"{notebook.stem}: skipped, its experiment {experiment_of(notebook)!r} has no {profile!r} settings")
    candidates = [nb for nb in notebooks if nb not in lacking and experiment_of(nb)
                  and profiles.is_candidate(experiment_of(nb), profile)]
    for notebook in candidates:
        print(f"{notebook.stem}: skipped, its {profile!r} models are not all shipped (running it "
              f"would train for CPU-hours; see profiles.CANDIDATE_PROFILES)")
    lacking += candidates
    notebooks = [nb for nb in notebooks if nb not in lacking]
    tasks = [(notebook, seed) for notebook in notebooks for seed in range(args.seeds)]
    runs: list[NotebookRun] = []
    with tqdm(total=len(tasks), desc=f"notebooks ({profile})", unit="nb") as bar:
        if args.jobs == 1:
            for notebook, seed in tasks:
                bar.set_postfix_str(notebook.stem)
                runs.append(execute(notebook, profile, seed, output_dir))
                _report(runs[-1], bar)
        else:
            share_cores(args.jobs)
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                futures = [pool.submit(execute, notebook, profile, seed, output_dir) for notebook, seed in tasks]
                for future in futures:
                    runs.append(future.result())
                    _report(runs[-1], bar)
    summary = write_summary(profile, runs)
    failed = [run for run in runs if not run.ok]
    print(f"\nsummary: {summary}")
    if args.update_readme:
        _update_readme(profile, summary, args.notebooks)
    for run in failed:
        print(f"FAILED {run.notebook} (seed {run.seed}): {run.error}", file=sys.stderr)
    unmet = failed_claims(profile, runs)
    for notebook, seed, claim, _ in unmet:
        print(f"✗ {notebook} (seed {seed}): {claim}")
    if unmet and not args.strict:
        print(f"{len(unmet)} claim(s) do not hold at {profile} (the notebooks ran; --strict makes this an error)")
    return 1 if failed or (args.strict and unmet) else 0


def _update_readme(profile: str, summary: Path, folder: Path | None) -> None:
    notebooks = [path.stem for path in find_notebooks(folder or paths.notebooks_dir())]  # all rows, even with --only
    done = update_readme(profile, summary, notebooks)
    pages = {"effects": f"{EFFECTS_PAGE} (notebooks x profiles table)", "results": f"{RESULTS_PAGE} (quick results)"}
    print("rewritten:", ", ".join(pages[name] for name in done) or "nothing (no markers)")


def _report(run: NotebookRun, bar) -> None:
    bar.update(1)
    status = "ok" if run.ok else f"FAILED: {run.error}"
    bar.write(f"{run.notebook} (seed {run.seed}): {status} [{run.seconds:.1f} s]")


if __name__ == "__main__":
    sys.exit(main())
