import pytest
import torch
from torch import nn

import srnlib
from srnlib.cswm import experiment


def test_smoke_training_on_the_shapes_env_gives_scores_for_1_5_and_10_steps(isolated_home):
    cfg = srnlib.profiles.get("cswm", "smoke")
    _, evaluations = experiment.data("shapes", cfg)
    for kind in experiment.KINDS:
        model, history = experiment.load_or_train(kind, "shapes", 5, cfg)
        assert len(history) == cfg.epochs and torch.isfinite(torch.tensor(history[-1]["train_loss"]))
        scores = experiment.evaluate(model, evaluations)
        assert set(scores) == {"1", "5", "10"}
        assert all(0 <= s["h1"] <= s["mrr"] <= 100 for s in scores.values()), scores


def test_a_model_that_encodes_and_predicts_perfectly_scores_100(isolated_home):
    cfg = srnlib.profiles.get("cswm", "smoke")
    _, evaluations = experiment.data("shapes", cfg)

    class Identity(nn.Module):  # encodes an observation as its pixels and "predicts" by looking at the target
        def __init__(self, lookup):
            super().__init__()
            self.dummy, self.lookup = nn.Parameter(torch.zeros(1)), lookup

        def encode(self, observations):
            return observations.flatten(1).unsqueeze(1)

        def predict(self, observations, actions):
            return self.lookup(observations, actions)

    for k, sample in evaluations.items():
        targets = sample.next_obs.float() / 255
        model = Identity(lambda obs, actions, t=targets: t.flatten(1).unsqueeze(1)[:len(obs)])
        scores = experiment.evaluate(model, {k: sample}, batch_size=len(sample))
        assert scores[str(k)] == {"h1": 100.0, "mrr": 100.0}


def test_model_settings_give_per_object_actions_only_with_one_slot_per_block():
    cfg = srnlib.profiles.get("cswm", "smoke")
    assert experiment.model_settings("shapes", 5, cfg, 20)["copy_action"] is False
    assert experiment.model_settings("shapes", 3, cfg, 20)["copy_action"] is True
    pong = experiment.model_settings("pong", 3, cfg, 6)
    assert pong["in_channels"] == 6 and pong["action_dim"] == 6 and pong["copy_action"] is True
    with pytest.raises(ValueError, match="kind"):
        experiment.load_or_train("slots", "shapes", 5, cfg)


def test_the_chance_level_counts_distinct_target_states():
    from srnlib.cswm.data import MultiStepEval

    def sample(ids):
        n = len(ids)
        return MultiStepEval(10, torch.zeros(n, 6, 50, 50, dtype=torch.uint8), torch.zeros(n, 10, dtype=torch.long),
                             torch.zeros(n, 6, 50, 50, dtype=torch.uint8), torch.tensor(ids))

    chance = experiment.chance_hits({1: sample([0, 1, 2, 3]), 10: sample([0, 0, 1, 1, 1])})
    assert chance == {"1": 25.0, "10": 50.0}  # 4 distinct states; 2 distinct states among 5 episodes
