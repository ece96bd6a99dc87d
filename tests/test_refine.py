import pytest
import torch
from torch import nn

from srnlib import SetEncoder, SetRefiner


class LinearSumEncoder(nn.Module):
    """H(S) = sum_i A s_i: with one element and invertible A, argmin ||H(S) - z||^2 is A^-1 z."""

    def __init__(self, matrix):
        super().__init__()
        self.matrix = nn.Parameter(matrix)

    def forward(self, S):
        return S.matmul(self.matrix.t()).sum(dim=1)


def make_refiner(steps=5, lr=0.5, **kwargs):
    return SetRefiner(SetEncoder(3, 8, hidden=16), steps=steps, lr=lr, **kwargs).double()


def test_inner_loop_converges_to_the_known_argmin():
    matrix = torch.tensor([[2.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
    refiner = SetRefiner(LinearSumEncoder(matrix), steps=300, lr=0.1, momentum=0.5)
    z = torch.randn(4, 2, dtype=torch.float64)
    refined = refiner(torch.zeros(4, 1, 2, dtype=torch.float64), z)
    torch.testing.assert_close(refined[:, 0], torch.linalg.solve(matrix, z.t()).t(), atol=1e-6, rtol=1e-6)


def test_inner_loss_decreases_along_the_trajectory():
    refiner = make_refiner(steps=10, lr=0.05)
    out = refiner(torch.randn(6, 5, 3, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64),
                  return_trajectory=True)
    assert len(out.sets) == 11 and len(out.losses) == 11
    means = torch.stack([loss.mean() for loss in out.losses])
    assert (means.diff() < 0).all(), means
    torch.testing.assert_close(out.set, out.sets[-1])


def test_refinement_is_permutation_equivariant():
    refiner = make_refiner()
    S0, z = torch.randn(3, 6, 3, dtype=torch.float64), torch.randn(3, 8, dtype=torch.float64)
    order = torch.randperm(6)
    torch.testing.assert_close(refiner(S0[:, order], z), refiner(S0, z)[:, order])


def test_zero_steps_returns_the_initial_set():
    refiner = make_refiner()
    S0 = torch.randn(2, 4, 3, dtype=torch.float64)
    assert torch.equal(refiner(S0, torch.randn(2, 8, dtype=torch.float64), steps=0), S0)


def test_gradients_reach_the_generator_the_embedding_and_the_set_encoder():
    producer, embedder = nn.Linear(7, 4 * 3).double(), nn.Linear(7, 8).double()
    refiner = make_refiner(steps=3, momentum=0.5, grad_clip=5.0)
    x = torch.randn(5, 7, dtype=torch.float64)
    refined = refiner(producer(x).view(5, 4, 3), embedder(x))
    refined.pow(2).sum().backward()
    for module in (producer, embedder, refiner.set_encoder):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), module


def test_set_encoder_is_trained_even_when_the_initial_set_is_frozen():
    refiner = make_refiner(steps=2)
    refined = refiner(torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64))
    refined.sum().backward()
    assert all(p.grad is not None for p in refiner.set_encoder.parameters())


def test_eval_mode_builds_no_graph_and_gives_the_same_set():
    refiner = make_refiner()
    S0 = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    z = torch.randn(2, 8, dtype=torch.float64)
    trained = refiner(S0, z)
    refiner.eval()
    evaluated = refiner(S0, z)
    assert evaluated.grad_fn is None and not evaluated.requires_grad
    with torch.no_grad():
        refiner.train()
        assert refiner(S0, z).grad_fn is None
    torch.testing.assert_close(evaluated, trained.detach())


def test_masked_elements_are_not_moved():
    refiner = make_refiner(steps=4, lr=0.5)
    S0 = torch.randn(2, 5, 3, dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    refined = refiner(S0, torch.randn(2, 8, dtype=torch.float64), mask=mask)
    assert torch.equal(refined[0, 3:], S0[0, 3:])
    assert not torch.allclose(refined[0, :3], S0[0, :3])


def test_gradient_clipping_bounds_each_step():
    refiner = make_refiner(steps=1, lr=1.0, grad_clip=0.01)
    S0 = torch.randn(3, 4, 3, dtype=torch.float64)
    step = refiner(S0, 100 * torch.randn(3, 8, dtype=torch.float64)) - S0
    assert (step.flatten(1).norm(dim=1) <= 0.01 + 1e-9).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0, lr=0.1), "steps"), (dict(steps=-1, lr=0.1), "steps"), (dict(steps=2.5, lr=0.1), "steps"),
    (dict(steps=3, lr=0.0), "lr"), (dict(steps=3, lr=-1.0), "lr"),
    (dict(steps=3, lr=0.1, momentum=1.0), "momentum"), (dict(steps=3, lr=0.1, grad_clip=0.0), "grad_clip"),
])
def test_constructor_rejects_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SetRefiner(SetEncoder(3, 8, hidden=8), **kwargs)


