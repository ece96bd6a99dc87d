"""Markdown tables that put this repo's measured numbers beside the paper's.

Each ``*_table`` function takes one notebook's results JSON (``results/<notebook>.<profile>.json``) and returns
markdown lines: one table per paper table, with a ✓/✗ saying whether the paper's direction holds in this run.
``effect_table`` is the README's notebooks x profiles overview. This module only formats: the paper's numbers and
the claim predicates live in ``srnlib.paper``; it imports no experiment package.
"""
from __future__ import annotations

import math

import torch

# The paper's numbers and claims live in srnlib.paper; PAPER, TABLE1_CLAIM_COUNTS, inner_loop_claim_holds,
# table1_claim_holds and clutrr_claim_holds are also reachable here for notebooks that call srnlib.report.<name>.
from .paper import (CIRCLE_COUNTS, CLUTRR_MODEL_NAMES, PAPER, TABLE1_CLAIM_COUNTS, TABLE2_KEYS,  # noqa: F401
                    clutrr_claim_holds, difference_exceeds_spread, doubles_baseline, inner_loop_claim_holds,
                    responsibility_claims, sortofclevr_claims, srn_at_least_cswm, table1_claim_holds, tsne_claim_holds)
from .results import mean_and_std


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1f}" if isinstance(value, (int, float)) else str(value)


def _mark(holds: bool) -> str:
    return "✓" if holds else "✗"


def responsibility_table(result: dict) -> list[str]:
    midpoint = result["midpoint_error"]
    spikes = result.get("spike_rate", {})
    holds = all(responsibility_claims(result["h_max_error"], result["srn_max_error"], midpoint, spikes).values())
    return ["| model | worst Chamfer error on the probe | held-out pairs with a spike |", "|---|---|---|",
            f"| continuous (h) | {result['h_max_error']:.3f} | {_fmt(100 * spikes.get('continuous', math.nan))} % |",
            f"| iterative (SRN) | {result['srn_max_error']:.3f} | {_fmt(100 * spikes.get('iterative', math.nan))} % |",
            "", f"Theorem 1's picture (continuous spikes above half the midpoint cost {midpoint:.2f}, iterative stays "
                f"under a tenth and spikes on at most half as many held-out pairs): {_mark(holds)}"]


def table1(result: dict) -> list[str]:
    here, paper = result["table1"], PAPER["table1"]
    lines = ["| circles | baseline (here) | SRN (here) | baseline (paper) | SRN (paper) |", "|---|---|---|---|---|"]
    for k in CIRCLE_COUNTS:
        lines.append(f"| {k} | {_fmt(here['baseline'].get(k))} | {_fmt(here['srn'].get(k))} | "
                     f"{paper['baseline'][k]} | {paper['srn'][k]} |")
    holds = table1_claim_holds(here)
    lines += ["", f"SRN decomposes at least twice as often as the baseline for 2–5 circles: {_mark(holds)}"]
    by_steps = result.get("srn_by_inner_steps")
    if by_steps:  # the same trained SRN evaluated with other numbers of inner steps (0 decodes S0 itself)
        lines += ["", "The trained SRN evaluated with other numbers of inner steps (0 decodes its S0):", "",
                  "| inner steps | " + " | ".join(f"{k} circles" for k in CIRCLE_COUNTS) + " |",
                  "|---" * 6 + "|"]
        lines += [f"| {steps} | " + " | ".join(_fmt(row.get(k)) for k in CIRCLE_COUNTS) + " |"
                  for steps, row in by_steps.items()]
    sharing = result.get("circle_sharing")
    if sharing:  # how the models miscount (srnlib.circles.experiment.circle_sharing), test images with 1-5 circles
        lines += ["", "How they miss (% of test images with 1–5 circles; shared: % of circles two or more elements "
                  "each draw at least a tenth of; drawn: % of circles one element draws more than half of, radius "
                  "1–2 px (small) and 3–11 px (others); in the reconstruction: % of circles the elements together "
                  "draw more than half of):", "",
                  "| model | more active elements than circles | fewer | circles shared | small drawn | others drawn "
                  "| small in the reconstruction | others in the reconstruction |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {kind} | {_fmt(row.get('over_counted'))} | {_fmt(row.get('under_counted'))} | "
                  f"{_fmt(row.get('shared_circles'))} | {_fmt(row.get('small_circles_drawn'))} | "
                  f"{_fmt(row.get('other_circles_drawn'))} | {_fmt(row.get('small_circles_reconstructed'))} | "
                  f"{_fmt(row.get('other_circles_reconstructed'))} |" for kind, row in sharing.items()]
    if result.get("table1_by_small_circles"):
        lines += [""] + small_circles_table(result["table1_by_small_circles"])
    seconds = result.get("train_seconds")
    if seconds:
        lines += ["", "Training time: " + ", ".join(f"{kind} {value:.0f} s" for kind, value in seconds.items()) + "."]
    return lines


