"""The summary tables: this run's numbers beside the paper's, with a ✓/✗ per claim, computed from the JSON."""
import pytest

from srnlib import report


def test_table1_marks_the_claim_from_the_numbers():
    holds = {"table1": {"baseline": {str(k): 10.0 for k in range(1, 6)}, "srn": {str(k): 20.0 for k in range(1, 6)}}}
    fails = {"table1": {"baseline": {str(k): 10.0 for k in range(1, 6)}, "srn": {str(k): 19.0 for k in range(1, 6)}}}
    assert report.table1(holds)[-1].endswith("✓") and report.table1(fails)[-1].endswith("✗")
    assert "| 3 | 10.0 | 20.0 | 7.8 | 79.9 |" in report.table1(holds)
    assert not any("inner steps" in line for line in report.table1(holds))  # older JSON without the extras
    extras = dict(holds, srn_by_inner_steps={"0": {str(k): 12.5 for k in range(1, 6)}, "5": holds["table1"]["srn"]},
                  train_seconds={"baseline": 217.9, "srn": 244.2})
    lines = report.table1(extras)
    assert "| 0 | 12.5 | 12.5 | 12.5 | 12.5 | 12.5 |" in lines and "| 5 | 20.0 | 20.0 | 20.0 | 20.0 | 20.0 |" in lines
    assert lines[-1] == "Training time: baseline 218 s, srn 244 s."
    sharing = {"baseline": {"over_counted": 67.2, "under_counted": 13.6, "shared_circles": 47.4},
               "srn": {"over_counted": 57.6, "under_counted": 15.8, "shared_circles": 48.9}}
    lines = report.table1(dict(extras, circle_sharing=sharing))
    assert "| srn | 57.6 | 15.8 | 48.9 | – | – | – | – |" in lines  # older JSON without the newer columns
    assert "| baseline | 67.2 | 13.6 | 47.4 | – | – | – | – |" in lines
    sharing["srn"].update(small_circles_drawn=1.5, other_circles_drawn=80.3)
    lines = report.table1(dict(extras, circle_sharing=sharing))
    assert "| srn | 57.6 | 15.8 | 48.9 | 1.5 | 80.3 | – | – |" in lines
    sharing["srn"].update(small_circles_reconstructed=2.5, other_circles_reconstructed=90.0)
    assert "| srn | 57.6 | 15.8 | 48.9 | 1.5 | 80.3 | 2.5 | 90.0 |" in report.table1(dict(extras,
                                                                                        circle_sharing=sharing))
    split = {kind: {"with_small": {str(k): 10.0 for k in range(1, 6)}, "without_small": {str(k): 30.0 + k
                                                                                         for k in range(1, 6)},
                    "images_without_small": {str(k): 100 + k for k in range(1, 6)}} for kind in ("baseline", "srn")}
    lines = report.table1(dict(extras, table1_by_small_circles=split))
    assert "| 4 | 104 | 34.0 | 34.0 | 10.0 | 10.0 |" in lines
    assert "| circles | images without | baseline without | srn without | baseline with | srn with |" in lines


def test_table3_needs_both_metrics_at_ten_steps_on_space_invaders():
    def result(h1, mrr):
        scores = {"10": {"h1": 30.0, "mrr": 50.0}}
        return {"table3": {"space_invaders": {"cswm_k3": scores, "srn_k3": {"10": {"h1": h1, "mrr": mrr}}}}}
    assert report.table3(result(31.0, 51.0))[-1].endswith("✓")
    assert report.table3(result(31.0, 49.0))[-1].endswith("✗")
    assert "| space_invaders | srn_k3 | 10 | 31.0 | 51.0 | 47.8 | 66.7 |" in report.table3(result(31.0, 51.0))


def test_missing_keys_are_reported_not_raised():
    lines = report.notebook_tables("05_clutrr", {"accuracy": {"rn": 50.0}})
    assert any("lacks the keys" in line for line in lines)
    assert report.notebook_tables("99_unknown", {}) == []


def test_theorem_table_reads_the_notebook_00_keys():
    result = {"h_max_error": 1.3, "srn_max_error": 0.004, "midpoint_error": 1.44,
              "spike_rate": {"continuous": 1.0, "iterative": 0.0625}}
    lines = report.responsibility_table(result)
    assert lines[-1].endswith("✓") and "| iterative (SRN) | 0.004 | 6.2 % |" in lines
    result["spike_rate"]["iterative"] = 0.6  # as notebook 00: spiking on more than half as many pairs fails
    assert report.responsibility_table(result)[-1].endswith("✗")


