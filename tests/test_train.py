import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from srnlib import train


class Interrupted(Exception):
    pass


def problem(seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(96, 1, generator=generator)
    return TensorDataset(x, y)


def build(seed=0):
    train.seed_everything(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.1), nn.ReLU(), nn.Linear(16, 1))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def step(model, batch):
    x, y = batch
    loss = (model(x) - y).pow(2).mean()
    return {"loss": loss, "mae": (model(x) - y).abs().mean()}


def run(checkpoint, epochs=4, interrupt_at=None, **kwargs):
    model, optimizer = build()

    def hook(model, epoch):
        if epoch == interrupt_at:
            raise Interrupted

    history = train.fit(model, optimizer, problem(), step, epochs=epochs, batch_size=16, seed=3,
                        checkpoint=checkpoint, on_epoch_start=hook, **kwargs)
    return model, history


def test_training_reduces_the_loss_and_records_history(tmp_path):
    _, history = run(tmp_path / "m.pt", epochs=6)
    assert [record["epoch"] for record in history] == list(range(1, 7))
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert {"train_loss", "train_mae", "seconds"} <= set(history[0])


def test_resume_after_a_kill_gives_identical_weights(tmp_path):
    uninterrupted, full_history = run(tmp_path / "a.pt")
    with pytest.raises(Interrupted):
        run(tmp_path / "b.pt", interrupt_at=2)  # killed while starting epoch 3
    assert torch.load(tmp_path / "b.pt", weights_only=True)["epoch"] == 2
    resumed, history = run(tmp_path / "b.pt")
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["train_loss"] for r in history] == [r["train_loss"] for r in full_history]


def test_a_finished_checkpoint_is_loaded_not_retrained(tmp_path):
    trained, history = run(tmp_path / "m.pt")
    calls = []
    model, optimizer = build(seed=1)  # different initialisation, replaced by the checkpoint
    loaded = train.fit(model, optimizer, problem(), lambda m, b: calls.append(1), epochs=4, batch_size=16,
                       checkpoint=tmp_path / "m.pt")
    assert calls == [] and loaded == history and not model.training
    for a, b in zip(trained.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_retrain_ignores_the_checkpoint(tmp_path):
    run(tmp_path / "m.pt", epochs=2)
    calls = []

    def counting_step(model, batch):
        calls.append(1)
        return step(model, batch)

    model, optimizer = build()
    train.fit(model, optimizer, problem(), counting_step, epochs=2, batch_size=16, checkpoint=tmp_path / "m.pt",
              retrain=True)
    assert len(calls) == 2 * 6


def test_a_corrupt_checkpoint_is_set_aside_and_training_starts_over(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"not a checkpoint")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, history = run(path, epochs=2)
    assert any("unreadable" in str(w.message) for w in caught)
    assert len(history) == 2 and (tmp_path / "m.pt.corrupt").exists()
    assert torch.load(path, weights_only=True)["epoch"] == 2


def test_checkpoints_are_written_atomically(tmp_path):
    run(tmp_path / "m.pt", epochs=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_cosine_schedule_depends_only_on_the_epoch():
    model, optimizer = build()
    hook = train.cosine_lr(optimizer, epochs=4)
    rates = []
    for epoch in (0, 2, 3, 0):
        hook(model, epoch)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[0] == rates[3] == pytest.approx(1e-2)
    assert rates[1] == pytest.approx(0.5e-2)
    assert 0 < rates[2] < rates[1]


def test_checkpoint_path_is_keyed_by_profile_seed_and_settings(isolated_home):
    a = train.checkpoint_path("demo", "smoke", 0, {"epochs": 1})
    assert a.parent == isolated_home / "checkpoints" / "demo"
    assert a != train.checkpoint_path("demo", "smoke", 1, {"epochs": 1})
    assert a != train.checkpoint_path("demo", "smoke", 0, {"epochs": 2})
    assert a != train.checkpoint_path("demo", "quick", 0, {"epochs": 1})


def test_bad_arguments_are_reported():
    model, optimizer = build()
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, optimizer, problem(), step, epochs=0, batch_size=4)
    with pytest.raises(ValueError, match="empty"):
        train.fit(model, optimizer, TensorDataset(torch.zeros(0, 4)), step, epochs=1, batch_size=4)
    with pytest.raises(ValueError, match="seed"):
        train.seed_everything(-1)


def test_a_diverging_loss_stops_training():
    model, optimizer = build()
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train.fit(model, optimizer, problem(), lambda m, b: torch.tensor(float("nan"), requires_grad=True),
                  epochs=1, batch_size=16)


def test_a_checkpoint_of_another_architecture_is_set_aside_not_loaded(tmp_path):
    run(tmp_path / "m.pt", epochs=2)
    train.seed_everything(0)
    wider = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))  # the model's code changed since
    with pytest.warns(UserWarning, match="does not fit this model"):
        history = train.fit(wider, torch.optim.Adam(wider.parameters()), problem(), step, epochs=2, batch_size=16,
                            checkpoint=tmp_path / "m.pt")
    assert len(history) == 2 and (tmp_path / "m.pt.corrupt").exists()