def small_circles_table(split: dict) -> list[str]:
    """Table 1 of each model on the test images with and without a small circle (radius 1–2 px): ``split`` is
    ``{model: srnlib.circles.experiment.evaluate(...)["table1_by_small_circles"]}``."""
    kinds = list(split)
    counts = next(iter(split.values()))["images_without_small"]
    lines = ["Table 1 (%) on the test images without a small circle (radius 1–2 px), and on those with one:", "",
             "| circles | images without | " + " | ".join(f"{kind} without" for kind in kinds) + " | "
             + " | ".join(f"{kind} with" for kind in kinds) + " |", "|---" * (2 + 2 * len(kinds)) + "|"]
    for k in CIRCLE_COUNTS:
        cells = [_fmt(split[kind]["without_small"].get(k)) for kind in kinds]
        cells += [_fmt(split[kind]["with_small"].get(k)) for kind in kinds]
        lines.append(f"| {k} | {counts.get(k, '–')} | " + " | ".join(cells) + " |")
    return lines


def tsne_table(result: dict) -> list[str]:
    smooth = result["tsne_smoothness"]
    return ["| model | t-SNE smoothness |", "|---|---|"] + [f"| {m} | {v:.3f} |" for m, v in smooth.items()] + [
        "", f"SRN's latent grid is smoother than the baseline's (Figure 3): {_mark(tsne_claim_holds(smooth))}"]


def table2(result: dict) -> list[str]:
    """Table 2 beside the paper's, with the colour-blind answerer's row where the results have it; mean ± std
    over seeds where the results ran more than one."""
    here, paper, blind = result["table2"], PAPER["table2"], result.get("table2_colour_blind")
    spread = result.get("table2_std") if len(result.get("seeds", [])) > 1 else None
    lines = ["| task | RN (here) | RN+SRN (here) | colour-blind (here) | RN (paper) | RN+SRN (paper) |",
             "|---|---|---|---|---|---|"]

    def cell(kind, key):
        value = _fmt(here[kind].get(key))
        std = (spread or {}).get(kind, {}).get(key)
        return value if std is None else f"{value} ± {_fmt(std)}"

    for key in TABLE2_KEYS:
        lines.append(f"| {key} | {cell('rn', key)} | {cell('rn_srn', key)} | "
                     f"{_fmt((blind or {}).get(key))} | {_fmt(paper['rn'].get(key))} | {_fmt(paper['rn_srn'].get(key))} |")
    return lines + [""] + [f"- {claim}: {_mark(holds)}" for claim, holds in
                           sortofclevr_claims(here, result["ablation_srn_0_steps"], blind).items()]


