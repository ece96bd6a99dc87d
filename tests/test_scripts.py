"""The scripts under scripts/ that are more than glue: run at the smoke profile in a temporary home."""
import importlib.util
import json
from pathlib import Path

import pytest
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
    assert set(written["circle_sharing"]) == {"over_counted", "under_counted", "shared_circles", "small_circles_drawn",
                                                "other_circles_drawn", "small_circles_reconstructed",
                                                "other_circles_reconstructed"}
    assert written["table"][-1].startswith("After epoch 2: over counted ")
    assert "| 2 | 16 | trained |" in capsys.readouterr().out
    checkpoints = list((isolated_home / "checkpoints" / "circles").glob("srn.smoke.seed0.*.pt"))
    assert len(checkpoints) == 1  # keyed by the changed settings, resumable like the notebook's


def test_circles_training_curve_takes_typed_setting_overrides(isolated_home):
    curve = load("circles_training_curve")
    cfg = {"n": 8, "lr": 2e-3, "attention": "rgb", "decoder_channels": [16, 16, 8], "epochs": 8, "profile": "quick",
           "refiner": {"grad_clip": None, "lr": 0.1}}
    assert curve.overrides(["n=16", "lr=1", "attention=logit", "decoder_channels=[8, 8, 4]", "refiner.grad_clip=1.0",
                            "refiner.lr=30"], cfg) == {"n": 16, "lr": 1.0, "attention": "logit",
                                                       "decoder_channels": [8, 8, 4], "refiner.grad_clip": 1.0,
                                                       "refiner.lr": 30.0}
    for bad, message in [("n=1.5", "needs a value of type int"), ("width=3", "KEY one of"), ("n", "KEY=VALUE"),
                         ("epochs=3", "--epochs sets the epochs"), ("refiner=3", "KEY one of")]:
        with pytest.raises(ValueError, match=message):
            curve.overrides([bad], cfg)
    assert curve.main(["--kind", "baseline", "--profile", "smoke", "--epochs", "1", "--every", "5",
                       "--set", "n=4", "--set", "max_circles=3"]) == 0
    written = json.loads((isolated_home / "runs" / "curves" /
                          "circles.baseline.smoke.n-4.max_circles-3.seed0.epochs1.json").read_text())
    assert written["settings"]["n"] == 4 and written["settings"]["max_circles"] == 3
    with pytest.raises(SystemExit):
        curve.main(["--kind", "baseline", "--profile", "smoke", "--epochs", "1", "--set", "n=many"])


def test_circles_training_curve_sets_a_default_setting_the_profile_leaves_out(isolated_home):
    """foreground_weight is a CirclesConfig default no profile lists: --set adds it (a checkpoint of its own);
    without --set the settings, and so the profile's checkpoint key, stay without it."""
    from srnlib import profiles
    from srnlib.train import checkpoint_path

    curve = load("circles_training_curve")
    cfg = profiles.get("circles", "smoke")
    assert "foreground_weight" not in curve.with_defaults(cfg, "circles", ["n=4"])
    assert curve.with_defaults(cfg, "circles", ["foreground_weight=5"])["foreground_weight"] == 1.0
    assert curve.main(["--kind", "baseline", "--profile", "smoke", "--epochs", "1",
                       "--set", "foreground_weight=5"]) == 0
    written = json.loads((isolated_home / "runs" / "curves" /
                          "circles.baseline.smoke.foreground_weight-5.seed0.epochs1.json").read_text())
    assert written["settings"]["foreground_weight"] == 5.0
    assert checkpoint_path("circles", "smoke", 0, dict(written["settings"]), "baseline").exists()
    assert not checkpoint_path("circles", "smoke", 0, dict(cfg, epochs=1), "baseline").exists()
    with pytest.raises(SystemExit):
        curve.main(["--kind", "baseline", "--profile", "smoke", "--epochs", "1", "--set", "foreground_weight=heavy"])


