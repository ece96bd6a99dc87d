"""The scripts under scripts/ that are more than glue: run at the smoke profile in a temporary home."""
import importlib.util
import json
from pathlib import Path

import torch

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
torch.set_num_threads(1)


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_circles_training_curve_scores_every_nth_epoch_with_and_without_inner_steps(isolated_home, capsys):
    curve = load("circles_training_curve")
    assert curve.main(["--kind", "srn", "--profile", "smoke", "--epochs", "2", "--every", "2"]) == 0
    written = json.loads((isolated_home / "runs" / "curves" / "circles.srn.smoke.seed0.epochs2.json").read_text())
    first, second = written["history"]
    assert "success_1" not in first and {"success_3", "success0_3"} <= set(second)  # scored at epoch 2 only
    assert written["settings"]["epochs"] == 2 and second["steps"] == 2 * first["steps"] == 2 * 8  # 256 / 32
    assert [row.split(" | ")[2] for row in written["table"][2:4]] == ["trained", "0"]
    assert set(written["circle_sharing"]) == {"over_counted", "under_counted", "shared_circles"}
    assert written["table"][-1].startswith("After epoch 2: over counted ")
    assert "| 2 | 16 | trained |" in capsys.readouterr().out
    checkpoints = list((isolated_home / "checkpoints" / "circles").glob("srn.smoke.seed0.*.pt"))
    assert len(checkpoints) == 1  # keyed by the changed settings, resumable like the notebook's