def test_table2_checks_the_notebooks_claim_not_a_weaker_one():
    at_priors = {"non_relational": 51.1, "relational": 46.0, "furthest": 50.7, "closest": 51.6, "count": 35.3,
                 "robust_synthetic": 100.0, "robust_dataset": 42.0}  # both models answer the same constants
    result = {"table2": {"rn": at_priors, "rn_srn": dict(at_priors)},
              "ablation_srn_0_steps": {"furthest": 50.7, "closest": 51.6, "count": 35.3}}
    text = "\n".join(report.table2(result))
    assert "- RN + SRN furthest >= RN furthest: ✓" in text
    assert "- RN + SRN Synthetic robustness >= RN's + 30 points: ✗" in text
    assert "- 0 inner steps lower RN + SRN's furthest accuracy by >= 10 points: ✗" in text
    learned = dict(at_priors, furthest=64.0, robust_synthetic=40.0)
    rn = dict(at_priors, robust_synthetic=0.0)
    result = {"table2": {"rn": rn, "rn_srn": learned}, "ablation_srn_0_steps": {"furthest": 54.0}}
    assert "✗" not in "\n".join(report.table2(result)[-3:])


def test_table1_across_seeds_pools_mean_and_sample_std_and_counts_the_seeds_that_hold():
    def result(seed, baseline, srn):
        return {"seeds": [seed], "table1": {"baseline": {str(k): baseline for k in range(1, 6)},
                                            "srn": {str(k): srn for k in range(1, 6)}}}
    runs = [result(0, 10.0, 20.0), result(1, 20.0, 20.0), result(2, 30.0, 80.0)]
    lines = report.table1_across_seeds(runs)
    assert lines[0].startswith("Seeds 0, 1, 2: mean ± std (sample) over 3 runs")
    assert "| 3 | 20.0 ± 10.0 | 40.0 ± 34.6 | 2 of 3 seeds | 7.8 | 79.9 |" in lines
    assert lines[-1].endswith("2 of 3")
    assert report.across_seeds_tables("01_circles_decomposition", runs[:1]) == []
    assert report.across_seeds_tables("04_cswm_world_models", runs) == []  # no pooled table for notebook 04 yet
    assert "### Table 1 over seeds" in report.across_seeds_tables("01_circles_decomposition", runs)[1]
    assert any("lacks the keys" in line for line in report.across_seeds_tables("01_circles_decomposition", [{}, {}]))


def test_tsne_across_seeds_pools_the_smoothness_and_counts_where_the_srn_is_smoother():
    runs = [{"seeds": [0], "tsne_smoothness": {"baseline": 0.1, "srn": 0.3}},
            {"seeds": [1], "tsne_smoothness": {"baseline": 0.3, "srn": 0.1}},
            {"seeds": [2], "tsne_smoothness": {"baseline": 0.2, "srn": 0.5}}]
    lines = report.tsne_across_seeds(runs)
    assert "| baseline | 0.200 ± 0.100 |" in lines and "| srn | 0.300 ± 0.200 |" in lines
    assert lines[-1] == "Seeds where the SRN's latent grid is the smoother: 2 of 3"
    assert "### Figure 3 over seeds" in report.across_seeds_tables("02_interpolation_and_tsne", runs)[1]


def clutrr_result(seed, rn, srn, grn, curve=None):
    by_k = {m: {"2": acc + 10, "3": acc, "4": acc - 10} for m, acc in (("rn", rn), ("rn_srn", srn), ("rn_grn", grn))}
    result = {"seeds": [seed], "accuracy": {"rn": rn, "rn_srn": srn, "rn_grn": grn}, "accuracy_by_k": by_k}
    if curve is not None:
        result["test_curve"] = curve
    return result


