"""The hand-written inner gradient of SetEncoder (srnlib/encoder_gradient.py) against autograd."""
import pytest
import torch
from torch import nn

from srnlib import SetEncoder, SetRefiner, encoder_gradient
from srnlib.encoder_gradient import InnerGradient

F64 = torch.float64


def autograd_loss_and_gradient(encoder, S, z, mask=None):
    S = S.detach().requires_grad_(True)
    loss = (encoder(S, mask) - z).pow(2).sum(dim=1)
    (grad,) = torch.autograd.grad(loss.sum(), S)
    return loss.detach(), grad


def random_mask(batch, n, generator):
    mask = torch.rand(batch, n, generator=generator) < 0.6
    mask[:, 0] = True
    mask[0] = True  # one full set
    mask[1, 1:] = False  # one set of a single element
    return mask


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("masked", [False, True])
def test_the_gradient_is_autograds_on_random_sets(layers, masked):
    generator = torch.Generator().manual_seed(layers)
    torch.manual_seed(layers)
    encoder = SetEncoder(3, 8, hidden=16, layers=layers, n_pieces=5).double()
    S = torch.randn(6, 7, 3, dtype=F64, generator=generator)
    z = torch.randn(6, 8, dtype=F64, generator=generator)
    mask = random_mask(6, 7, generator) if masked else None
    loss, grad = InnerGradient(encoder, z, mask)(S)
    expected_loss, expected_grad = autograd_loss_and_gradient(encoder, S, z, mask)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)
    if masked:  # padding gets no gradient
        assert (grad[~mask] == 0).all()


def test_ties_in_the_sort_get_autograds_gradient():
    """Repeated elements tie in every channel of FSPool's sort; autograd sends each copy the weight of the rank the
    sort gave it, and so must the hand-written gradient (different ranks -> different gradients for equal copies)."""
    torch.manual_seed(0)
    encoder = SetEncoder(3, 8, hidden=16).double()
    S = torch.randn(4, 6, 3, dtype=F64)
    S[:, 3] = S[:, 0]
    S[:, 5] = S[:, 0]
    S[2] = S[2, :1]  # a set of six equal elements
    z = torch.randn(4, 8, dtype=F64)
    loss, grad = InnerGradient(encoder, z)(S)
    expected_loss, expected_grad = autograd_loss_and_gradient(encoder, S, z)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(expected_grad[:, 3], expected_grad[:, 0])  # the ties really are broken by rank


def outer_gradients(gradient, mask=None, momentum=0.5, grad_clip=None, steps=4, frozen_s0=False):
    """One outer backward through `steps` inner steps; gradients of H_agg, H_embed, the S0 generator and the input."""
    torch.manual_seed(3)
    generator, embed = nn.Linear(5, 6 * 3).double(), nn.Linear(5, 8).double()
    refiner = SetRefiner(SetEncoder(3, 8, hidden=16).double(), steps=steps, lr=0.3, momentum=momentum,
                         grad_clip=grad_clip, gradient=gradient)
    x = torch.randn(4, 5, dtype=F64, requires_grad=True)
    S0 = generator(x).view(4, 6, 3)
    refined = refiner(S0.detach() if frozen_s0 else S0, embed(x), mask=mask, return_trajectory=True)
    target = torch.randn(4, 6, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    (refined.set - target).pow(2).sum().backward()
    modules = {"H_agg": refiner.set_encoder, "H_embed": embed, "generator": generator}
    grads = {f"{name}.{key}": param.grad for name, module in modules.items()
             for key, param in module.named_parameters()}
    return refined, {**grads, "input": x.grad}


@pytest.mark.parametrize("setting", [
    dict(), dict(momentum=0.0), dict(grad_clip=0.5), dict(steps=1), dict(frozen_s0=True),
    dict(mask=torch.tensor([[True] * 6, [True] * 2 + [False] * 4, [True] + [False] * 5, [True] * 5 + [False]])),
])
def test_outer_gradients_after_several_inner_steps_are_autograds(setting):
    refined, grads = outer_gradients("by_hand", **setting)
    expected_refined, expected_grads = outer_gradients("autograd", **setting)
    for ours, theirs in zip(refined.sets, expected_refined.sets):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(refined.losses, expected_refined.losses):
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        if setting.get("frozen_s0") and name.startswith("generator"):
            assert grads[name] is None and expected_grads[name] is None
            continue
        assert grads[name] is not None, name
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-10, atol=1e-12, msg=name)


def test_float32_at_the_circles_sizes_matches_autograd_to_rounding():
    torch.manual_seed(0)
    encoder = SetEncoder(10, 100, hidden=64)
    S, z = torch.randn(8, 16, 10), torch.randn(8, 100)
    loss, grad = InnerGradient(encoder, z)(S)
    expected_loss, expected_grad = autograd_loss_and_gradient(encoder, S, z)
    torch.testing.assert_close(loss, expected_loss)
    torch.testing.assert_close(grad, expected_grad)


def test_eval_mode_builds_no_graph_and_gives_autograds_set():
    torch.manual_seed(0)
    encoder = SetEncoder(3, 8, hidden=16).double()
    S0 = torch.randn(3, 5, 3, dtype=F64, requires_grad=True)
    z = torch.randn(3, 8, dtype=F64)
    ours = SetRefiner(encoder, steps=3, lr=0.2, momentum=0.5).eval()(S0, z)
    theirs = SetRefiner(encoder, steps=3, lr=0.2, momentum=0.5, gradient="autograd").eval()(S0, z)
    assert not ours.requires_grad and ours.grad_fn is None
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_the_loop_uses_the_hand_written_gradient_only_for_a_plain_set_encoder(monkeypatch):
    calls = []
    original = InnerGradient.__call__
    monkeypatch.setattr(InnerGradient, "__call__", lambda self, S: calls.append(1) or original(self, S))
    S0, z = torch.randn(2, 4, 3, dtype=F64), torch.randn(2, 8, dtype=F64)

    class Subclass(SetEncoder):
        pass

    hooked = SetEncoder(3, 8, hidden=16)
    hooked.pool.register_forward_hook(lambda *args: None)
    for encoder in (Subclass(3, 8, hidden=16), hooked):
        assert not encoder_gradient.supports(encoder)
        SetRefiner(encoder.double(), steps=2, lr=0.1)(S0, z)
    assert calls == []
    SetRefiner(SetEncoder(3, 8, hidden=16).double(), steps=2, lr=0.1, gradient="autograd")(S0, z)
    assert calls == []
    encoder = SetEncoder(3, 8, hidden=16).double()
    assert encoder_gradient.supports(encoder)
    SetRefiner(encoder, steps=2, lr=0.1)(S0, z)
    assert calls == [1, 1]


def test_the_gradient_setting_is_checked():
    with pytest.raises(ValueError, match="gradient must be"):
        SetRefiner(SetEncoder(3, 8), steps=1, lr=0.1, gradient="by hand")


def test_bad_inputs_get_the_encoders_errors():
    encoder = SetEncoder(3, 8, hidden=16).double()
    S = torch.randn(2, 4, 3, dtype=F64)
    with pytest.raises(ValueError, match="z must have the encoder.s output shape"):
        InnerGradient(encoder, torch.randn(2, 5, dtype=F64))(S)
    with pytest.raises(ValueError):
        InnerGradient(encoder, torch.randn(2, 8, dtype=F64))(torch.randn(2, 4, 5, dtype=F64))
    with pytest.raises(ValueError, match="empty set"):
        InnerGradient(encoder, torch.randn(2, 8, dtype=F64), torch.zeros(2, 4, dtype=torch.bool))(S)
