"""srnlib.averaging: weight averaging and batch-norm statistics computed again, on hand-made cases."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from srnlib.averaging import average_weights, recompute_batch_norm


def test_average_weights_is_the_mean_of_floats_and_takes_integers_from_the_last_state():
    first = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    second = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)}
    third = {"w": torch.tensor([2.0, 1.0]), "n": torch.tensor(9)}
    averaged = average_weights([first, second, third])
    assert torch.equal(averaged["w"], torch.tensor([2.0, 3.0])) and averaged["w"].dtype == torch.float32
    assert int(averaged["n"]) == 9
    assert torch.equal(first["w"], torch.tensor([1.0, 2.0]))  # the inputs are left alone


def test_average_weights_refuses_no_states_and_states_of_other_models():
    with pytest.raises(ValueError, match="non-empty"):
        average_weights([])
    with pytest.raises(ValueError, match="other keys"):
        average_weights([{"w": torch.zeros(2)}, {"v": torch.zeros(2)}])
    with pytest.raises(ValueError, match="shape"):
        average_weights([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}])


def test_recompute_batch_norm_sets_the_running_statistics_to_their_averages_over_the_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model[1].running_mean.fill_(100.0)  # stale statistics the recomputation must not keep
    batches = [torch.randn(16, 3) * (k + 1) + k for k in range(5)]
    with torch.no_grad():
        outputs = [model[0](batch) for batch in batches]
    seen = recompute_batch_norm(model, iter(batches))
    assert seen == 5 and not model.training and model[1].momentum == 0.1
    torch.testing.assert_close(model[1].running_mean, torch.stack([o.mean(0) for o in outputs]).mean(0))
    torch.testing.assert_close(model[1].running_var, torch.stack([o.var(0) for o in outputs]).mean(0))
    assert all(parameter.grad is None for parameter in model.parameters())


def test_recompute_batch_norm_runs_the_given_forward_and_refuses_no_batches():
    model = nn.Sequential(nn.BatchNorm1d(2))
    calls = []
    recompute_batch_norm(model, [torch.ones(4, 2) * 3], forward=lambda batch: calls.append(model(batch)))
    assert len(calls) == 1 and torch.allclose(model[0].running_mean, torch.full((2,), 3.0))
    with pytest.raises(ValueError, match="at least one batch"):
        recompute_batch_norm(model, [])