def table3(result: dict) -> list[str]:
    here, paper = result["table3"], PAPER["table3"]
    lines = ["| game | model | steps | H@1 (here) | MRR (here) | H@1 (paper) | MRR (paper) |",
             "|---|---|---|---|---|---|---|"]
    for game, models in here.items():
        for model, by_steps in models.items():
            for steps, scores in by_steps.items():
                h1, mrr = paper.get(game, {}).get(model, {}).get(steps, (None, None))
                lines.append(f"| {game} | {model} | {steps} | {_fmt(scores['h1'])} | {_fmt(scores['mrr'])} | "
                             f"{_fmt(h1)} | {_fmt(mrr)} |")
    holds = "space_invaders" in here and any(srn_at_least_cswm(here).values())
    return lines + ["", f"Space Invaders, 10 steps: C-SWM+SRN ≥ C-SWM (H@1 and MRR) for some K: {_mark(holds)}"]


CLUTRR_MODELS = tuple(CLUTRR_MODEL_NAMES)


def clutrr_table(result: dict) -> list[str]:
    here, by_k = result["accuracy"], result.get("accuracy_by_k", {})
    ks = sorted({k for scores in by_k.values() for k in scores}, key=int)
    lines = ["| model | " + "".join(f"k = {k} | " for k in ks) + "accuracy (here) | accuracy (paper) |",
             "|---" * (len(ks) + 3) + "|"]
    lines += [f"| {CLUTRR_MODEL_NAMES[m]} | " + "".join(f"{_fmt(by_k.get(m, {}).get(k))} | " for k in ks)
              + f"{_fmt(here[m])} | {PAPER['clutrr'][m]} |" for m in CLUTRR_MODELS]
    split = result.get("split")
    if split:
        lines += ["", "Test stories equal to a training story as the model sees it: "
                  f"{result.get('test_stories_in_training', '–')} (replaced while drawing: "
                  + ", ".join(f"{s['repeats_dropped']} of {s['candidates']} at k = {k}" for k, s in split.items())
                  + ")."]
    return lines + ["", f"RN+SRN ≥ RN: {_mark(clutrr_claim_holds(here))}"]


def clutrr_across_seeds(results: list[dict]) -> list[str]:
    """Notebook 05 over several seeds: each model's best-epoch accuracy (the paper's measure, per seed) as mean ±
    sample std, overall and by k; the best epoch of the seed-averaged test curve; each refiner's difference from
    the RN against the spread (``difference_exceeds_spread``); and the claim RN + SRN ≥ RN in mean
    (``clutrr_claim_holds``)."""
    scores = [result["accuracy"] for result in results]
    mean, std = mean_and_std([{m: score[m] for m in CLUTRR_MODELS} for score in scores])
    by_k = [result["accuracy_by_k"] for result in results]
    ks = sorted(by_k[0]["rn"], key=int)
    k_mean, k_std = mean_and_std([{m: {k: run[m][k] for k in ks} for m in CLUTRR_MODELS} for run in by_k])
    curves = [result.get("test_curve") for result in results]
    lines = [_pooled_over(results), "",
             "| model | " + "".join(f"k = {k} | " for k in ks) + "all (best epoch per seed) | "
             "best epoch of the mean curve | paper |", "|---" * (len(ks) + 4) + "|"]
    for m in CLUTRR_MODELS:
        averaged = "–"
        if all(curves) and len({len(curve[m]) for curve in curves}) == 1:
            mean_curve = torch.tensor([curve[m] for curve in curves], dtype=torch.float64).mean(0)
            averaged = f"{float(mean_curve.max()):.1f} (epoch {int(mean_curve.argmax()) + 1})"
        lines.append(f"| {CLUTRR_MODEL_NAMES[m]} | " + "".join(f"{k_mean[m][k]:.1f} ± {k_std[m][k]:.1f} | " for k in ks)
                     + f"{mean[m]:.1f} ± {std[m]:.1f} | {averaged} | {PAPER['clutrr'][m]} |")
    lines.append("")
    for m in ("rn_srn", "rn_grn"):
        ours, rn = [score[m] for score in scores], [score["rn"] for score in scores]
        wins = sum(a >= b for a, b in zip(ours, rn))
        if len(scores) > 1:
            exceeds = "larger" if difference_exceeds_spread(ours, rn) else "not larger"
            spread = f"the larger std is {max(std[m], std['rn']):.1f}, so the difference is {exceeds} than the spread"
        else:
            spread = "one seed has no spread to compare with"
        lines.append(f"- {CLUTRR_MODEL_NAMES[m]} − RN: {mean[m] - mean['rn']:+.1f} points in mean; {spread}; "
                     f"{CLUTRR_MODEL_NAMES[m]} ≥ RN on {wins} of {len(scores)} seeds")
    return lines + ["", f"RN + SRN ≥ RN in mean over {len(scores)} seeds: {_mark(clutrr_claim_holds(mean))}"]


