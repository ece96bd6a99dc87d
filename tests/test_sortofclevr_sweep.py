"""scripts/sortofclevr_sweep.py at the smoke profile, writing to a temporary folder."""
import importlib.util
import json
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "sortofclevr_sweep.py"
torch.set_num_threads(1)


def load():
    spec = importlib.util.spec_from_file_location("sortofclevr_sweep", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sweep_appends_one_row_per_run_with_its_curve_and_skips_a_repeat(isolated_home, tmp_path, capsys):
    sweep = load()
    out = tmp_path / "sweeps"
    args = ["--base", "smoke", "--out", str(out), "--epochs", "2"]
    sweep.main(["--name", "state", "--kind", "state", "--set", "rn_hidden=8", "--set", "init='he'"] + args)
    sweep.main(["--name", "pixels", "--kind", "rn", "--set", "warmup_steps=2", "--set", "stem_lr=0.1"] + args)
    rows = json.loads((out / "sortofclevr_sweep.json").read_text())
    assert [(r["name"], r["kind"], r["steps"]) for r in rows] == [("state", "state", 2 * 8), ("pixels", "rn", 2 * 8)]
    assert rows[0]["overrides"] == {"rn_hidden": 8, "init": "he"} and rows[1]["images_per_batch"] == 8  # 32 / 4
    assert [point["steps"] for point in rows[1]["curve"]] == [8, 16]
    assert {"non_relational", "relational", "furthest", "cpu_seconds"} <= set(rows[1]["final"])
    assert 0 <= rows[1]["final"]["stem_colour"] <= 100 and "stem_colour" not in rows[0]["final"]  # pixels only
    assert rows[1]["cpu_seconds"] >= rows[1]["train_cpu_seconds"] > 0
    table = (out / "sortofclevr_sweep.md").read_text()
    assert "| state | state | smoke | 0 | 8 |" in table and "| pixels | rn | smoke | 0 |" in table
    blind = rows[1]["colour_blind"]  # the colour-blind answerer on the same validation set
    assert 0 <= blind["non_relational"] <= 100 and blind == rows[0]["colour_blind"]
    assert (f"| {rows[1]['final']['stem_colour']:.0f} | {blind['non_relational']:.1f} / {blind['relational']:.1f} "
            f"| - | - | - |") in table  # the colour probe's and the colour-blind columns; an RN has no loop
    sweep.main(["--name", "state", "--kind", "state", "--set", "rn_hidden=8", "--set", "init='he'"] + args)
    assert "already in" in capsys.readouterr().out
    sweep.main(["--name", "srn", "--kind", "rn_srn", "--set", "refiner.lr=2.0"] + args)
    srn = json.loads((out / "sortofclevr_sweep.json").read_text())[-1]
    assert srn["overrides"] == {"refiner.lr": 2.0} and srn["settings"]["refiner"]["lr"] == 2.0
    assert set(srn["final_0_steps"]) == set(rows[1]["final"]) - {"cpu_seconds", "steps", "stem_colour"}
    assert srn["inner_problem"]["loss_s0"] > 0 and -1 <= srn["inner_problem"]["solved"] <= 1
    assert (f"| {srn['final_0_steps']['furthest']:.1f} / {100 * srn['inner_problem']['solved']:.1f} % |"
            in (out / "sortofclevr_sweep.md").read_text())
    assert len(json.loads((out / "sortofclevr_sweep.json").read_text())) == 3


def test_a_resumable_run_killed_after_an_epoch_resumes_and_ends_as_an_uninterrupted_one(isolated_home, tmp_path,
                                                                                          monkeypatch):
    sweep = load()
    args = ["--base", "smoke", "--epochs", "2", "--name", "srn", "--kind", "rn_srn", "--set", "s0_gradient=False"]
    sweep.main(args + ["--out", str(tmp_path / "whole")])  # no checkpoint: the reference
    whole = json.loads((tmp_path / "whole" / "sortofclevr_sweep.json").read_text())[0]

    probe, calls = sweep.perception.stem_colour_accuracy, []

    def killed_in_the_second_epoch(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return probe(*a, **k)

    monkeypatch.setattr(sweep.perception, "stem_colour_accuracy", killed_in_the_second_epoch)
    try:
        sweep.main(args + ["--resumable", "--out", str(tmp_path / "resumed")])
    except KeyboardInterrupt:
        pass
    assert not (tmp_path / "resumed" / "sortofclevr_sweep.json").exists()
    assert len(list((isolated_home / "checkpoints" / "sortofclevr").glob("srn.sweep-smoke.seed0.*.pt"))) == 1
    monkeypatch.setattr(sweep.perception, "stem_colour_accuracy", probe)
    sweep.main(args + ["--resumable", "--out", str(tmp_path / "resumed")])
    resumed = json.loads((tmp_path / "resumed" / "sortofclevr_sweep.json").read_text())[0]
    assert [point["steps"] for point in resumed["curve"]] == [8, 16]
    drop = ("cpu_seconds",)
    for a, b in zip(whole["curve"], resumed["curve"]):  # the same training: same data order, same random state
        assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    assert resumed["final_0_steps"] == whole["final_0_steps"]
    assert resumed["cpu_seconds"] >= resumed["curve"][-1]["cpu_seconds"] > resumed["curve"][0]["cpu_seconds"] > 0