def test_circles_runs_table_lists_finished_and_stopped_runs_with_their_scored_epochs(isolated_home):
    curve, runs = load("circles_training_curve"), load("circles_runs_table")
    assert curve.main(["--kind", "srn", "--profile", "smoke", "--epochs", "2", "--every", "1",
                       "--set", "foreground_weight=3"]) == 0
    assert curve.main(["--kind", "baseline", "--profile", "smoke", "--epochs", "1", "--every", "1"]) == 0
    (isolated_home / "checkpoints" / "circles" / "junk.smoke.seed0.0.pt").write_bytes(b"not a checkpoint")
    assert runs.main(["--profile", "smoke"]) == 0
    written = json.loads((isolated_home / "results" / "sweeps" / "circles_runs.smoke.json").read_text())["runs"]
    assert [(run["kind"], run["differs"], run["epochs_done"]) for run in written] == [
        ("srn", "foreground_weight=3.0", 2), ("baseline", "the profile's", 1)]
    srn = written[0]
    assert [point["epoch"] for point in srn["scored"]] == [1, 2] and len(srn["scored"][0]["zero_steps"]) == 5
    assert written[1]["scored"][0]["zero_steps"] is None and not srn["shipped"]
    table = (isolated_home / "results" / "sweeps" / "circles_runs.smoke.md").read_text()
    assert "| srn | 0 | foreground_weight=3.0 | 2 of 2 |" in table
    figure = (isolated_home / "results" / "sweeps" / "circles_runs.smoke.png").read_bytes()
    assert figure[:8] == b"\x89PNG\r\n\x1a\n"
    assert runs.differences({"n": 4, "epochs": 9, "refiner": {"lr": 1.0}},
                            {"n": 4, "epochs": 1, "refiner": {"lr": 2.0}}) == "refiner.lr=1.0"


def test_circles_decoder_probe_refuses_to_train_and_writes_both_sets_stats_for_both_models(isolated_home,
                                                                                         monkeypatch):
    from srnlib import profiles
    from srnlib.circles import experiment

    monkeypatch.syspath_prepend(str(SCRIPTS))
    script = load("circles_decoder_probe")
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


def test_circles_paper_gpu_sizes_the_epochs_to_the_budget_and_writes_table1(isolated_home, capsys):
    gpu = load("circles_paper_gpu")
    cfg = gpu.budgeted_settings("paper", 256, 600.0, {"baseline": 0.05, "srn": 0.1})
    assert cfg["epochs"] == int(600 / (0.1 * 250)) == 24 and cfg["more_steps_epoch"] == round(0.2 * 24)
    assert cfg["lr"] == pytest.approx(3e-4 * 2) and cfg["train_images"] == 64_000 and cfg["n"] == 16
    assert gpu.main(["--profile", "smoke", "--minutes", "0.05", "--batch-size", "32"]) == 0
    written = json.loads((isolated_home / "runs" / "gpu" / "circles.smoke.json").read_text())
    assert written["settings"]["epochs"] >= 1 and set(written["models"]) == {"baseline", "srn"}
    assert set(written["models"]["srn"]["table1_0_steps"]) == {"1", "2", "3", "4", "5"}
    assert "| paper SRN | 95.8 |" in capsys.readouterr().out


def test_circles_search_writes_one_row_per_run_and_compares_with_the_matching_baseline(isolated_home):
    search = load("circles_search")
    assert search.main(["--profile", "smoke", "--runs", "baseline,srn-lr30"]) == 0
    rows = json.loads((isolated_home / "runs" / "sweeps" / "circles_search.json").read_text())["runs"]
    assert [row["name"] for row in rows] == ["baseline", "srn-lr30"]
    assert rows[1]["settings"]["refiner"]["lr"] == 30.0 and set(rows[1]["table1_0_steps"]) == {"1", "2", "3", "4",
                                                                                                "5"}
    assert search.matching_baseline(rows[1], rows) is rows[0]
    table = (isolated_home / "runs" / "sweeps" / "circles_search.md").read_text()
    assert "| srn-lr30 | refiner.lr=30.0 | 0 |" in table
    assert search.main(["--profile", "smoke", "--runs", "baseline"]) == 0  # already there: skipped, not retrained
    assert len(json.loads((isolated_home / "runs" / "sweeps" / "circles_search.json").read_text())["runs"]) == 2


