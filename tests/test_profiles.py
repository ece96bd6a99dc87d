import pytest

from srnlib import profiles


def test_every_experiment_has_every_profile_with_the_same_keys():
    for experiment, by_profile in profiles.SETTINGS.items():
        required = set(profiles.PROFILES) - set(profiles.OPTIONAL_PROFILES)
        assert required <= set(by_profile) <= set(profiles.PROFILES), experiment
        keys = {name: set(settings) for name, settings in by_profile.items()}
        assert len({frozenset(k) for k in keys.values()}) == 1, f"{experiment}: {keys}"


def test_unknown_profile_is_a_clear_error_listing_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, quick, long, paper"):
        profiles.get("responsibility", "fast")


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(ValueError, match="responsibility"):
        profiles.get("no-such-experiment", "smoke")


def test_profile_none_reads_the_environment_then_defaults_to_quick(monkeypatch):
    monkeypatch.setenv("SRN_PROFILE", "smoke")
    assert profiles.get("responsibility").profile == "smoke"
    monkeypatch.delenv("SRN_PROFILE")
    assert profiles.resolve() == "quick"
    monkeypatch.setenv("SRN_PROFILE", "huge")
    with pytest.raises(ValueError, match="huge"):
        profiles.resolve()


def test_settings_are_copies_with_attribute_access():
    cfg = profiles.get("responsibility", "smoke")
    assert cfg.epochs == cfg["epochs"]
    cfg["epochs"] = 10**6
    assert profiles.get("responsibility", "smoke").epochs != 10**6
    with pytest.raises(AttributeError, match="no setting"):
        cfg.no_such_setting


def test_settings_hash_is_stable_and_sensitive():
    cfg = profiles.get("responsibility", "smoke")
    assert profiles.settings_hash(cfg) == profiles.settings_hash(dict(reversed(list(cfg.items()))))
    changed = dict(cfg, epochs=cfg.epochs + 1)
    assert profiles.settings_hash(changed) != profiles.settings_hash(cfg)


def test_an_experiment_without_long_settings_says_which_profiles_it_has(monkeypatch):
    monkeypatch.setitem(profiles.SETTINGS, "toy", {"smoke": {"epochs": 1}, "quick": {"epochs": 2},
                                                   "paper": {"epochs": 3}})
    assert not profiles.has_profile("toy", "long") and profiles.has_profile("toy", "quick")
    with pytest.raises(ValueError, match="'toy' has no 'long' settings; it has smoke, quick, paper"):
        profiles.get("toy", "long")


def test_every_numbered_notebook_names_its_experiment():
    from srnlib import paths

    numbers = {path.name[:2] for path in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb")}
    assert set(profiles.NOTEBOOK_EXPERIMENTS) == numbers
    assert set(profiles.NOTEBOOK_EXPERIMENTS.values()) == set(profiles.SETTINGS)
