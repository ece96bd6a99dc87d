import pytest
import torch

from srnlib.config import CswmConfig
from srnlib.cswm.models import TransitionGNN, build_model

CFG = CswmConfig.from_profile("smoke").replace(in_channels=6, objects=3, state_dim=4, action_dim=6, mlp_hidden=32,
                                               cnn_hidden=32, copy_action=True,
                                               refiner={"embed_dim": 16, "agg_hidden": 16, "steps": 2, "lr": 0.5})


def batch(size=5):
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(size, 6, 50, 50, generator=generator), torch.randint(0, 6, (size,), generator=generator),
            torch.rand(size, 6, 50, 50, generator=generator))


def test_both_models_share_every_parameter_but_the_srn_parts():
    cswm, srn = build_model("cswm", CFG), build_model("srn", CFG)
    base = {name: p.shape for name, p in cswm.named_parameters()}
    assert base == {name: p.shape for name, p in srn.named_parameters() if not name.startswith("refiner.")}
    observations, _, _ = batch()
    assert cswm.encode(observations).shape == srn.encode(observations).shape == (5, 3, 4)


def test_the_transition_model_is_equivariant_to_the_order_of_objects():
    gnn = TransitionGNN(4, 6, 3, hidden=16).double().eval()
    states, actions = torch.randn(2, 3, 4, dtype=torch.float64), torch.tensor([1, 4])
    order = torch.tensor([2, 0, 1])
    torch.testing.assert_close(gnn(states[:, order], actions), gnn(states, actions)[:, order])


def test_per_object_actions_reach_only_their_object():
    gnn = TransitionGNN(4, 4, 5, hidden=8, copy_action=False)
    vectors = gnn.action_vectors(torch.tensor([7]), 5)  # action 7 = object 1, direction 3
    assert vectors.shape == (1, 5, 4) and vectors.sum() == 1 and vectors[0, 1, 3] == 1


def test_the_loss_trains_every_parameter_and_decreases():
    model = build_model("srn", CFG)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss = model.contrastive_loss(*batch(), generator=torch.Generator().manual_seed(1))
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            assert [n for n, p in model.named_parameters() if p.grad is None] == []
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_multi_step_prediction_rolls_the_transition_model():
    model = build_model("cswm", CFG).eval()
    observations, actions, _ = batch(2)
    with torch.no_grad():
        states = model.encode(observations)
        one = states + model.transition(states, actions)
        two = one + model.transition(one, actions)
        torch.testing.assert_close(model.predict(observations, torch.stack([actions, actions], dim=1)), two)


def test_bad_inputs_are_reported():
    model = build_model("cswm", CFG)
    with pytest.raises(ValueError, match="observations must have shape"):
        model.encode(torch.rand(2, 6, 64, 64))
    with pytest.raises(ValueError, match="actions must have shape"):
        model.transition(torch.rand(2, 3, 4), torch.tensor([1]))
    with pytest.raises(ValueError, match="kind"):
        build_model("slot", CFG)
    with pytest.raises(ValueError, match="one K"):  # the profile's settings name several K and no game
        build_model("cswm", CswmConfig.from_profile("smoke"))


def test_the_object_extractor_width_is_a_setting_and_channels_last_gives_the_same_masks():
    small = build_model("cswm", CFG.replace(cnn_hidden=4))
    assert small.extractor.net[0].out_channels == 4 and build_model("cswm", CFG).extractor.net[0].out_channels == 32
    observations, _, _ = batch()
    small.eval()
    reference = small.extractor.net(observations.contiguous())  # the plain (channels-first) layout
    masks = small.extractor(observations)
    assert masks.shape == (5, 3, 10, 10) and masks.is_contiguous()
    torch.testing.assert_close(masks, reference, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="hidden"):
        build_model("cswm", CFG.replace(cnn_hidden=0))


def test_every_shipped_cswm_checkpoint_loads_into_the_model_its_profile_builds():
    """A refactor that renames a parameter, or a settings change that orphans a shipped run, fails here."""
    import re

    from srnlib import paths, profiles, shipped
    from srnlib.cswm import experiment

    for path, manifest in shipped.experiment_checkpoints("cswm", paths.repo_root() / "shipped"):
        game, kind, objects = re.fullmatch(r"(\w+)_(cswm|srn)_k(\d+)", manifest["name"]).groups()
        stored = manifest["settings"]
        n_actions = stored["action_dim"] * (1 if stored["copy_action"] else int(objects))
        settings = experiment.model_settings(game, int(objects), profiles.get("cswm", manifest["profile"]), n_actions)
        assert profiles.settings_hash(settings) == manifest["settings_hash"], f"{path.name}: settings changed"
        model = build_model(kind, experiment.model_config(game, int(objects), settings, n_actions))
        model.load_state_dict(shipped.load_shipped(path, settings)["model"])  # strict: every name and shape fits
