import json

import pytest

import srnlib
from srnlib import results


def test_results_carry_their_provenance(isolated_home):
    path = srnlib.results.write_results("demo", "smoke", [0], 1.234, table={"a": 1.0})
    payload = json.loads(path.read_text())
    assert path == isolated_home / "results" / "demo.smoke.json"
    assert payload["seeds"] == [0] and payload["profile"] == "smoke" and payload["table"] == {"a": 1.0}
    assert {"wall_seconds", "torch_version", "device"} <= set(payload)


def test_results_of_extra_seeds_do_not_overwrite_the_main_result(isolated_home):
    main = srnlib.results.write_results("demo", "quick", [0], 1.0, value=1.0)
    extra = srnlib.results.write_results("demo", "quick", [2], 1.0, value=2.0)
    pooled = srnlib.results.write_results("demo", "quick", [0, 1, 2], 1.0, value=1.5)
    assert main.name == pooled.name == "demo.quick.json" and extra.name == "demo.quick.seed2.json"
    assert json.loads(extra.read_text())["value"] == 2.0
    pooled_from_seed_3 = srnlib.results.write_results("demo", "quick", [3, 4], 1.0, value=3.5)
    assert pooled_from_seed_3.name == "demo.quick.seed3.json"


def test_non_finite_numbers_are_refused(isolated_home):
    with pytest.raises(ValueError, match="table.b"):
        srnlib.results.write_results("demo", "smoke", [0], 1.0, table={"a": 1.0, "b": float("nan")})


def test_smoke_figures_go_to_an_ignored_folder(isolated_home, monkeypatch):
    monkeypatch.setenv("SRN_PROFILE", "smoke")
    assert srnlib.paths.figures_dir() == isolated_home / "figures" / "smoke"
    assert srnlib.paths.figures_dir("quick") == isolated_home / "figures"
    ignored = (srnlib.paths.Path(__file__).resolve().parent.parent / ".gitignore").read_text().splitlines()
    assert "figures/smoke/" in ignored and "results/*.smoke.json" in ignored


def test_extra_seeds_figures_go_to_an_ignored_folder_of_their_own(isolated_home):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert srnlib.paths.figures_dir("quick", seed=0) == isolated_home / "figures"
    assert srnlib.paths.figures_dir("quick", seed=2) == isolated_home / "figures" / "seed2"
    assert srnlib.paths.figures_dir("smoke", seed=2) == isolated_home / "figures" / "smoke"
    assert srnlib.paths.figures_dir("long") == isolated_home / "figures" / "long"  # never the quick figures
    assert srnlib.paths.figures_dir("long", seed=1) == isolated_home / "figures" / "long" / "seed1"
    assert srnlib.paths.figures_dir("paper") == isolated_home / "figures" / "paper"
    figure = plt.figure()
    try:
        assert srnlib.plots.save(figure, "demo", "quick", seed=3) == isolated_home / "figures" / "seed3" / "demo.png"
    finally:
        plt.close(figure)
    assert (isolated_home / "figures" / "seed3" / "demo.png").is_file()
    assert not (isolated_home / "figures" / "demo.png").exists()
    ignored = (srnlib.paths.Path(__file__).resolve().parent.parent / ".gitignore").read_text().splitlines()
    assert "figures/seed*/" in ignored
    with pytest.raises(ValueError, match="seed"):
        srnlib.paths.figures_dir("quick", seed=-1)


def test_mean_and_std_pools_nested_scores_with_the_sample_std():
    runs = [{"rn": {"furthest": 60.0, "count": 35.0}}, {"rn": {"furthest": 64.0, "count": 35.0}},
            {"rn": {"furthest": 62.0, "count": 35.0}}]
    mean, std = results.mean_and_std(runs)
    assert mean == {"rn": {"furthest": 62.0, "count": 35.0}}
    assert std["rn"]["furthest"] == pytest.approx(2.0)  # sqrt(((-2)^2 + 2^2 + 0) / (3 - 1)), not the population 1.63
    assert std["rn"]["count"] == 0.0
    assert results.mean_and_std([{"a": 7.0}]) == ({"a": 7.0}, {"a": 0.0})  # one seed: std 0
    assert results.mean_and_std([1, 2, 3]) == (2.0, 1.0)


def test_mean_and_std_refuses_mismatched_or_empty_runs():
    with pytest.raises(ValueError, match="non-empty list"):
        results.mean_and_std([])
    with pytest.raises(ValueError, match="same keys: seed 1"):
        results.mean_and_std([{"a": 1.0}, {"b": 1.0}])
    with pytest.raises(ValueError, match="numbers or dicts"):
        results.mean_and_std([{"a": "x"}, {"a": 1.0}])
