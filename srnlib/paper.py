"""The paper's numbers and its claims, as this repo checks them: one place for both.

The numbers are typed once, from the paper's tables (``PAPER``). Each ``*_claim_holds`` / ``*_claims`` function
decides one of the paper's claims from a run's measured numbers (the dicts the notebooks record in their results
JSON); the notebooks and the summary (``srnlib.report``) both call these, so a claim is never computed twice.

This module sits at the bottom of the library: it imports no experiment package, only ``srnlib.results``.
"""
from __future__ import annotations

import math

from .results import mean_and_std

PAPER = {
    # Table 1: % of images decomposed, by number of circles.
    "table1": {"baseline": {"1": 45.1, "2": 16.5, "3": 7.8, "4": 3.2, "5": 1.9},
               "srn": {"1": 95.8, "2": 88.7, "3": 79.9, "4": 72.7, "5": 65.2}},
    # Table 2: Sort-of-CLEVR accuracy / robustness, mean over 5 runs (non-relational is not in the paper's table).
    "table2": {"rn": {"relational": 95.1, "furthest": 91.4, "closest": 93.9, "count": 100.0,
                      "robust_synthetic": 1.5, "robust_dataset": 61.3},
               "rn_srn": {"relational": 96.9, "furthest": 95.9, "closest": 94.8, "count": 100.0,
                          "robust_synthetic": 96.7, "robust_dataset": 93.2}},
    "ablation_srn_0_steps": {"furthest": 63.0, "closest": 87.0, "count": 100.0},
    # Table 3: C-SWM Hits@1 / MRR (%), mean over 10 runs.
    "table3": {
        "pong": {"cswm_k5": {"1": (63.3, 75.6), "5": (29.8, 46.1), "10": (16.9, 31.5)},
                 "srn_k5": {"1": (62.9, 75.4), "5": (30.3, 46.5), "10": (19.8, 35.3)},
                 "cswm_k3": {"1": (57.3, 71.6), "5": (28.0, 44.3), "10": (14.8, 29.4)},
                 "srn_k3": {"1": (62.7, 75.3), "5": (31.7, 48.2), "10": (17.1, 32.1)}},
        "space_invaders": {"cswm_k5": {"1": (53.8, 70.7), "5": (50.2, 68.1), "10": (28.7, 46.6)},
                           "srn_k5": {"1": (63.6, 78.2), "5": (59.9, 75.3), "10": (39.5, 59.3)},
                           "cswm_k3": {"1": (69.0, 81.6), "5": (60.9, 75.9), "10": (38.1, 57.5)},
                           "srn_k3": {"1": (68.4, 81.3), "5": (65.0, 78.8), "10": (47.8, 66.7)}}},
    # Section 3.3: CLUTRR best average accuracy over epochs, k = 2, 3, 4.
    "clutrr": {"rn": 49.7, "rn_srn": 55.0, "rn_grn": 56.1},
}

CIRCLE_COUNTS = ("1", "2", "3", "4", "5")  # Table 1's rows
TABLE1_CLAIM_COUNTS = ("2", "3", "4", "5")  # where Table 1's direction is checked
CLUTRR_MODEL_NAMES = {"rn": "RN", "rn_srn": "RN + SRN", "rn_grn": "RN + GRN"}  # Section 3.3's models, as labelled
TABLE2_KEYS = ("non_relational", "relational", "furthest", "closest", "count", "robust_synthetic", "robust_dataset")


# Theorem 1 (notebook 00)

def responsibility_claims(h_max_error: float, srn_max_error: float, midpoint_error: float,
                          spike_rate: dict | None = None) -> dict[str, bool]:
    """Theorem 1's picture from notebook 00's probe: the worst Chamfer errors of the continuous and the iterative
    model along the rotation, the cost of answering the midpoint twice, and (optional) the held-out spike rates
    ``{"continuous": fraction, "iterative": fraction}``. Returns {claim: holds}."""
    claims = {"the continuous model spikes above half the midpoint cost on the probe": h_max_error > 0.5 * midpoint_error,
              "the iterative model stays under a tenth of it": srn_max_error < 0.1 * midpoint_error}
    if spike_rate:
        claims["the iterative model spikes on at most half as many held-out pairs"] = bool(
            spike_rate["iterative"] < 0.5 * spike_rate["continuous"])
    return {claim: bool(holds) for claim, holds in claims.items()}


# Table 1 and Figure 3 (notebooks 01 and 02)

def doubles_baseline(table1: dict, count: str) -> bool:
    """Whether the SRN decomposes at least twice as often as the baseline at ``count`` circles. ``table1`` is
    ``{"baseline": {"1": pct, ...}, "srn": {...}}``; a missing or NaN count fails."""
    return table1["srn"].get(count, 0) >= 2 * table1["baseline"].get(count, math.inf)


def table1_claim_holds(table1: dict) -> bool:
    """Table 1's direction: ``doubles_baseline`` at every count of ``TABLE1_CLAIM_COUNTS`` circles."""
    return all(doubles_baseline(table1, k) for k in TABLE1_CLAIM_COUNTS)


def inner_loop_claim_holds(trained: dict, without_loop: dict, margin: float = 10.0) -> bool:
    """The loop does the decomposing: the SRN's Table 1 row with its trained inner steps (``trained``,
    {"1": pct, ...}) is at least ``margin`` points above the same model with 0 inner steps (``without_loop``) at
    every count of ``TABLE1_CLAIM_COUNTS``. A missing or NaN count fails."""
    return all(trained.get(k, math.nan) - without_loop.get(k, math.nan) >= margin for k in TABLE1_CLAIM_COUNTS)