def test_forward_rejects_bad_inputs():
    refiner = make_refiner()
    z = torch.randn(2, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="empty set"):
        refiner(torch.randn(2, 0, 3, dtype=torch.float64), z)
    with pytest.raises(ValueError, match="S0"):
        refiner(torch.randn(2, 3, dtype=torch.float64), z)
    with pytest.raises(ValueError, match="z must have shape"):
        refiner(torch.randn(3, 4, 3, dtype=torch.float64), z)
    with pytest.raises(ValueError, match="z must have the encoder.s output shape"):
        refiner(torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="steps"):
        refiner(torch.randn(2, 4, 3, dtype=torch.float64), z, steps=-2)


def test_non_finite_inner_loss_is_reported():
    refiner = make_refiner()
    z = torch.full((2, 8), float("nan"), dtype=torch.float64)
    with pytest.raises(ValueError, match="NaN/inf"):
        refiner(torch.randn(2, 4, 3, dtype=torch.float64), z)


def make_graph_refiner(steps=3, lr=0.2):
    from srnlib import GraphEncoder, GraphRefiner

    return GraphRefiner(GraphEncoder(3, 8, hidden=16), steps=steps, lr=lr).double()


def test_graph_refiner_is_equivariant_to_relabelling_the_nodes():
    refiner = make_graph_refiner()
    nodes, z = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64)
    edges = torch.rand(2, 5, 5, dtype=torch.float64)
    order = torch.randperm(5)
    refined_nodes, refined_edges = refiner(nodes, z, edges)
    permuted_nodes, permuted_edges = refiner(nodes[:, order], z, edges[:, order][:, :, order])
    torch.testing.assert_close(permuted_nodes, refined_nodes[:, order])
    torch.testing.assert_close(permuted_edges, refined_edges[:, order][:, :, order])


def test_graph_refiner_refines_the_edges_of_a_complete_graph_and_lowers_the_loss():
    refiner = make_graph_refiner(steps=5, lr=0.05)
    nodes, z = torch.randn(3, 4, 3, dtype=torch.float64), torch.randn(3, 8, dtype=torch.float64)
    (refined_nodes, refined_edges), trajectory, losses = refiner(nodes, z, return_trajectory=True)
    initial_edges = trajectory[0][1]
    assert torch.equal(initial_edges, 1 - torch.eye(4, dtype=torch.float64).expand(3, 4, 4))
    assert not torch.allclose(refined_edges, initial_edges) and not torch.allclose(refined_nodes, nodes)
    assert losses[-1].mean() < losses[0].mean()


def test_graph_refiner_gradients_reach_the_node_producer_and_the_graph_encoder():
    producer = nn.Linear(6, 4 * 3).double()
    refiner = make_graph_refiner()
    x, z = torch.randn(2, 6, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64)
    refined_nodes, refined_edges = refiner(producer(x).view(2, 4, 3), z)
    (refined_nodes.pow(2).sum() + refined_edges.pow(2).sum()).backward()
    for module in (producer, refiner.graph_encoder):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), module


