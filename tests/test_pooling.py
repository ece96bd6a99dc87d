import pytest
import torch

from srnlib import FSPool, SetEncoder


def test_fspool_is_permutation_invariant():
    pool = FSPool(5, n_pieces=20).double()
    x = torch.randn(3, 7, 5, dtype=torch.float64)
    permuted = x[:, torch.randperm(7)]
    torch.testing.assert_close(pool(x), pool(permuted))


def test_fspool_matches_hand_computed_weights():
    pool = FSPool(1, n_pieces=1)
    with torch.no_grad():
        pool.weight.copy_(torch.tensor([[1.0, 3.0]]))  # weight 1 at rank 0, 3 at rank 1, linear between
    x = torch.tensor([[[2.0], [5.0], [-1.0]]])  # sorted: 5, 2, -1 at relative ranks 0, 0.5, 1
    expected = 5 * 1.0 + 2 * 2.0 + (-1) * 3.0
    assert pool(x).item() == pytest.approx(expected)


def test_fspool_ignores_padding_whatever_its_value():
    pool = FSPool(4)
    real = torch.randn(2, 3, 4)
    padded = torch.cat([real, 100 * torch.randn(2, 2, 4)], dim=1)
    mask = torch.tensor([[True] * 3 + [False] * 2] * 2)
    torch.testing.assert_close(pool(padded, mask), pool(real))


def test_fspool_handles_mixed_sizes_in_one_batch():
    pool = FSPool(3)
    small, large = torch.randn(1, 2, 3), torch.randn(1, 5, 3)
    batch = torch.cat([torch.cat([small, torch.zeros(1, 3, 3)], dim=1), large])
    mask = torch.tensor([[True, True, False, False, False], [True] * 5])
    out = pool(batch, mask)
    torch.testing.assert_close(out[0], pool(small)[0])
    torch.testing.assert_close(out[1], pool(large)[0])


def test_fspool_works_for_any_set_size_including_one():
    pool = FSPool(2)
    for n in (1, 2, 9, 40):
        assert pool(torch.randn(4, n, 2)).shape == (4, 2)


def test_fspool_gradients_reach_inputs_and_weights():
    pool = FSPool(3)
    x = torch.randn(2, 4, 3, requires_grad=True)
    pool(x).sum().backward()
    assert x.grad.abs().sum() > 0 and pool.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("bad, error", [
    (torch.randn(4, 3), ValueError),  # not (batch, n, channels)
    (torch.randn(2, 0, 3), ValueError),  # empty set
    (torch.randn(2, 4, 5), ValueError),  # wrong channel count
    (torch.ones(2, 4, 3, dtype=torch.long), TypeError),
    ([[1.0, 2.0, 3.0]], TypeError),
])
def test_fspool_rejects_bad_input(bad, error):
    with pytest.raises(error):
        FSPool(3)(bad)


def test_fspool_rejects_bad_masks():
    pool, x = FSPool(3), torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="empty set"):
        pool(x, torch.tensor([[True] * 4, [False] * 4]))
    with pytest.raises(ValueError, match="mask"):
        pool(x, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        pool(x, torch.ones(2, 4))


def test_set_encoder_is_invariant_and_respects_masks():
    encoder = SetEncoder(3, 6, hidden=16).double()
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(encoder(x), encoder(x[:, torch.randperm(4)]))
    padded = torch.cat([x, torch.randn(5, 3, 3, dtype=torch.float64)], dim=1)
    mask = torch.zeros(5, 7, dtype=torch.bool)
    mask[:, :4] = True
    torch.testing.assert_close(encoder(padded, mask), encoder(x))


def test_set_encoder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden"):
        SetEncoder(3, 4, hidden=0)
    with pytest.raises(ValueError, match="features per element"):
        SetEncoder(3, 4, hidden=8)(torch.randn(2, 5, 2))
