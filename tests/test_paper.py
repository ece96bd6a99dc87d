"""The paper's claims as predicates on a run's numbers (srnlib.paper), and the layering that keeps them at the bottom
of the library: the paper's numbers and the summary's formatting import no experiment package."""
import json
import subprocess
import sys

import pytest

from srnlib import paper

EXPERIMENTS = ("srnlib.circles", "srnlib.sortofclevr", "srnlib.cswm", "srnlib.clutrr", "srnlib.responsibility")


@pytest.mark.parametrize("module", ["srnlib.paper", "srnlib.report", "srnlib"])
def test_paper_and_report_import_no_experiment_package(module):
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                       text=True).stdout.strip().splitlines()[-1])
    assert not [name for name in loaded if name.startswith(EXPERIMENTS)], f"import {module} loads an experiment"


def test_table1_claim_holds_needs_twice_the_baseline_at_every_count_from_2_to_5():
    def table(srn_at_3):
        return {"baseline": {str(k): 10.0 for k in range(1, 6)},
                "srn": {**{str(k): 20.0 for k in range(1, 6)}, "1": 0.0, "3": srn_at_3}}
    assert paper.TABLE1_CLAIM_COUNTS == ("2", "3", "4", "5")
    assert paper.table1_claim_holds(table(20.0))  # 1 circle is not part of the check
    assert not paper.doubles_baseline(table(20.0), "1") and paper.doubles_baseline(table(20.0), "3")
    assert not paper.table1_claim_holds(table(19.9))
    assert not paper.table1_claim_holds(table(float("nan")))  # a count without test images fails
    missing = table(20.0)
    del missing["srn"]["5"]
    assert not paper.table1_claim_holds(missing)


def test_inner_loop_claim_needs_ten_points_over_zero_steps_at_every_count_from_two():
    trained = {"1": 50.0, "2": 40.0, "3": 30.0, "4": 25.0, "5": 20.0}
    assert paper.inner_loop_claim_holds(trained, {"1": 50.0, "2": 30.0, "3": 20.0, "4": 15.0, "5": 10.0})
    assert not paper.inner_loop_claim_holds(trained, {"1": 0.0, "2": 30.0, "3": 20.0, "4": 15.1, "5": 10.0})
    assert not paper.inner_loop_claim_holds(trained, {"2": 0.0, "3": 0.0, "4": 0.0})  # a missing count fails
    assert not paper.inner_loop_claim_holds(dict(trained, **{"3": float("nan")}), {k: 0.0 for k in trained})


def test_tsne_claim_needs_a_strictly_smoother_srn():
    assert paper.tsne_claim_holds({"baseline": 0.1, "srn": 0.3})
    assert not paper.tsne_claim_holds({"baseline": 0.3, "srn": 0.3})


def test_responsibility_claims_are_the_ones_the_table_checks():
    claims = paper.responsibility_claims(1.0, 0.05, 1.44, {"continuous": 0.4, "iterative": 0.1})
    assert list(claims.values()) == [True, True, True]
    claims = paper.responsibility_claims(0.5, 0.05, 1.44, {"continuous": 0.4, "iterative": 0.3})
    assert list(claims.values()) == [False, True, False]
    assert len(paper.responsibility_claims(1.0, 0.05, 1.44)) == 2  # without spike rates: two claims


def test_sortofclevr_claims_are_three_parts_and_notebook_03_calls_the_same_function():
    from srnlib.sortofclevr import experiment

    rn = {"furthest": 50.0, "robust_synthetic": 0.0}
    srn = {"furthest": 64.0, "robust_synthetic": 40.0}
    assert all(paper.sortofclevr_claims({"rn": rn, "rn_srn": srn}, {"furthest": 54.0}).values())
    claims = paper.sortofclevr_claims({"rn": rn, "rn_srn": dict(srn, robust_synthetic=29.9)}, {"furthest": 64.0})
    assert list(claims.values()) == [True, False, False]
    claims = paper.sortofclevr_claims({"rn": rn, "rn_srn": srn}, {"furthest": 54.1})  # 9.9 points: not enough
    assert list(claims.values()) == [True, True, False]
    assert experiment.claims is paper.sortofclevr_claims