def test_clutrr_across_seeds_pools_mean_and_sample_std_and_states_the_claim_either_way():
    curves = [{"rn": [40.0, 50.0], "rn_srn": [45.0, 44.0], "rn_grn": [30.0, 31.0]},
              {"rn": [42.0, 46.0], "rn_srn": [47.0, 40.0], "rn_grn": [32.0, 35.0]}]
    runs = [clutrr_result(0, 50.0, 45.0, 31.0, curves[0]), clutrr_result(1, 46.0, 47.0, 35.0, curves[1])]
    lines = report.clutrr_across_seeds(runs)
    assert lines[0].startswith("Seeds 0, 1: mean ± std (sample) over 2 runs")
    assert "| RN | 58.0 ± 2.8 | 48.0 ± 2.8 | 38.0 ± 2.8 | 48.0 ± 2.8 | 48.0 (epoch 2) | 49.7 |" in lines
    assert "| RN + SRN | 56.0 ± 1.4 | 46.0 ± 1.4 | 36.0 ± 1.4 | 46.0 ± 1.4 | 46.0 (epoch 1) | 55.0 |" in lines
    text = "\n".join(lines)
    assert "- RN + SRN − RN: -2.0 points in mean; the larger std is 2.8, so the difference is not larger than the " \
           "spread; RN + SRN ≥ RN on 1 of 2 seeds" in text
    assert "- RN + GRN − RN: -15.0 points in mean; the larger std is 2.8, so the difference is larger than the " \
           "spread; RN + GRN ≥ RN on 0 of 2 seeds" in text
    assert lines[-1] == "RN + SRN ≥ RN in mean over 2 seeds: ✗"
    flipped = [clutrr_result(0, 40.0, 45.0, 50.0), clutrr_result(1, 42.0, 47.0, 52.0)]  # no curves: "–"
    assert report.clutrr_across_seeds(flipped)[-1].endswith("✓")
    assert "| RN | 51.0 ± 1.4 | 41.0 ± 1.4 | 31.0 ± 1.4 | 41.0 ± 1.4 | – | 49.7 |" in report.clutrr_across_seeds(flipped)
    one = report.clutrr_across_seeds(runs[:1])
    assert any("one seed has no spread" in line for line in one)
    assert "### CLUTRR over seeds" in report.across_seeds_tables("05_clutrr", runs)[1]
    assert report.across_seeds_tables("05_clutrr", runs[:1]) == []


def test_clutrr_table_shows_k_and_the_split():
    result = clutrr_result(0, 50.0, 45.0, 40.0)
    result.update(split={"2": {"candidates": 20, "repeats_dropped": 10, "distinct": 9}}, test_stories_in_training=0)
    lines = report.clutrr_table(result)
    assert "| RN | 60.0 | 50.0 | 40.0 | 50.0 | 49.7 |" in lines
    assert any("as the model sees it: 0 (replaced while drawing: 10 of 20 at k = 2)" in line for line in lines)
    assert lines[-1] == "RN+SRN ≥ RN: ✗"


def test_the_effect_table_says_per_notebook_and_profile_whether_the_claims_held():
    def result(notebook, profile, seed=0, **extra):
        return {"notebook": notebook, "profile": profile, "seeds": [seed], **extra}
    results = [result("00_responsibility_problem", "smoke", claims={}),
               result("00_responsibility_problem", "quick", claims={"a": True, "b": True}),
               result("01_circles_decomposition", "quick", claims={"a": True, "b": False}),
               result("01_circles_decomposition", "quick", 1, claims={"a": True, "b": True}),
               result("01_circles_decomposition", "quick", 2),  # older results: no claims recorded, not counted
               result("02_interpolation_and_tsne", "quick"),
               result("03_sort_of_clevr", "paper", claims={"a": False}),
               result("99_elsewhere", "quick", claims={"a": False})]  # not a row asked for
    notebooks = ["00_responsibility_problem", "01_circles_decomposition", "02_interpolation_and_tsne",
                 "03_sort_of_clevr"]
    lines = report.effect_table(notebooks, results)
    assert lines[:2] == ["| notebook | paper | `smoke` | `quick` | `long` | `paper` |", "|---|---|---|---|---|---|"]
    assert lines[2:] == [
        "| `00_responsibility_problem` | Theorem 1 | not checked | ✓ | not run | not run |",
        "| `01_circles_decomposition` | Table 1 | not run | ✗ (1 of 2 seeds) | not run | not run |",
        "| `02_interpolation_and_tsne` | Figure 3 | not run | not recorded | not run | not run |",
        "| `03_sort_of_clevr` | Table 2 | not run | not run | not run | ✗ |"]
    assert report.effect_cell([result("x", "quick", s, claims={"a": True}) for s in range(3)]) == "✓ (3 of 3 seeds)"
    with pytest.raises(ValueError, match="claims"):
        report.effect_cell([result("x", "quick", claims={"a": "yes"})])



def test_table2_shows_the_spread_over_seeds_when_there_are_several():
    row = {"non_relational": 99.9, "relational": 86.0, "furthest": 77.6, "closest": 80.1, "count": 100.0,
           "robust_synthetic": 49.5, "robust_dataset": 51.8}
    std = {key: 0.5 for key in row}
    result = {"table2": {"rn": row, "rn_srn": dict(row)}, "table2_std": {"rn": std, "rn_srn": std},
              "ablation_srn_0_steps": {"furthest": 70.0}, "seeds": [0, 1]}
    assert "| furthest | 77.6 ± 0.5 | 77.6 ± 0.5 | – |" in "\n".join(report.table2(result))
    result["seeds"] = [0]  # one seed: its std is 0 and says nothing, so it is not shown
    assert "| furthest | 77.6 | 77.6 | – |" in "\n".join(report.table2(result))