def test_graph_encoder_ignores_padded_nodes():
    from srnlib import GraphEncoder

    encoder = GraphEncoder(3, 8, hidden=16).double()
    nodes, edges = torch.randn(1, 3, 3, dtype=torch.float64), torch.rand(1, 3, 3, dtype=torch.float64)
    padded_nodes = torch.cat([nodes, torch.randn(1, 2, 3, dtype=torch.float64)], dim=1)
    padded_edges = torch.rand(1, 5, 5, dtype=torch.float64)
    padded_edges[:, :3, :3] = edges
    mask = torch.tensor([[True, True, True, False, False]])
    torch.testing.assert_close(encoder(padded_nodes, padded_edges, mask), encoder(nodes, edges))


def test_graph_refiner_rejects_bad_edges():
    refiner = make_graph_refiner()
    with pytest.raises(ValueError, match="edges0"):
        refiner(torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64),
                torch.rand(2, 4, 5, dtype=torch.float64))


def make_srn(steps=3, **changes):
    from srnlib import SRN, RefinerConfig

    config = RefinerConfig(**{"steps": steps, "lr": 0.5, "agg_hidden": 16, "embed_dim": 8, **changes})
    return SRN(7, 3, config).double()


def test_the_srn_is_h_embed_then_the_loop_around_h_agg():
    srn = make_srn(momentum=0.5)
    S0, x = torch.randn(4, 5, 3, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    alone = SetRefiner(srn.loop.set_encoder, steps=3, lr=0.5, momentum=0.5)  # the loop by hand, same H_agg
    torch.testing.assert_close(srn(S0, x), alone(S0, srn.embed(x)))
    assert isinstance(srn.embed, nn.Linear) and srn.embed.out_features == 8 and srn.steps == 3
    assert [name for name, _ in srn.named_children()] == ["embed", "loop"]


def test_the_srn_with_zero_steps_returns_s0_and_its_trajectory_on_request():
    srn = make_srn(steps=4)
    S0, x = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 7, dtype=torch.float64)
    assert torch.equal(srn(S0, x, steps=0), S0)
    out = srn(S0, x, return_trajectory=True)
    assert len(out.sets) == len(out.losses) == 5 and torch.equal(out.sets[0], S0)
    torch.testing.assert_close(out.set, srn(S0, x))
    assert len(srn(S0, x, steps=2, return_trajectory=True).sets) == 3 and srn.steps == 4  # a call changes nothing


def test_nothing_outside_the_srn_can_change_its_number_of_steps():
    srn = make_srn()
    for module in (srn, srn.loop):
        with pytest.raises(AttributeError):
            module.steps = 1
    assert srn.steps == srn.loop.steps == 3


def test_the_srn_takes_a_module_as_h_embed_and_its_own_h_agg():
    from srnlib import SRN, RefinerConfig

    config = RefinerConfig(steps=2, lr=0.1, agg_hidden=8)  # no embed_dim: z has the element size
    srn = SRN(nn.Identity(), 3, config)
    assert srn.embed_dim == 3 and srn.loop.set_encoder.out_dim == 3
    S0, z = torch.randn(2, 4, 3), torch.randn(2, 3)
    torch.testing.assert_close(srn(S0, z), SetRefiner(srn.loop.set_encoder, 2, 0.1)(S0, z))
    mine = LinearSumEncoder(torch.eye(3))
    assert SRN(nn.Identity(), 3, config, agg=mine).loop.set_encoder is mine
    with pytest.raises(TypeError, match="RefinerConfig"):
        SRN(4, 3, {"steps": 2, "lr": 0.1, "agg_hidden": 8})
    with pytest.raises(TypeError, match="embed"):
        SRN("features", 3, config)