def test_cswm_training_curve_scores_every_nth_epoch_and_always_the_last(isolated_home, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it imports circles_training_curve's --set rules
    curve = load("cswm_training_curve")
    arguments = ["--game", "shapes", "--objects", "5", "--kind", "cswm", "--profile", "smoke", "--epochs", "3",
                 "--every", "2"]
    assert curve.main(arguments) == 0
    written = json.loads((isolated_home / "runs" / "curves" / "cswm.shapes.cswm.k5.smoke.seed0.epochs3.json")
                         .read_text())
    scored = [record["epoch"] for record in written["history"] if "h1_10" in record]
    assert scored == [2, 3]  # every 2nd epoch, and the last
    assert {"h1_1", "mrr_1", "h1_5", "mrr_5", "mrr_10"} <= set(written["history"][-1])
    distinct = written["chance_h1"]["10"]
    assert 10.0 <= distinct <= 100.0  # 10 evaluation episodes at smoke: at most 10 distinct states
    assert written["table"][-1].startswith("| chance |")
    assert "| 3 |" in capsys.readouterr().out


def test_cswm_long_trains_its_share_of_the_jobs_ships_them_and_skips_shipped_ones(isolated_home, monkeypatch,
                                                                                   capsys):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    long_run = load("cswm_long")
    from srnlib import profiles
    cfg = profiles.get("cswm", "smoke")
    assert long_run.jobs(cfg) == [("shapes", 5, "cswm", 0), ("shapes", 5, "srn", 0)]
    assert long_run.main(["--profile", "smoke", "--worker", "1", "--workers", "2", "--every", "1"]) == 0
    manifests = list((isolated_home / "shipped" / "cswm").glob("*.json"))
    assert [m.name.split(".")[0] for m in manifests] == ["shapes_srn_k5"]  # worker 1 of 2: the second job only
    manifest = json.loads(manifests[0].read_text())
    assert manifest["command"].endswith("--kind srn --profile smoke --epochs 1 --every 1 --seed 0")
    assert {"h1_10", "mrr_10"} <= set(manifest["metrics"]) and manifest["optimizer_steps"] > 0
    capsys.readouterr()
    assert long_run.main(["--profile", "smoke", "--worker", "1", "--workers", "2"]) == 0
    assert "already shipped" in capsys.readouterr().out
    assert long_run.main(["--profile", "smoke", "--table"]) == 0
    table = capsys.readouterr().out
    h1 = manifest["metrics"]["h1_10"]
    assert "| shapes | 5 | srn | 0 |" in table and f"{h1:.1f} / " in table and "1 of 2 models not shipped yet" in table
    with pytest.raises(SystemExit):
        long_run.main(["--worker", "2", "--workers", "2"])


def test_sortofclevr_long_trains_its_share_ships_it_with_test_accuracy_and_reports_progress(isolated_home, capsys):
    long_run = load("sortofclevr_long")
    from srnlib import profiles, shipped
    cfg = profiles.get("sortofclevr", "smoke")
    assert long_run.jobs(cfg) == [("rn", 0), ("rn_srn", 0)]
    assert long_run.main(["--profile", "smoke", "--progress"]) == 0
    assert capsys.readouterr().out.splitlines() == ["rn seed 0: not started", "rn_srn seed 0: not started"]
    assert long_run.main(["--profile", "smoke", "--worker", "1", "--workers", "2"]) == 0
    manifests = list((isolated_home / "shipped" / "sortofclevr").glob("*.json"))
    # worker 1 of 2: the second job only, and Figure 4's decoder of its model (seed 0)
    assert sorted(m.name.split(".")[0] for m in manifests) == ["decoder_rn_srn", "rn_srn"]
    decoder_manifest = json.loads(next(m for m in manifests if m.name.startswith("decoder")).read_text())
    assert decoder_manifest["metrics"]["squared_error_per_image"] > 0
    manifests = [m for m in manifests if m.name.startswith("rn_srn")]
    manifest = json.loads(manifests[0].read_text())
    assert manifest["command"].endswith("sortofclevr_long.py --profile smoke --worker 1 --workers 2")
    metrics = manifest["metrics"]
    assert metrics["best_epoch"] == 1 and manifest["optimizer_steps"] == 8  # 64 images / (32 // 4 = 8 per batch)
    assert all(0 <= metrics[f"{split}_{key}"] <= 100 for split in ("val", "test") for key in long_run.CURVE_KEYS)
    # the shipped weights are what the notebook loads: the test accuracy in the manifest is theirs
    from srnlib.sortofclevr import experiment
    model, _ = experiment.load_or_train("rn_srn", cfg, 0)
    assert experiment.accuracy_by_category(model, experiment.datasets(cfg)[2])["relational"] == pytest.approx(
        metrics["test_relational"], abs=0.01)
    capsys.readouterr()
    assert long_run.main(["--profile", "smoke", "--worker", "1", "--workers", "2"]) == 0
    assert "already shipped" in capsys.readouterr().out
    # a model shipped without its decoder (by an older script) gets the decoder on the next run, not a retraining
    for path in (isolated_home / "shipped" / "sortofclevr").glob("decoder_*"):
        path.unlink()
    assert long_run.main(["--profile", "smoke", "--worker", "1", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "shipped" in out and "decoder_rn_srn" in out and len(list(shipped.shipped_checkpoints())) == 2
    assert json.loads(manifests[0].read_text()) == manifest  # the model's manifest is untouched
    assert long_run.main(["--profile", "smoke", "--progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "rn seed 0: not started" and "epoch 1 of 1" in lines[1] and "8 updates" in lines[2]
    assert long_run.main(["--profile", "smoke", "--table"]) == 0
    table = capsys.readouterr().out
    assert f"| rn_srn | 0 | 1 | {metrics['val_non_relational']:.1f} / " in table
    assert "1 of 2 models not shipped yet" in table
    assert list(shipped.verify().values()) == [None, None]  # sha256 and settings of both shipped files check out
    with pytest.raises(SystemExit):
        long_run.main(["--worker", "2", "--workers", "2"])


def test_responsibility_sweep_writes_one_row_per_run_and_seed_with_the_notebooks_claims(isolated_home, capsys):
    sweep = load("responsibility_sweep")
    out = isolated_home / "sweeps"
    argv = ["--base", "smoke", "--runs", "quick,steps20", "--seeds", "0", "--out", str(out)]
    assert sweep.main(argv) == 0
    rows = json.loads((out / "responsibility_sweep.json").read_text())
    assert [(r["name"], r["seed"]) for r in rows] == [("quick", 0), ("steps20", 0)]
    assert rows[1]["settings"]["refiner"]["steps"] == 20 and rows[0]["settings"]["refiner"]["steps"] == 4
    for row in rows:
        assert set(row["claims"]) == {"the continuous model spikes above half the midpoint cost on the probe",
                                      "the iterative model stays under a tenth of it",
                                      "the iterative model spikes on at most half as many held-out pairs"}
        for kind in ("continuous", "iterative"):
            assert 0 <= row[kind]["wrong_fraction"] <= 1 and row[kind]["max_error"] >= 0
    table = (out / "responsibility_sweep.md").read_text()
    assert "| steps20 | refiner.steps=20 | 0 |" in table
    capsys.readouterr()
    assert sweep.main(argv) == 0  # both rows already there
    assert capsys.readouterr().out.count("already in the table") == 2
    with pytest.raises(SystemExit):
        sweep.main(["--runs", "nonsense"])


def test_sortofclevr_colour_probe_prints_trained_untrained_and_rgb_rows(isolated_home, capsys):
    from srnlib import profiles
    from srnlib.sortofclevr import experiment
    from srnlib.train import checkpoint_path
    cfg = profiles.get("sortofclevr", "smoke")
    experiment.load_or_train("rn", cfg, 0)
    probe = load("sortofclevr_colour_probe")
    assert probe.main([str(checkpoint_path("sortofclevr", "smoke", 0, cfg, "rn")), "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| trained", "| untrained", "| mean RGB"]
    assert all(line.endswith("% |") for line in lines[2:])


def test_clutrr_long_trains_its_share_and_ships_the_papers_number(isolated_home, capsys):
    long_run = load("clutrr_long")
    from srnlib import profiles
    from srnlib.clutrr import experiment
    cfg = profiles.get("clutrr", "smoke")
    assert long_run.jobs(2) == [("rn", 0), ("rn_srn", 0), ("rn_grn", 0), ("rn", 1), ("rn_srn", 1), ("rn_grn", 1)]
    # worker 1 of 3 over 1 seed: the RN + SRN only
    assert long_run.main(["--profile", "smoke", "--seeds", "1", "--worker", "1", "--workers", "3"]) == 0
    manifests = list((isolated_home / "shipped" / "clutrr").glob("*.json"))
    assert [m.name.split(".")[0] for m in manifests] == ["rn_srn"]
    manifest = json.loads(manifests[0].read_text())
    assert manifest["command"].endswith("clutrr_long.py --profile smoke --worker 1 --workers 3")
    metrics = manifest["metrics"]
    # the shipped weights are what the notebook loads, and the manifest holds their history's best epoch
    _, histories, _ = experiment.train_models(cfg, 0, kinds=("rn_srn",))
    best = experiment.best_epoch(histories["rn_srn"])
    assert metrics["best_epoch"] == best["epoch"] == 1 and metrics["test_accuracy"] == pytest.approx(best["accuracy"],
                                                                                                     abs=0.01)
    assert {"test_accuracy_k2", "test_accuracy_k3", "test_accuracy_k4"} <= set(metrics)
    capsys.readouterr()
    assert long_run.main(["--profile", "smoke", "--seeds", "1", "--worker", "1", "--workers", "3"]) == 0
    assert "already shipped" in capsys.readouterr().out
    assert long_run.main(["--profile", "smoke", "--seeds", "1", "--table"]) == 0
    table = capsys.readouterr().out
    assert f"| RN + SRN | 0 | 1 of 1 | {metrics['test_accuracy']:.1f} |" in table
    assert "2 of 3 models not shipped yet" in table


def test_sortofclevr_rotation_detail_scores_per_angle_most_and_all_angles(isolated_home, capsys):
    detail = load("sortofclevr_rotation_detail")
    right = torch.tensor([[True] * 10, [True] * 9 + [False], [True] * 5 + [False] * 5, [False] * 10])
    assert detail.rotation_scores(right) == {"per_angle": pytest.approx(60.0), "most_angles": 50.0, "all_angles": 25.0}
    detail.main(["--profile", "smoke", "--inner-steps", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "Synthetic table chosen among 32", "rn, Synthetic", "rn, Dataset", "rn_srn, Synthetic", "rn_srn, Dataset",
        "rn_srn with 0 steps, Synthetic", "rn_srn with 0 steps, Dataset", "rn_srn with 0 steps, test"]
    detail.main(["--profile", "smoke", "--tasks", "synthetic", "--unchosen", "--angles", "5"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["rn, Synthetic", "rn_srn, Synthetic"]
    assert all("of the 5 angles" in line for line in lines)
    with pytest.raises(ValueError, match="--tasks must name some of"):
        detail.main(["--profile", "smoke", "--tasks", "synthetic,spin"])


def test_sortofclevr_refiner_probe_measures_the_loop_and_fine_tunes_a_copy_without_saving_it(isolated_home):
    probe = load("sortofclevr_refiner_probe")
    probe.main(["--profile", "smoke", "--positions", "2"])  # trains and caches the smoke RN + SRN, then probes it
    checkpoints = sorted((isolated_home / "checkpoints" / "sortofclevr").glob("rn_srn.smoke.seed0.*.pt"))
    assert len(checkpoints) == 1
    before = checkpoints[0].read_bytes()
    probe.main(["--profile", "smoke", "--positions", "2", "--name", "lr2", "--set", "refiner.lr=2.0",
                "--updates", "2"])
    assert checkpoints[0].read_bytes() == before  # the fine-tuned copy is never saved over the cached model
    shipped, tuned = json.loads((isolated_home / "results" / "sweeps" / "sortofclevr_refiner_probe.json").read_text())
    assert (shipped["updates"], tuned["updates"], tuned["overrides"]) == (0, 2, {"refiner.lr": 2.0})
    assert shipped["settings_hash"] != tuned["settings_hash"]
    for row in (shipped, tuned):
        assert row["inner"]["loss_s0"] > 0 and row["inner"]["move"] > 0  # the loop moved the set
        assert row["inner"]["images"] == 16 and row["inner"]["agg_s0_sq"] >= 0  # smoke's 16 validation images
        assert 0 <= row["synthetic_robust"] <= row["synthetic_pairs_right"] <= 100
        assert set(row["val"]) == set(row["val_0_steps"]) == set(probe.RESULTS)
    table = (isolated_home / "results" / "sweeps" / "sortofclevr_refiner_probe.md").read_text()
    assert "| shipped (smoke) | 0 | - (shipped) |" in table and "| lr2 (smoke) | 0 | refiner.lr=2.0 | 2 |" in table
    with pytest.raises(SystemExit):
        probe.main(["--profile", "smoke", "--updates", "0"])
    with pytest.raises(SystemExit):  # a copy keeps the trained model's step count and networks
        probe.main(["--profile", "smoke", "--set", "refiner.steps=3"])


def test_circles_training_curve_continue_trains_only_the_extra_epochs_of_the_profiles_model(isolated_home, capsys):
    curve = load("circles_training_curve")
    with pytest.raises(SystemExit):  # nothing to continue from yet
        curve.main(["--kind", "srn", "--profile", "smoke", "--epochs", "2", "--continue"])
    assert "no finished srn model of profile smoke seed 0" in capsys.readouterr().err
    assert curve.main(["--kind", "srn", "--profile", "smoke", "--epochs", "1"]) == 0  # the profile's own model
    own = sorted((isolated_home / "checkpoints" / "circles").glob("srn.smoke.seed0.*.pt"))
    assert len(own) == 1
    assert curve.main(["--kind", "srn", "--profile", "smoke", "--epochs", "2", "--continue"]) == 0
    assert "for epochs 2-2 in" in capsys.readouterr().out
    longer = set((isolated_home / "checkpoints" / "circles").glob("srn.smoke.seed0.*.pt")) - set(own)
    state = torch.load(longer.pop(), weights_only=True)
    assert (state["epoch"], state["epochs"], len(state["history"])) == (2, 2, 2)
    first = torch.load(own[0], weights_only=True)
    assert state["history"][0]["train_loss"] == first["history"][0]["train_loss"]  # epoch 1 was not retrained


def test_inner_problem_report_covers_every_experiments_srn(isolated_home, capsys):
    report = load("inner_problem_report")
    report.main(["--profile", "smoke"])  # nothing trained or shipped in a fresh home: nothing to report
    assert json.loads((isolated_home / "results" / "sweeps" / "inner_problem.smoke.json").read_text())["rows"] == []
    report.main(["--profile", "smoke", "--train"])
    rows = json.loads((isolated_home / "results" / "sweeps" / "inner_problem.smoke.json").read_text())["rows"]
    assert [(r["experiment"], r["model"], r["seed"]) for r in rows] == [
        ("circles", "srn", 0), ("sortofclevr", "rn_srn", 0), ("cswm", "shapes K=5", 0), ("clutrr", "rn_srn", 0)]
    for row in rows:
        numbers = row["inner_problem"]
        assert numbers["solved"] == pytest.approx(1 - numbers["loss_sr"] / numbers["loss_s0"], abs=1e-5)
        assert row["inputs"] > 0 and numbers["z_sq"] > 0
    table = (isolated_home / "results" / "sweeps" / "inner_problem.smoke.md").read_text()
    assert table.count("\n| ") == 1 + len(rows) and "| cswm | shapes K=5 | 0 |" in table  # header and rows


def test_circles_continuation_probe_trains_the_finished_model_on_with_its_own_rate_and_steps(isolated_home,
                                                                                             monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it imports circles_training_curve's scorer
    from srnlib import profiles
    from srnlib.circles import experiment

    probe = load("circles_continuation_probe")
    with pytest.raises(SystemExit, match="no finished srn model"):
        probe.main(["--kind", "srn", "--profile", "smoke"])
    cfg = profiles.get("circles", "smoke")
    experiment.load_or_train("srn", cfg, seed=0)  # the profile's finished model: 1 epoch, 2 inner steps
    seen = []
    step = experiment.reconstruction_step
    monkeypatch.setattr(experiment, "reconstruction_step",
                        lambda m, b, steps, *weight: seen.append(steps) or step(m, b, steps, *weight))
    arguments = ["--kind", "srn", "--profile", "smoke", "--lr", "1e-4", "--steps", "3", "--epochs", "2",
                 "--large-images", "20", "--snapshots"]
    assert probe.main(arguments) == 0
    assert set(seen) == {3}  # only the two extra epochs trained, with the probe's inner steps
    kept = sorted((isolated_home / "runs" / "probes" / "snapshots").iterdir())
    assert [path.name for path in kept] == [f"srn.smoke.seed0.lr0.0001.steps3.epochs3.ep{n}.pt" for n in (2, 3)]
    assert [torch.load(path, weights_only=True)["epoch"] for path in kept] == [2, 3]
    row = json.loads((isolated_home / "runs" / "sweeps" / "circles_continuation.json").read_text())["rows"][0]
    assert (row["lr"], row["steps"], row["extra_epochs"]) == (1e-4, 3, 2)
    assert [point["epoch"] for point in row["curve"]] == [2, 3]  # the finished model's epoch 1 was never scored
    assert set(row["large_test"]) == set(row["test_final"]) == {"1", "2", "3", "4", "5"}
    table = (isolated_home / "runs" / "sweeps" / "circles_continuation.md").read_text()
    assert "| srn | 0 | 0.0001 | 3 | end |" in table
    state = torch.load(isolated_home / "runs" / "probes" / "circles_continuation" / "srn.smoke.seed0.lr0.0001.steps3"
                       ".epochs3.pt", weights_only=True)
    assert state["epoch"] == 3 and {g["lr"] for g in state["optimizer"]["param_groups"]} == {1e-4}


def test_circles_reship_baselines_rekeys_only_the_stale_baselines_and_they_load_without_training(isolated_home,
                                                                                                 monkeypatch):
    from srnlib import profiles, shipped
    from srnlib.circles import experiment

    reship = load("circles_reship_baselines")
    cfg = {**profiles.get("circles", "smoke"), "train_images": 64}
    old = {**cfg, "refiner": {**cfg["refiner"], "embed_dim": 24}}
    monkeypatch.setattr(profiles, "get", lambda experiment_name, profile=None: dict(cfg))
    trained = {}
    for kind in ("baseline", "srn"):  # both trained under the old refiner; only the baseline may be re-keyed
        model, _ = experiment.load_or_train(kind, old, seed=0)
        trained[kind] = model.state_dict()
        path = experiment.checkpoint_path("circles", "smoke", 0, old, name=kind)
        shipped.ship(path, command=f"train the {kind}", metrics={"success_1": 1.0})
        path.unlink()
    assert [p.name.split(".")[0] for p in reship.stale_baselines("smoke")] == ["baseline"]
    assert reship.main(["--profile", "smoke", "--dry-run"]) == 0 and len(reship.stale_baselines("smoke")) == 1
    assert reship.main(["--profile", "smoke"]) == 0 and reship.stale_baselines("smoke") == []
    names = sorted(path.name for path in shipped.shipped_checkpoints())
    assert names == sorted([f"baseline.smoke.seed0.{profiles.settings_hash(cfg)}.pt",
                            f"srn.smoke.seed0.{profiles.settings_hash(old)}.pt"])
    calls = []
    monkeypatch.setattr(experiment, "reconstruction_step", lambda *args: calls.append(1))
    model, _ = experiment.load_or_train("baseline", cfg, seed=0)  # the re-keyed file, no training
    assert calls == [] and all(torch.equal(v, model.state_dict()[k]) for k, v in trained["baseline"].items())


def test_circles_weight_average_probe_averages_snapshots_of_one_run_and_refuses_other_settings(isolated_home,
                                                                                              monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it imports the continuation probe's and the large test's helpers
    from srnlib import profiles
    from srnlib.averaging import average_weights
    from srnlib.circles import experiment
    from srnlib.config import CirclesConfig
    from srnlib.train import checkpoint_path, fit, settings_text

    probe = load("circles_weight_average_probe")
    cfg = profiles.get("circles", "smoke")
    experiment.load_or_train("baseline", cfg, seed=0)  # epoch 1: the profile's finished model
    first = checkpoint_path("circles", "smoke", 0, cfg, "baseline")
    later = dict(cfg, epochs=2, probe="continuation", probe_lr=cfg["lr"], probe_steps=None)  # a continuation's
    second = isolated_home / "snapshot.ep2.pt"
    model = experiment.build_model("baseline", CirclesConfig.from_settings(cfg))
    train_set, _ = experiment.datasets(cfg)
    fit(model, torch.optim.Adam(model.parameters(), lr=cfg["lr"]), train_set,
        lambda m, batch: experiment.reconstruction_step(m, batch), epochs=2, batch_size=cfg["batch_size"], seed=0,
        checkpoint=second, settings=later)
    monkeypatch.setattr(experiment, "reconstruction_step", lambda *args: pytest.fail("the probe must not train"))
    averaged = {}
    monkeypatch.setattr(probe, "average_weights", lambda states: averaged.setdefault("w", average_weights(states)))
    arguments = ["--kind", "baseline", "--profile", "smoke", "--bn-images", "64", "--large-images", "20",
                 "--snapshots", str(first), str(second)]
    assert probe.main(arguments) == 0
    states = [torch.load(path, weights_only=True)["model"] for path in (first, second)]
    key = next(name for name, tensor in states[0].items() if tensor.is_floating_point())
    torch.testing.assert_close(averaged["w"][key], (states[0][key] + states[1][key]) / 2)
    row = json.loads((isolated_home / "runs" / "sweeps" / "circles_weight_average.json").read_text())["rows"][0]
    assert (row["epochs"], row["bn_images"]) == ([1, 2], 64) and set(row["large_test"]) == {"1", "2", "3", "4", "5"}
    assert "| baseline | 0 | 1–2 (2) | – |" in (isolated_home / "runs" / "sweeps" / "circles_weight_average.md"
                                                 ).read_text()
    with pytest.raises(SystemExit, match="same epoch twice"):
        probe.main(arguments[:-1] + [str(first)])
    config = CirclesConfig.from_settings(cfg)
    assert probe.trained_steps({"epoch": 1, "settings": settings_text(cfg)}, config) == config.inner_steps_at(0)
    continued = settings_text(dict(cfg, epochs=3, probe="continuation", probe_steps=7))
    assert probe.trained_steps({"epoch": 3, "settings": continued}, config) == 7  # scored as it trained, not as profiled
    other = isolated_home / "other.pt"
    state = torch.load(second, weights_only=True)
    torch.save(dict(state, settings=settings_text(dict(cfg, n=4))), other)  # intact weights, another profile's run
    with pytest.raises(SystemExit, match="other settings"):
        probe.main(arguments[:-2] + [str(first), str(other)])