def _pooled_over(results: list[dict]) -> str:
    seeds = [str(seed) for result in results for seed in result.get("seeds", ["?"])]
    return f"Seeds {', '.join(seeds)}: mean ± std (sample) over {len(results)} runs."


def table1_across_seeds(results: list[dict]) -> list[str]:
    """Table 1 over several seeds' results of notebook 01: mean ± std per model and circle count (sample std), and
    for how many seeds the SRN reached twice the baseline at every count from 2 to 5."""
    tables = [result["table1"] for result in results]
    mean, std = mean_and_std([{kind: {k: table[kind][k] for k in CIRCLE_COUNTS} for kind in ("baseline", "srn")}
                              for table in tables])
    lines = [_pooled_over(results), "",
             "| circles | baseline (here) | SRN (here) | SRN ≥ 2x baseline in | baseline (paper) | SRN (paper) |",
             "|---|---|---|---|---|---|"]
    for k in CIRCLE_COUNTS:
        wins = sum(doubles_baseline(table, k) for table in tables)
        lines.append(f"| {k} | {mean['baseline'][k]:.1f} ± {std['baseline'][k]:.1f} | {mean['srn'][k]:.1f} ± "
                     f"{std['srn'][k]:.1f} | {wins} of {len(tables)} seeds | {PAPER['table1']['baseline'][k]} | "
                     f"{PAPER['table1']['srn'][k]} |")
    holds = sum(table1_claim_holds(table) for table in tables)
    return lines + ["", f"Seeds where the SRN decomposes at least twice as often as the baseline for 2–5 circles: "
                        f"{holds} of {len(tables)}"]


def tsne_across_seeds(results: list[dict]) -> list[str]:
    """Figure 3's smoothness over several seeds' results of notebook 02: mean ± sample std per model, and for how
    many seeds the SRN's latent grid was the smoother."""
    scores = [{kind: result["tsne_smoothness"][kind] for kind in ("baseline", "srn")} for result in results]
    mean, std = mean_and_std(scores)
    smoother = sum(tsne_claim_holds(score) for score in scores)
    return [_pooled_over(results), "",
            "| model | t-SNE smoothness |", "|---|---|",
            *[f"| {kind} | {mean[kind]:.3f} ± {std[kind]:.3f} |" for kind in ("baseline", "srn")], "",
            f"Seeds where the SRN's latent grid is the smoother: {smoother} of {len(scores)}"]


ACROSS_SEEDS = {  # notebook -> a table pooling its seeds' results, shown when there are several
    "01_circles_decomposition": ("Table 1 over seeds: decomposition success (%)", table1_across_seeds),
    "02_interpolation_and_tsne": ("Figure 3 over seeds: t-SNE smoothness", tsne_across_seeds),
    "05_clutrr": ("CLUTRR over seeds: best average test accuracy over epochs (%)", clutrr_across_seeds),
}