def test_the_grn_refines_nodes_and_the_edges_of_a_complete_graph():
    from srnlib import GRN, RefinerConfig, GraphEncoder

    grn = GRN(7, 3, RefinerConfig(steps=2, lr=0.2, agg_hidden=8, embed_dim=6)).double()
    nodes0, x = torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 7, dtype=torch.float64)
    assert isinstance(grn.loop.graph_encoder, GraphEncoder)
    nodes, edges = grn(nodes0, x)
    assert nodes.shape == nodes0.shape and edges.shape == (2, 4, 4)
    (same, edges0), trajectory, losses = grn(nodes0, x, steps=0, return_trajectory=True)
    assert torch.equal(same, nodes0) and torch.equal(edges0, 1 - torch.eye(4, dtype=torch.float64).expand(2, 4, 4))


def test_no_experiment_wires_its_own_refiner_or_changes_a_step_count():
    """Issue 16: every experiment builds its refiner as one SRN (or GRN) and passes other step counts per call."""
    import ast
    from pathlib import Path

    import srnlib

    for path in Path(srnlib.__file__).parent.rglob("*.py"):
        if path.name == "refine.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                assert name not in ("SetRefiner", "GraphRefiner"), f"{path}:{node.lineno} wires its own refiner"
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:  # another object's steps (a class may set its own in __init__)
                    owner = getattr(target, "value", None)
                    assert not (isinstance(target, ast.Attribute) and target.attr == "steps"
                                and getattr(owner, "id", None) != "self"), f"{path}:{node.lineno} changes a step count"


def test_inner_problem_tells_a_loop_that_solves_eq_2_from_one_that_only_pushes():
    from srnlib import SRN, RefinerConfig
    from srnlib.refine import inner_problem

    matrix = torch.tensor([[2.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
    solver = SRN(nn.Identity(), 2, RefinerConfig(steps=300, lr=0.1, agg_hidden=8, momentum=0.5),
                 agg=LinearSumEncoder(matrix)).double()
    S0, z = torch.zeros(4, 1, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    solved = inner_problem(solver, S0, z)
    assert solved["solved"] > 0.999 and solved["loss_sr"] < 1e-6  # the known argmin A^-1 z is reached
    assert solved["agg_s0_sq"] == 0.0 and solved["loss_s0"] == pytest.approx(solved["z_sq"])  # H(0) = 0
    tiny = SRN(nn.Identity(), 2, RefinerConfig(steps=5, lr=0.1, agg_hidden=8),
               agg=LinearSumEncoder(1e-4 * matrix)).double()
    S0 = torch.randn(4, 3, 2, dtype=torch.float64)
    pushed = inner_problem(tiny, S0, z)
    assert pushed["solved"] < 1e-3 and pushed["agg_s0_sq"] < 1e-6 * pushed["z_sq"]  # H_agg ~ 0: nothing solved
    with torch.no_grad():
        moved = tiny(S0, z) - S0  # with H ~ 0 each step adds 2 lr J^T z = 2 lr A^T z to every element
    push = 2 * 0.1 * 5 * z.matmul(1e-4 * matrix)
    torch.testing.assert_close(moved, push.unsqueeze(1).expand_as(S0), atol=1e-9, rtol=1e-2)  # H is not exactly 0
    assert pushed["move"] == pytest.approx((moved.flatten(1).norm(dim=1) / S0.flatten(1).norm(dim=1)).mean().item())


def test_inner_problem_checks_its_input_and_keeps_the_training_mode():
    from srnlib import GRN, RefinerConfig
    from srnlib.refine import inner_problem

    srn = make_srn().train()
    S0, x = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 7, dtype=torch.float64)
    assert set(inner_problem(srn, S0, x)) == {"loss_s0", "loss_sr", "solved", "z_sq", "agg_s0_sq", "move"}
    assert srn.training
    with pytest.raises(ValueError, match="empty set"):
        inner_problem(srn, S0[:, :0], x)
    with pytest.raises(TypeError, match="must be an SRN"):
        inner_problem(GRN(7, 3, RefinerConfig(steps=2, lr=0.2, agg_hidden=8)), S0.float(), x.float())
