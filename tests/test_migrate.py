"""The checkpoint migration of issue 16 (srnlib.migrate, scripts/migrate_checkpoints.py), on real old checkpoints.

tests/fixtures/old_checkpoints holds tiny checkpoints of every experiment's models written by the code before the
renames, with the old models' outputs on fixed inputs (see make_fixtures.py there).
"""
import json
import shutil
from pathlib import Path

import pytest
import torch

from srnlib import migrate, profiles, shipped, train

FIXTURES = Path(__file__).parent / "fixtures" / "old_checkpoints"
EXPERIMENTS = ("circles", "responsibility", "sortofclevr", "cswm", "clutrr")
RUN = {  # how the fixture's reference outputs were computed from its inputs
    "circles": lambda m, x: tuple(m(x)[i] for i in (0, 3)),
    "responsibility": lambda m, x: m(x),
    "sortofclevr": lambda m, x, q: m(x, q),
    "cswm": lambda m, o, a: (m.encode(o), m.predict(o, a)),
    "clutrr": lambda m, s, k, q: m(s, k, q),
}


def old_tree(root: Path) -> Path:
    """A copy of the old checkpoints as ``root/<experiment>/*.pt`` (like checkpoints/)."""
    for experiment in EXPERIMENTS:
        shutil.copytree(FIXTURES / experiment, root / experiment)
    return root


def test_every_old_profile_migrates_to_todays_names_and_back():
    old = json.loads((FIXTURES / "old_profiles.json").read_text())
    for experiment, by_profile in old.items():
        for profile, settings in by_profile.items():
            new = migrate.migrate_settings(experiment, settings)
            assert migrate.legacy_settings(experiment, new) == settings, (experiment, profile)
            assert migrate.migrate_settings(experiment, new) == new  # today's names are left alone
            if profiles.has_profile(experiment, profile):
                today = dict(profiles.get(experiment, profile))
                del today["profile"]
                added = migrate.ADDED_SETTINGS.get(experiment, {})
                assert profiles.setting_names(new) == profiles.setting_names(
                    {key: value for key, value in today.items() if key not in added}), (experiment, profile)
    # a setting added later is documented with the value that keeps the old behaviour, and the paper keeps it
    for experiment, added in migrate.ADDED_SETTINGS.items():
        assert {key: profiles.get(experiment, "paper")[key] for key in added} == added