def test_select_best_keeps_the_best_validation_epoch_even_across_a_resume(tmp_path):
    scores = iter([0.2, 0.9, 0.4, 0.1])  # epoch 2 is the best
    snapshots = {}

    def evaluate(model):
        snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"val_accuracy": next(scores)}

    model, optimizer = build()
    hook_calls = []

    def interrupt_at_3(model, epoch):
        hook_calls.append(epoch)
        if epoch == 3 and len(hook_calls) == 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        train.fit(model, optimizer, problem(), step, epochs=4, batch_size=16, checkpoint=tmp_path / "m.pt",
                  evaluate=evaluate, select_best="val_accuracy", on_epoch_start=interrupt_at_3)
    model, optimizer = build(seed=5)
    history = train.fit(model, optimizer, problem(), step, epochs=4, batch_size=16, checkpoint=tmp_path / "m.pt",
                        evaluate=evaluate, select_best="val_accuracy")
    assert [r["selected"] for r in history] == [False, True, False, False]
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name
    with pytest.raises(ValueError, match="select_best"):
        train.fit(model, optimizer, problem(), step, epochs=1, batch_size=16, select_best="val_accuracy")


# --- checkpoints that know what they are (issue 14) ---

SETTINGS = {"lr": 1e-2, "epochs": 2, "profile": "smoke"}


def fresh_state(seed=0):
    model, optimizer = build(seed)
    return model, optimizer, {k: v.clone() for k, v in model.state_dict().items()}


def test_a_checkpoint_whose_optimizer_does_not_fit_trains_from_truly_fresh_weights(tmp_path):
    path = tmp_path / "m.pt"
    run(path, epochs=2)
    trained = torch.load(path, weights_only=True)["model"]
    model, _, initial = fresh_state()
    optimizer = torch.optim.SGD([{"params": [p]} for p in model.parameters()], lr=1e-2)  # other param groups
    seen = []

    def first_step(model, batch):  # the weights at the very first training step
        if not seen:
            seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return step(model, batch)

    with pytest.warns(UserWarning, match=r"m\.pt does not fit this model"):
        history = train.fit(model, optimizer, problem(), first_step, epochs=2, batch_size=16, checkpoint=path)
    assert len(history) == 2 and (tmp_path / "m.pt.corrupt").exists()
    for name, value in seen[0].items():
        assert torch.equal(value, initial[name]), f"{name}: training started from the set-aside weights"
        assert not torch.equal(value, trained[name])


def test_a_checkpoint_of_other_settings_is_set_aside_not_loaded(tmp_path):
    path = tmp_path / "m.pt"
    run(path, epochs=2, settings={**SETTINGS, "lr": 0.5})  # e.g. copied or renamed into place
    calls = []
    model, optimizer, _ = fresh_state()
    with pytest.warns(UserWarning, match=r"m\.pt was trained with other settings"):
        train.fit(model, optimizer, problem(), lambda m, b: calls.append(1) or step(m, b), epochs=2, batch_size=16,
                  checkpoint=path, settings=SETTINGS)
    assert len(calls) == 2 * 6 and (tmp_path / "m.pt.corrupt").exists()
    assert torch.load(path, weights_only=True)["settings_hash"] == train.settings_hash(SETTINGS)