def test_the_colour_blind_part_needs_both_models_ten_points_above_the_colour_blind_answerer():
    rn = {"furthest": 70.0, "robust_synthetic": 0.0, "non_relational": 74.0}
    srn = {"furthest": 80.0, "robust_synthetic": 90.0, "non_relational": 90.0}
    blind = {"non_relational": 63.0}
    claims = paper.sortofclevr_claims({"rn": rn, "rn_srn": srn}, {"furthest": 63.0}, blind)
    assert len(claims) == 4 and list(claims.values()) == [True, True, True, True]
    claims = paper.sortofclevr_claims({"rn": dict(rn, non_relational=72.9), "rn_srn": srn}, {"furthest": 63.0}, blind)
    assert list(claims.values()) == [True, True, True, False]  # the RN is under 63 + 10


def cswm_scores(h1, mrr):
    return {steps: {"h1": float(h1), "mrr": float(mrr)} for steps in ("1", "5", "10")}


def test_the_cswm_claim_needs_both_h1_and_mrr_for_a_given_k():
    from srnlib.cswm import experiment

    table = {"space_invaders": {"cswm_k3": cswm_scores(10, 20), "srn_k3": cswm_scores(12, 19),
                                "cswm_k5": cswm_scores(10, 20), "srn_k5": cswm_scores(10, 20)}}
    assert paper.srn_at_least_cswm(table) == {"k3": False, "k5": True}
    assert experiment.srn_at_least_cswm is paper.srn_at_least_cswm


def test_far_above_chance_needs_every_model_of_a_game_at_the_factor():
    table = {"pong": {"cswm_k3": cswm_scores(5.0, 20), "srn_k3": cswm_scores(4.9, 20)},
             "space_invaders": {"cswm_k3": cswm_scores(3.5, 20), "srn_k3": cswm_scores(9.0, 20)}}
    chance = {"pong": {"10": 1.0}, "space_invaders": {"10": 0.7}}
    assert paper.far_above_chance(table, chance) == {"pong": False, "space_invaders": True}  # 4.9 < 5; 3.5 >= 3.5
    assert paper.far_above_chance(table, chance, factor=4.0) == {"pong": True, "space_invaders": True}


def test_srn_minus_cswm_gives_mean_differences_and_the_spread_check_from_two_seeds():
    runs = {"space_invaders": {"cswm_k5": [cswm_scores(10, 20), cswm_scores(12, 22)],
                               "srn_k5": [cswm_scores(16, 25), cswm_scores(18, 27)],
                               "cswm_k3": [cswm_scores(10, 20)], "srn_k3": [cswm_scores(9, 21)]}}
    differences = paper.srn_minus_cswm(runs)
    assert differences["k5"] == {"h1": 6.0, "mrr": 5.0, "exceeds_spread": True}  # 6 points > std 1.41
    assert differences["k3"] == {"h1": -1.0, "mrr": 1.0, "exceeds_spread": None}  # one seed: no spread


def test_clutrr_claim_and_spread_predicates():
    assert paper.clutrr_claim_holds({"rn": 50.0, "rn_srn": 50.0})
    assert not paper.clutrr_claim_holds({"rn": 50.0, "rn_srn": 49.9})
    assert not paper.clutrr_claim_holds({"rn": 50.0, "rn_srn": float("nan")})
    assert not paper.clutrr_claim_holds({"rn": 50.0})
    assert paper.difference_exceeds_spread([55.0, 57.0, 59.0], [50.0, 51.0, 52.0])  # 6 > std 2
    assert not paper.difference_exceeds_spread([50.0, 54.0, 58.0], [50.0, 51.0, 52.0])  # 3 < std 4
    assert paper.difference_exceeds_spread([40.0, 44.0, 48.0], [50.0, 51.0, 52.0])  # a drop of 7 > std 4 counts
    with pytest.raises(ValueError, match="two seeds"):
        paper.difference_exceeds_spread([50.0], [40.0, 41.0])


def test_the_paper_numbers_cover_every_row_the_tables_show():
    assert set(paper.PAPER["table1"]["srn"]) == set(paper.CIRCLE_COUNTS)
    assert set(paper.PAPER["table2"]["rn"]) <= set(paper.TABLE2_KEYS)
    assert set(paper.PAPER["clutrr"]) == {"rn", "rn_srn", "rn_grn"}
