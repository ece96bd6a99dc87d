import pytest
import torch

from srnlib import metrics


def test_chamfer_on_hand_made_sets():
    target = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
    assert metrics.chamfer(target, target).item() == 0
    assert metrics.chamfer(target.flip(1), target).item() == 0  # order-free
    both_in_the_middle = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    # each predicted point is 1 from its nearest target (2 x 1), each target is 1 from the middle (2 x 1)
    assert metrics.chamfer(both_in_the_middle, target).item() == pytest.approx(4.0)
    one_collapsed = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    assert metrics.chamfer(one_collapsed, target).item() == pytest.approx(4.0)  # the far target costs 2^2


def test_matched_squared_error_finds_the_best_matching():
    target = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]]])
    predicted = torch.tensor([[[0.0, 3.5], [0.1, 0.0], [2.0, 0.0]]])
    assert metrics.matched_squared_error(predicted, target).item() == pytest.approx(0.25 + 0.01)
    collapsed = torch.tensor([[[0.0, 0.0], [0.0, 0.0]]])
    # chamfer forgives duplicates a little; a one-to-one matching does not
    assert metrics.matched_squared_error(collapsed, target[:, :2]).item() == pytest.approx(4.0)


def test_metrics_reject_mismatched_sets():
    with pytest.raises(ValueError, match="share batch"):
        metrics.chamfer(torch.zeros(2, 3, 2), torch.zeros(3, 3, 2))
    with pytest.raises(ValueError, match="equal set sizes"):
        metrics.matched_squared_error(torch.zeros(1, 2, 2), torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="too large"):
        metrics.matched_squared_error(torch.zeros(1, 7, 2), torch.zeros(1, 7, 2))
