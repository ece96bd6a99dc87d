"""Shipped checkpoints: committed finished runs that load-or-train uses instead of training, checked by sha256."""
import json
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from srnlib import paths, shipped, train

SETTINGS = {"lr": 1e-2, "epochs": 2, "profile": "smoke"}


def problem():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    return TensorDataset(x, x.sum(1, keepdim=True))


def build(seed=0):
    train.seed_everything(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    return model, torch.optim.Adam(model.parameters(), lr=SETTINGS["lr"])


def step(model, batch):
    x, y = batch
    return (model(x) - y).pow(2).mean()


def trained_checkpoint(settings=SETTINGS, epochs=2):
    """Train the tiny model into its checkpoint_path (under the isolated SRN_HOME) -> (path, model)."""
    path = train.checkpoint_path("demo", settings["profile"], 0, settings, name="tiny")
    model, optimizer = build()
    train.fit(model, optimizer, problem(), step, epochs=epochs, batch_size=16, checkpoint=path, settings=settings)
    return path, model


def ship_one(**kwargs):
    path, model = trained_checkpoint()
    target = shipped.ship(path, command="pytest tests/test_shipped.py", metrics={"loss": 0.5}, **kwargs)
    return path, target, model


def check_shipped_folder(root):
    """Every shipped checkpoint under root verifies against its manifest and loads with weights_only=True."""
    for path in shipped.shipped_checkpoints(root):  # none is fine: then there is nothing to check
        state = shipped.load_shipped(path)
        manifest = shipped.read_manifest(path)
        assert torch.load(path, map_location="cpu", weights_only=True)["settings_hash"] == manifest["settings_hash"]
        assert state["epoch"] == manifest["epochs"] and path.stat().st_size <= shipped.MAX_BYTES
    assert all(problem is None for problem in shipped.verify(root).values())
    return len(shipped.shipped_checkpoints(root))


def test_every_shipped_checkpoint_in_the_repository_verifies_and_loads_with_weights_only():
    check_shipped_folder(paths.repo_root() / "shipped")


def test_ship_writes_a_manifest_that_says_what_the_checkpoint_is(isolated_home):
    _, target, _ = ship_one()
    assert target == isolated_home / "shipped" / "demo" / target.name
    manifest = json.loads(shipped.manifest_path(target).read_text())
    assert manifest["sha256"] == shipped.sha256_of(target)
    assert manifest["settings_hash"] == train.settings_hash(SETTINGS) and manifest["settings"] == SETTINGS
    assert manifest["command"] == "pytest tests/test_shipped.py" and manifest["metrics"] == {"loss": 0.5}
    assert manifest["epochs"] == 2 and manifest["optimizer_steps"] == 2 * 4
    assert manifest["cpu_seconds"] > 0 and manifest["profile"] == "smoke" and manifest["seed"] == 0
    assert "git_commit" in manifest
    assert shipped.verify() == {target: None}
    assert check_shipped_folder(isolated_home / "shipped") == 1  # the repository's check, on one shipped file


def test_load_or_train_uses_the_shipped_checkpoint_instead_of_training(isolated_home):
    path, target, trained = ship_one()
    path.unlink()  # a fresh clone: no local checkpoint, only the shipped one
    calls = []
    model, optimizer = build(seed=7)
    history = train.fit(model, optimizer, problem(), lambda m, b: calls.append(1) or step(m, b), epochs=2,
                        batch_size=16, checkpoint=path, settings=SETTINGS)
    assert calls == [] and len(history) == 2 and not path.exists()
    for name, value in trained.state_dict().items():
        assert torch.equal(value, model.state_dict()[name])
    model, optimizer = build(seed=7)
    train.fit(model, optimizer, problem(), lambda m, b: calls.append(1) or step(m, b), epochs=2, batch_size=16,
              checkpoint=path, settings=SETTINGS, retrain=True)
    assert len(calls) == 2 * 4 and path.exists() and shipped.sha256_of(target) == json.loads(
        shipped.manifest_path(target).read_text())["sha256"]


def test_a_changed_shipped_file_is_refused_with_its_name(isolated_home):
    path, target, _ = ship_one()
    data = bytearray(target.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{target.name} has sha256"):
        shipped.load_shipped(target)
    model, optimizer = build()
    with pytest.raises(ValueError, match=target.name):  # never silently trained over, never loaded
        train.fit(model, optimizer, problem(), step, epochs=2, batch_size=16, checkpoint=path, settings=SETTINGS)
    assert shipped.verify()[target] is not None


def test_a_manifest_of_other_settings_is_refused(isolated_home):
    _, target, _ = ship_one()
    manifest_file = shipped.manifest_path(target)
    manifest = json.loads(manifest_file.read_text())
    with pytest.raises(ValueError, match=rf"{target.name} was trained with settings hash"):
        shipped.load_shipped(target, {**SETTINGS, "lr": 0.5})
    manifest["settings"]["lr"] = 0.5  # edited by hand: the settings no longer hash to the recorded hash
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="do not hash to its settings_hash"):
        shipped.load_shipped(target)
    manifest_file.unlink()
    with pytest.raises(ValueError, match=rf"{target.name} has no manifest"):
        shipped.load_shipped(target)


def test_ship_refuses_big_unfinished_or_mismatched_checkpoints(isolated_home, monkeypatch):
    path, _ = trained_checkpoint()
    with pytest.raises(ValueError, match="other settings"):
        shipped.ship(path, command="x", metrics={}, settings={**SETTINGS, "lr": 0.5})
    with pytest.raises(ValueError, match="finite number"):
        shipped.ship(path, command="x", metrics={"loss": float("nan")})
    monkeypatch.setattr(shipped, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match=rf"{path.name} is .* MB; .* at most"):
        shipped.ship(path, command="x", metrics={})
    monkeypatch.undo()
    unfinished = train.checkpoint_path("demo", "smoke", 0, {**SETTINGS, "epochs": 3}, name="tiny")
    model, optimizer = build()

    class Stop(Exception):
        pass

    def stop_at_2(model, epoch):
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train.fit(model, optimizer, problem(), step, epochs=3, batch_size=16, checkpoint=unfinished,
                  settings={**SETTINGS, "epochs": 3}, on_epoch_start=stop_at_2)
    with pytest.raises(ValueError, match="unfinished"):
        shipped.ship(unfinished, command="x", metrics={})
    assert not (isolated_home / "shipped").exists() or not list((isolated_home / "shipped").rglob("*.pt"))


def test_the_verify_command_checks_every_manifest(isolated_home):
    _, target, _ = ship_one()
    env = {"SRN_HOME": str(isolated_home), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "srnlib.shipped", "verify"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "1 shipped checkpoint(s), 0 with problems" in ok.stdout
    target.write_bytes(target.read_bytes() + b"x")
    bad = subprocess.run([sys.executable, "-m", "srnlib.shipped", "verify"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and f"FAIL {target}" in bad.stdout


def test_the_shipped_folder_is_not_git_ignored():
    root = paths.repo_root()
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    probe = subprocess.run(["git", "check-ignore", "shipped/circles/srn.quick.seed0.0123456789.pt",
                            "shipped/circles/srn.quick.seed0.0123456789.json"], cwd=root,
                           capture_output=True, text=True)
    assert probe.returncode == 1, f"shipped/ must be tracked by git, but .gitignore ignores: {probe.stdout}"


def test_worker_share_splits_jobs_round_robin_and_rejects_bad_indices():
    from srnlib.shipped import worker_share
    jobs = list("abcde")
    assert worker_share(jobs, 0, 2) == ["a", "c", "e"] and worker_share(jobs, 1, 2) == ["b", "d"]
    assert sorted(worker_share(jobs, 0, 3) + worker_share(jobs, 1, 3) + worker_share(jobs, 2, 3)) == jobs
    for worker, workers in [(2, 2), (-1, 2), (0, 0)]:
        with pytest.raises(ValueError, match="--worker"):
            worker_share(jobs, worker, workers)


def test_shipped_manifests_lists_the_shipped_jobs_in_order_and_counts_the_rest(isolated_home):
    from srnlib import shipped
    done = []
    for name in ("b", "a"):
        checkpoint = isolated_home / "checkpoints" / "toy" / f"{name}.smoke.seed0.0000000000.pt"
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        done.append(checkpoint)
    shipped_dir = isolated_home / "shipped" / "toy"
    shipped_dir.mkdir(parents=True)
    (shipped_dir / done[0].name).write_bytes(b"x")
    manifest = {"file": done[0].name, "sha256": "0", "settings_hash": "0", "settings": {}, "command": "c",
                "metrics": {"m": 1.0}, "epochs": 1, "cpu_seconds": 1.0}
    (shipped_dir / done[0].with_suffix(".json").name).write_text(json.dumps(manifest))
    manifests, missing = shipped.shipped_manifests({"b": done[0], "a": done[1], "c": done[1].with_name("c.pt")})
    assert list(manifests) == ["b"] and manifests["b"]["metrics"] == {"m": 1.0} and missing == 2


def test_experiment_checkpoints_lists_one_experiments_shipped_files_with_their_manifests():
    from srnlib import paths

    everything = shipped.shipped_checkpoints(paths.repo_root() / "shipped")
    by_experiment = {name: shipped.experiment_checkpoints(name, paths.repo_root() / "shipped")
                     for name in ("circles", "cswm", "clutrr", "sortofclevr")}
    assert sorted(path for pairs in by_experiment.values() for path, _ in pairs) == everything
    assert all(manifest["experiment"] == name for name, pairs in by_experiment.items() for _, manifest in pairs)
    assert shipped.experiment_checkpoints("circles", paths.repo_root() / "no such folder") == []


def test_reship_keys_a_shipped_file_to_settings_it_never_read_and_records_where_it_came_from(isolated_home):
    old_settings = {**SETTINGS, "refiner": {"embed_dim": 64}}
    path, model = trained_checkpoint(old_settings)
    old = shipped.ship(path, command="pytest old", metrics={"loss": 0.5})
    old_manifest = shipped.read_manifest(old)
    new_settings = {**SETTINGS, "refiner": {"embed_dim": 128}}
    with pytest.raises(ValueError, match="differ: lr"):
        shipped.reship(old, {**new_settings, "lr": 0.5}, ("refiner",))
    target = shipped.reship(old, new_settings, ("refiner",))
    assert not old.exists() and not shipped.manifest_path(old).exists()
    manifest = shipped.read_manifest(target)
    assert manifest["settings_hash"] == train.settings_hash(new_settings) != old_manifest["settings_hash"]
    assert {key: manifest[key] for key in ("command", "metrics", "epochs", "optimizer_steps", "cpu_seconds")} == {
        key: old_manifest[key] for key in ("command", "metrics", "epochs", "optimizer_steps", "cpu_seconds")}
    assert manifest["rekeyed_from"] == {"file": old.name, "sha256": old_manifest["sha256"], "changed_settings":
                                        ["refiner"], "settings_hash": old_manifest["settings_hash"],
                                        "git_commit": old_manifest["git_commit"]}
    state = shipped.load_shipped(target, new_settings)
    for name, value in model.state_dict().items():
        assert torch.equal(value, state["model"][name])
    with pytest.raises(ValueError, match="already keyed"):
        shipped.reship(target, new_settings, ("refiner",))
    assert check_shipped_folder(isolated_home / "shipped") == 1
