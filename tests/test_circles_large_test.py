"""scripts/circles_large_test.py: the SRN / baseline ratio and its standard error on hand-made cases."""
import importlib.util
import math
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "circles_large_test.py"


def load():
    spec = importlib.util.spec_from_file_location("circles_large_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ratio_and_its_standard_error_by_the_delta_method():
    script = load()
    ratio, error = script.ratio_with_error(40.0, 20.0, 100)
    # relative variance: 0.6 / (100 * 0.4) + 0.8 / (100 * 0.2) = 0.015 + 0.04
    assert math.isclose(ratio, 2.0) and math.isclose(error, 2.0 * math.sqrt(0.055))
    assert script.ratio_with_error(40.0, 20.0, 400)[1] == error / 2  # four times the images: half the error
    assert script.ratio_with_error(10.0, 0.0, 100) == (math.inf, math.inf)


def test_it_scores_an_srn_trained_with_other_settings_and_refuses_to_train_one(isolated_home, monkeypatch):
    import json

    import pytest

    from srnlib import profiles
    from srnlib.circles import experiment

    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    script = load()
    arguments = ["--profile", "smoke", "--images", "24", "--seeds", "0", "--srn-set", "refiner.lr=0.5"]
    cfg = profiles.get("circles", "smoke")
    experiment.load_or_train("baseline", cfg, 0)
    with pytest.raises(SystemExit):  # the changed SRN was never trained: it is not trained here either
        script.main(arguments)
    experiment.load_or_train("srn", profiles.override(cfg, {"refiner.lr": 0.5}), 0)
    script.main(arguments)
    written = json.loads((isolated_home / "results" / "sweeps" / "circles_large_test.refiner.lr-0.5.json").read_text())
    row = written["rows"][0]
    assert written["srn_set"] == ["refiner.lr=0.5"] and set(row["srn"]) == set(row["baseline"]) == {"1", "2", "3", "4", "5"}
    assert 0 <= row["srn_small_reconstructed"] <= 100 or math.isnan(row["srn_small_reconstructed"])
    assert not (isolated_home / "results" / "sweeps" / "circles_large_test.json").exists()


def test_set_scores_both_models_trained_with_a_loss_setting_and_refuses_to_train_either(isolated_home, monkeypatch):
    """--set foreground_weight=3: a setting no profile lists (a default) that the baseline reads too, so both
    models must have been trained with it; the shipped/profile baseline is not the comparison."""
    import json

    import pytest

    from srnlib import profiles
    from srnlib.circles import experiment

    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    script = load()
    arguments = ["--profile", "smoke", "--images", "24", "--seeds", "0", "--set", "foreground_weight=3"]
    cfg = dict(profiles.get("circles", "smoke"), foreground_weight=3.0)
    experiment.load_or_train("baseline", profiles.get("circles", "smoke"), 0)  # the profile's: not enough
    experiment.load_or_train("srn", cfg, 0)
    with pytest.raises(SystemExit):  # no baseline trained with the weight, and none is trained here
        script.main(arguments)
    experiment.load_or_train("baseline", cfg, 0)
    script.main(arguments)
    written = json.loads((isolated_home / "results" / "sweeps" /
                          "circles_large_test.foreground_weight-3.json").read_text())
    assert written["set"] == ["foreground_weight=3"] and written["srn_set"] == []
    md = (isolated_home / "results" / "sweeps" / "circles_large_test.foreground_weight-3.md").read_text()
    assert "the SRN and the baseline, both with foreground_weight=3" in md.splitlines()[0]
