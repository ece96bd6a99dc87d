"""scripts/circles_decoder_probe.py: the set each model makes vs the set fitted to the image, at smoke size."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "circles_decoder_probe.py"


def load():
    spec = importlib.util.spec_from_file_location("circles_decoder_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_refuses_to_train_and_writes_both_sets_stats_for_both_models(isolated_home, monkeypatch):
    from srnlib import profiles
    from srnlib.circles import experiment

    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    script = load()
    arguments = ["--profile", "smoke", "--images", "12", "--steps", "20", "--seeds", "0"]
    cfg = profiles.get("circles", "smoke")
    experiment.load_or_train("baseline", cfg, 0)
    with pytest.raises(SystemExit):  # no SRN trained, and none is trained here
        script.main(arguments)
    experiment.load_or_train("srn", cfg, 0)
    script.main(arguments)
    written = json.loads((isolated_home / "results" / "sweeps" / "circles_decoder_probe.json").read_text())
    assert written["images"] == 12 and written["steps"] == 20
    assert [(row["seed"], row["model"]) for row in written["rows"]] == [(0, "baseline"), (0, "srn")]
    for row in written["rows"]:
        assert set(row["made"]) == set(row["fitted"]) == {"mse", "small", "other", "success"}
        assert row["fitted"]["mse"] <= row["made"]["mse"]  # 20 Adam steps on the set lower the error it is fitted to
        assert 0 <= row["made"]["success"] <= 100
    md = (isolated_home / "results" / "sweeps" / "circles_decoder_probe.md").read_text()
    assert md.count("| 0 | srn |") == 2 and "fitted" in md