TABLES = {  # notebook -> the paper tables it reports
    "00_responsibility_problem": [("Theorem 1 demo", responsibility_table)],
    "01_circles_decomposition": [("Table 1: decomposition success (%)", table1)],
    "02_interpolation_and_tsne": [("Figure 3: t-SNE smoothness", tsne_table)],
    "03_sort_of_clevr": [("Table 2: Sort-of-CLEVR accuracy and robustness (%)", table2)],
    "04_cswm_world_models": [("Table 3: C-SWM ranking (%)", table3)],
    "05_clutrr": [("CLUTRR accuracy (%)", clutrr_table)],
}


def notebook_tables(notebook: str, result: dict) -> list[str]:
    """Markdown for one notebook's results; a table whose keys are missing says so instead of failing."""
    lines = []
    for title, render in TABLES.get(notebook, []):
        lines += ["", f"### {title}", ""]
        try:
            lines += render(result)
        except (KeyError, TypeError) as error:
            lines.append(f"(results JSON lacks the keys for this table: {error})")
    return lines


def across_seeds_tables(notebook: str, results: list[dict]) -> list[str]:
    """Markdown pooling several seeds' results of one notebook (nothing for one seed or a notebook without one)."""
    if notebook not in ACROSS_SEEDS or len(results) < 2:
        return []
    title, render = ACROSS_SEEDS[notebook]
    try:
        return ["", f"### {title}", ""] + render(results)
    except (KeyError, TypeError, ValueError) as error:
        return ["", f"### {title}", "", f"(results JSON lacks the keys for this table: {error})"]


EFFECT_PROFILES = ("smoke", "quick", "long", "paper")  # the README's columns, cheapest first
PAPER_PARTS = {"00_responsibility_problem": "Theorem 1", "01_circles_decomposition": "Table 1",
               "02_interpolation_and_tsne": "Figure 3", "03_sort_of_clevr": "Table 2",
               "04_cswm_world_models": "Table 3", "05_clutrr": "Section 3.3"}


def effect_cell(results: list[dict]) -> str:
    """Whether one notebook at one profile shows the paper's effect, from its seeds' results (each with the
    ``claims`` {claim: bool} the notebook recorded): "✓" every claim held, "✗" one did not (with several seeds,
    "✓ (3 of 3 seeds)" / "✗ (1 of 3 seeds)", counting the seeds where every claim held); "not checked" when the
    notebook recorded no claim at this profile (e.g. smoke), "not recorded" when its results have no ``claims``
    (older runs), "not run" without results."""
    if not results:
        return "not run"
    recorded = [result["claims"] for result in results if "claims" in result]
    for claims in recorded:
        if not isinstance(claims, dict) or not all(isinstance(holds, bool) for holds in claims.values()):
            raise ValueError(f"'claims' must map each claim to true or false, got {claims!r}")
    checked = [claims for claims in recorded if claims]
    if not recorded:
        return "not recorded"
    if not checked:
        return "not checked"
    held = sum(all(claims.values()) for claims in checked)
    mark = _mark(held == len(checked))
    return mark if len(checked) == 1 else f"{mark} ({held} of {len(checked)} seeds)"


def effect_table(notebooks: list[str], results: list[dict], profiles: tuple = EFFECT_PROFILES) -> list[str]:
    """The README's overview: one row per notebook, one column per profile, each cell ``effect_cell`` of that
    notebook's results at that profile (``results``: every results JSON, each naming its ``notebook`` and
    ``profile``; results of other notebooks or profiles are ignored)."""
    by_cell: dict[tuple[str, str], list[dict]] = {}
    for result in results:
        by_cell.setdefault((result.get("notebook"), result.get("profile")), []).append(result)
    lines = ["| notebook | paper | " + " | ".join(f"`{profile}`" for profile in profiles) + " |",
             "|---" * (len(profiles) + 2) + "|"]
    for notebook in notebooks:
        cells = [effect_cell(by_cell.get((notebook, profile), [])) for profile in profiles]
        lines.append(f"| `{notebook}` | {PAPER_PARTS.get(notebook, '–')} | " + " | ".join(cells) + " |")
    return lines