@pytest.fixture
def one_thread():
    """Bit-for-bit comparisons of conv outputs need one thread: with two, a loaded machine can sum in another order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_migrated_old_checkpoint_loads_strictly_into_todays_model_and_gives_the_old_outputs(tmp_path, one_thread):
    root = old_tree(tmp_path / "checkpoints")
    old_files = migrate.checkpoint_files(root)
    assert len(old_files) == 10
    for old in old_files:
        status, path, message = migrate.migrate_file(old)
        assert status == "migrated" and not old.exists(), message
        experiment, name = path.parent.name, path.name.split(".")[0]
        state = torch.load(path, weights_only=True)
        settings = json.loads(state["settings"])
        assert path.name.split(".")[3] == profiles.settings_hash(settings) == state["settings_hash"]
        assert train.load_checkpoint(path, settings) is not None
        model = migrate.model_for(experiment, name, settings, state["model"])
        model.load_state_dict(state["model"])  # strict
        assert list(model.state_dict()) == list(state["model"])  # names and order
        model.eval()
        reference = torch.load(FIXTURES / "references" / old.name, weights_only=True)
        with torch.no_grad():
            outputs = RUN[experiment](model, *reference["inputs"])
        for new, before in zip(*(o if isinstance(o, tuple) else (o,) for o in (outputs, reference["outputs"]))):
            torch.testing.assert_close(new, before, rtol=0, atol=0)
        optimizer = torch.optim.Adam(model.parameters())  # the optimizer's state follows the parameters' order
        optimizer.load_state_dict(state["optimizer"])
        for parameter in model.parameters():
            assert optimizer.state[parameter]["exp_avg"].shape == parameter.shape


def test_migrating_twice_changes_nothing(tmp_path):
    root = old_tree(tmp_path / "checkpoints")
    migrate.migrate_tree(root)
    digests = {p: shipped.sha256_of(p) for p in migrate.checkpoint_files(root)}
    assert {status for status, _, _ in migrate.migrate_tree(root)} == {"current"}
    assert {p: shipped.sha256_of(p) for p in migrate.checkpoint_files(root)} == digests


def test_a_shipped_checkpoint_gets_a_new_manifest_that_says_where_it_came_from(isolated_home):
    source = old_tree(isolated_home / "checkpoints") / "circles" / "srn.smoke.seed0.c17e0d16e6.pt"
    old = shipped.ship(source, command="python train.py", metrics={"success_1": 12.5}, cpu_seconds=3.0)
    old_manifest = shipped.read_manifest(old)
    [(status, new, _)] = migrate.migrate_tree(isolated_home / "shipped")
    assert status == "migrated" and not old.exists() and not old.with_suffix(".json").exists()
    manifest = shipped.read_manifest(new)
    state = shipped.load_shipped(new, manifest["settings"])
    assert manifest["file"] == new.name and manifest["sha256"] == shipped.sha256_of(new)
    assert manifest["settings_hash"] == state["settings_hash"] == new.name.split(".")[3]
    assert "refiner" in manifest["settings"] and "inner_steps" not in manifest["settings"]
    for key in ("command", "git_commit", "cpu_seconds", "metrics", "epochs", "optimizer_steps"):
        assert manifest[key] == old_manifest[key], key
    assert f"migrated from {old.name} sha256 {old_manifest['sha256']} by scripts/migrate_checkpoints.py" in \
        manifest["note"].lower()
    assert [status for status, _, _ in migrate.migrate_tree(isolated_home / "shipped")] == ["current"]


def test_a_file_that_fails_its_check_is_kept_and_nothing_is_left_behind(tmp_path, monkeypatch):
    root = old_tree(tmp_path / "checkpoints")
    before = sorted(p.name for p in (root / "circles").iterdir())

    def broken(*args):
        raise RuntimeError("no such model")

    monkeypatch.setattr(migrate, "model_for", broken)
    outcomes = migrate.migrate_tree(root / "circles")
    assert {status for status, _, _ in outcomes} == {"failed"}
    assert sorted(p.name for p in (root / "circles").iterdir()) == before


def test_an_existing_file_of_the_new_name_is_never_overwritten(tmp_path):
    root = old_tree(tmp_path / "checkpoints")
    [(_, target, _)] = [o for o in migrate.migrate_tree(root / "circles", dry_run=True) if "srn." in o[1].name]
    target.write_bytes(b"someone else's")
    outcomes = {path.name: status for status, path, _ in
                [(s, p or Path("x"), m) for s, p, m in migrate.migrate_tree(root / "circles")]}
    assert target.read_bytes() == b"someone else's" and "failed" in outcomes.values()
    assert (root / "circles" / "srn.smoke.seed0.c17e0d16e6.pt").exists()


def test_results_that_name_their_settings_by_hash_get_the_new_hash(tmp_path):
    from srnlib.clutrr.experiment import run_settings

    settings = json.loads(json.dumps(run_settings(profiles.get("clutrr", "quick"))))
    old_hash = profiles.settings_hash(migrate.legacy_settings("clutrr", settings))
    path = tmp_path / "05_clutrr.quick.seed1.json"
    path.write_text(json.dumps({"settings_hash": old_hash, "seeds": [1]}))
    (tmp_path / "05_clutrr.quick.seed2.json").write_text(json.dumps({"settings_hash": "0123456789", "seeds": [2]}))
    assert migrate.migrate_results(tmp_path) == [path]
    assert json.loads(path.read_text())["settings_hash"] == profiles.settings_hash(settings)
    assert migrate.migrate_results(tmp_path) == []


def test_the_migration_script_reports_each_file_and_a_dry_run_writes_nothing(tmp_path, capsys):
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "migrate_checkpoints.py"
    spec = importlib.util.spec_from_file_location("migrate_checkpoints", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    root = old_tree(tmp_path / "checkpoints")
    names = {p.name for p in migrate.checkpoint_files(root)}
    assert script.main(["--dry-run", str(root)]) == 0
    assert capsys.readouterr().out.count("dry run") == len(names)
    assert {p.name for p in migrate.checkpoint_files(root)} == names
    assert script.main([str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("->") == len(names) and f"{len(names)} migrated" in out


def test_every_shipped_checkpoint_has_todays_names():
    """A checkpoint trained with the old names and shipped afterwards needs
    ``.venv/bin/python scripts/migrate_checkpoints.py shipped/`` (the notebooks would not find it otherwise)."""
    from srnlib import paths

    for path in shipped.shipped_checkpoints(paths.repo_root() / "shipped"):
        state = shipped.load_shipped(path)
        assert migrate.migrate_checkpoint(state, path.parent.name) is None, f"{path}: run the migration script"