def tsne_claim_holds(smoothness: dict) -> bool:
    """Figure 3: the SRN's latent grid is smoother than the baseline's (``{"baseline": s, "srn": s}``)."""
    return smoothness["srn"] > smoothness["baseline"]


# Table 2 (notebook 03)

COLOUR_BLIND_MARGIN = 10.0  # points above the colour-blind answerer that show a model finds the named object
ABLATION_MARGIN = 10.0  # points of furthest accuracy the 0-step ablation must cost (the paper: 96 -> 63 %)


def sortofclevr_claims(table2: dict, ablation: dict, colour_blind: dict | None = None) -> dict[str, bool]:
    """Table 2 and the 0-step ablation, one bool per part. table2: {"rn": {...}, "rn_srn": {...}} in percent;
    ablation: RN + SRN's scores with 0 inner steps ({"furthest": pct, ...}). ``colour_blind`` (optional): the
    colour-blind answerer's row (``sortofclevr.experiment.colour_blind_row``); with it, one more part checks what
    the others take for granted: both models answer the non-relational questions at least ``COLOUR_BLIND_MARGIN``
    points better than a model that cannot tell which object a question names (which is "robust" by default)."""
    rn, srn = table2["rn"], table2["rn_srn"]
    claims = {"RN + SRN furthest >= RN furthest": srn["furthest"] >= rn["furthest"],
              "RN + SRN Synthetic robustness >= RN's + 30 points": srn["robust_synthetic"] >= rn["robust_synthetic"] + 30,
              "0 inner steps lower RN + SRN's furthest accuracy by >= 10 points":
                  ablation["furthest"] <= srn["furthest"] - ABLATION_MARGIN}
    if colour_blind is not None:
        level = colour_blind["non_relational"] + COLOUR_BLIND_MARGIN
        claims["both models find the named object (non-relational >= colour-blind + 10 points)"] = (
            rn["non_relational"] >= level and srn["non_relational"] >= level)
    return claims


# Table 3 (notebook 04)

def srn_at_least_cswm(table: dict, game: str = "space_invaders", steps: str = "10") -> dict[str, bool]:
    """{"k3": bool, ...}: does C-SWM+SRN reach C-SWM's H@1 *and* MRR after ``steps`` steps on ``game``, per K?
    ``table`` is Table 3's layout: {game: {"cswm_k3": {"10": {"h1": pct, "mrr": pct}, ...}, "srn_k3": ...}}."""
    models = table[game]
    return {model[5:]: all(models[f"srn_{model[5:]}"][steps][m] >= models[model][steps][m] for m in ("h1", "mrr"))
            for model in models if model.startswith("cswm_") and f"srn_{model[5:]}" in models}


def far_above_chance(table: dict, chance: dict, factor: float = 5.0, steps: str = "10") -> dict[str, bool]:
    """{game: bool}: is every model's Hits@1 after ``steps`` steps at least ``factor`` x the game's chance level?
    ``chance``: {game: {steps: pct}} (``srnlib.cswm.experiment.chance_hits``); ``table``: Table 3's layout."""
    return {game: all(scores[steps]["h1"] >= factor * chance[game][steps] for scores in models.values())
            for game, models in table.items()}


def srn_minus_cswm(runs: dict, game: str = "space_invaders", steps: str = "10") -> dict[str, dict]:
    """{"k3": {"h1": points, "mrr": points, "exceeds_spread": bool | None}, ...}: C-SWM+SRN's mean minus C-SWM's
    after ``steps`` steps on ``game``, and whether the Hits@1 difference exceeds the seeds' spread
    (``difference_exceeds_spread``; None with one seed). ``runs``: {game: {model: [scores, one per seed]}}."""
    differences = {}
    for model, per_seed in runs[game].items():
        if not model.startswith("cswm_") or f"srn_{model[5:]}" not in runs[game]:
            continue
        srn = runs[game][f"srn_{model[5:]}"]
        scores = {metric: ([r[steps][metric] for r in srn], [r[steps][metric] for r in per_seed])
                  for metric in ("h1", "mrr")}
        difference = {metric: mean_and_std(a)[0] - mean_and_std(b)[0] for metric, (a, b) in scores.items()}
        one_seed = min(len(srn), len(per_seed)) < 2
        differences[model[5:]] = dict(difference, exceeds_spread=None if one_seed
                                      else difference_exceeds_spread(*scores["h1"]))
    return differences


# CLUTRR (notebook 05)

def clutrr_claim_holds(accuracy: dict) -> bool:
    """RN + SRN's accuracy is at least the RN's (``accuracy`` {model: %}, e.g. the means over seeds); a missing or
    NaN accuracy fails."""
    srn, rn = accuracy.get("rn_srn", math.nan), accuracy.get("rn", math.nan)
    return not (math.isnan(srn) or math.isnan(rn)) and srn >= rn


def difference_exceeds_spread(model: list[float], baseline: list[float]) -> bool:
    """Whether two models' mean scores over seeds differ by more than the spread: |mean difference| larger than
    the larger of the two sample standard deviations. Needs two or more seeds of each."""
    if len(model) < 2 or len(baseline) < 2:
        raise ValueError(f"the spread needs at least two seeds per model, got {len(model)} and {len(baseline)}")
    (model_mean, model_std), (base_mean, base_std) = mean_and_std(list(model)), mean_and_std(list(baseline))
    return abs(model_mean - base_mean) > max(model_std, base_std)