def test_the_same_settings_load_and_the_checkpoint_stores_them(tmp_path):
    path = tmp_path / "m.pt"
    run(path, epochs=2, settings=SETTINGS)
    state = torch.load(path, weights_only=True)
    assert state["format"] == train.CHECKPOINT_FORMAT and state["settings_hash"] == train.settings_hash(SETTINGS)
    assert state["weights_sha256"] == train.weights_digest(state["model"])
    calls = []
    model, optimizer, _ = fresh_state(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train.fit(model, optimizer, problem(), lambda m, b: calls.append(1), epochs=2, batch_size=16,
                  checkpoint=path, settings=dict(reversed(list(SETTINGS.items()))))  # key order does not matter
    assert calls == []


@pytest.mark.parametrize("damage, reason", [
    (lambda s: s.pop("torch_rng"), "missing torch_rng"),
    (lambda s: s.update(format=1), "checkpoint format 1"),
    (lambda s: s["model"]["0.weight"].view(-1).__setitem__(0, 123.0), "do not match their sha256"),
])
def test_a_damaged_or_foreign_checkpoint_is_set_aside_and_training_starts_fresh(tmp_path, damage, reason):
    path = tmp_path / "m.pt"
    run(path, epochs=2, settings=SETTINGS)
    state = torch.load(path, weights_only=True)
    damage(state)
    torch.save(state, path)
    model, optimizer, initial = fresh_state()
    seen = []

    def first_step(model, batch):
        if not seen:
            seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return step(model, batch)

    with pytest.warns(UserWarning, match=rf"m\.pt .*{reason}.*moved to m\.pt\.corrupt"):
        history = train.fit(model, optimizer, problem(), first_step, epochs=2, batch_size=16, checkpoint=path,
                            settings=SETTINGS)
    assert len(history) == 2 and seen and (tmp_path / "m.pt.corrupt").exists()
    for name, value in seen[0].items():
        assert torch.equal(value, initial[name])


def test_a_directory_where_the_checkpoint_should_be_is_named(tmp_path):
    (tmp_path / "m.pt").mkdir()
    model, optimizer, _ = fresh_state()
    with pytest.raises(IsADirectoryError, match=r"m\.pt is a directory"):
        train.fit(model, optimizer, problem(), step, epochs=1, batch_size=16, checkpoint=tmp_path / "m.pt")


def test_every_experiment_passes_its_settings_to_fit():
    import ast
    import inspect

    from srnlib import responsibility
    from srnlib.circles import experiment as circles
    from srnlib.clutrr import experiment as clutrr
    from srnlib.cswm import experiment as cswm
    from srnlib.sortofclevr import experiment as sortofclevr, reconstruction

    for module in (responsibility, circles, clutrr, cswm, sortofclevr, reconstruction):
        calls = [node for node in ast.walk(ast.parse(inspect.getsource(module))) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", getattr(node.func, "attr", None)) == "fit"]
        assert calls, module.__name__
        for call in calls:
            assert "settings" in {k.arg for k in call.keywords}, f"{module.__name__} calls fit without settings="


def test_an_extended_checkpoint_resumes_into_the_run_with_more_epochs_from_the_start(tmp_path):
    four = {**SETTINGS, "epochs": 4}
    direct, direct_history = run(tmp_path / "direct.pt", epochs=4, settings=four)
    run(tmp_path / "two.pt", epochs=2, settings=SETTINGS)
    before = (tmp_path / "two.pt").read_bytes()
    assert train.extend_checkpoint(tmp_path / "two.pt", four, tmp_path / "four.pt") == tmp_path / "four.pt"
    assert (tmp_path / "two.pt").read_bytes() == before  # the source is left as it was
    calls = []
    model, optimizer = build()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loaded, not set aside
        history = train.fit(model, optimizer, problem(), lambda m, b: calls.append(1) or step(m, b), epochs=4,
                            batch_size=16, seed=3, checkpoint=tmp_path / "four.pt", settings=four)
    assert len(calls) == 2 * 6  # only epochs 3 and 4 trained
    for a, b in zip(direct.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["train_loss"] for r in history] == [r["train_loss"] for r in direct_history]


def test_extending_a_checkpoint_refuses_other_settings_no_extra_epochs_and_damage(tmp_path):
    run(tmp_path / "two.pt", epochs=2, settings=SETTINGS)
    with pytest.raises(ValueError, match="differ: lr"):
        train.extend_checkpoint(tmp_path / "two.pt", {**SETTINGS, "epochs": 4, "lr": 0.5}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="must exceed the 2 epochs"):
        train.extend_checkpoint(tmp_path / "two.pt", SETTINGS, tmp_path / "x.pt")
    state = torch.load(tmp_path / "two.pt", weights_only=True)
    next(iter(state["model"].values())).add_(1.0)
    torch.save(state, tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match="damaged.pt"):
        train.extend_checkpoint(tmp_path / "damaged.pt", {**SETTINGS, "epochs": 4}, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_a_rekeyed_checkpoint_loads_under_settings_its_training_never_read(tmp_path):
    with_refiner = {**SETTINGS, "refiner": {"embed_dim": 64}}
    trained, _ = run(tmp_path / "old.pt", epochs=2, settings=with_refiner)
    wider = {**SETTINGS, "refiner": {"embed_dim": 128}}
    assert train.rekey_checkpoint(tmp_path / "old.pt", wider, tmp_path / "new.pt", ("refiner",)) == tmp_path / "new.pt"
    calls = []
    model, optimizer = build(seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loaded, not set aside
        train.fit(model, optimizer, problem(), lambda m, b: calls.append(1) or step(m, b), epochs=2, batch_size=16,
                  seed=3, checkpoint=tmp_path / "new.pt", settings=wider)
    assert calls == []  # nothing trained: the weights are the old run's
    for a, b in zip(trained.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="differ: lr"):
        train.rekey_checkpoint(tmp_path / "old.pt", {**wider, "lr": 0.5}, tmp_path / "x.pt", ("refiner",))
    with pytest.raises(ValueError, match="differ: epochs"):
        train.rekey_checkpoint(tmp_path / "old.pt", {**wider, "epochs": 4}, tmp_path / "x.pt", ("refiner",))
    with pytest.raises(ValueError, match="'epochs'"):
        train.rekey_checkpoint(tmp_path / "old.pt", wider, tmp_path / "x.pt", ("refiner", "epochs"))
    with pytest.raises(TypeError, match="unread"):
        train.rekey_checkpoint(tmp_path / "old.pt", wider, tmp_path / "x.pt", "refiner")
    assert not (tmp_path / "x.pt").exists()
