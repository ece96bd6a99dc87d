import pytest
import torch
from torch import nn

from srnlib.sortofclevr import generate
from srnlib.config import SortOfClevrConfig
from srnlib.sortofclevr.models import ELEMENT_DIM, RelationHead, build_model, grid_state_vectors

CFG = SortOfClevrConfig.from_profile("smoke").replace(cell_colours=0, cell_colours_norm=False,  # the paper's cells
                                                   refiner={"embed_dim": 32, "agg_hidden": 32, "steps": 2,
                                                               "lr": 0.5})


@pytest.fixture(scope="module")
def batch():
    data = generate(4, seed=0, questions_per_image=2)
    return data.images, torch.as_tensor(data.questions[:, 1]), torch.as_tensor(data.answers[:, 1])


def test_both_models_answer_with_ten_logits_and_share_all_but_the_srn_parts(batch):
    images, questions, _ = batch
    rn, rn_srn = build_model("rn", CFG), build_model("rn_srn", CFG)
    assert rn(images, questions).shape == rn_srn(images, questions).shape == (4, 10)
    rn_shapes = {name: p.shape for name, p in rn.named_parameters()}
    srn_shapes = {name: p.shape for name, p in rn_srn.named_parameters()
                  if not name.startswith("refiner.")}
    assert rn_shapes == srn_shapes


def test_the_relational_head_ignores_the_order_of_objects():
    head = RelationHead(hidden=32).double().eval()
    objects, questions = torch.randn(3, 25, ELEMENT_DIM, dtype=torch.float64), torch.randn(3, 11, dtype=torch.float64)
    torch.testing.assert_close(head(objects, questions), head(objects[:, torch.randperm(25)], questions))


def test_the_object_set_carries_cell_coordinates(batch):
    images, _, _ = batch
    objects = build_model("rn", CFG).object_set(images)
    assert objects.shape == (4, 25, ELEMENT_DIM)
    assert objects[0, 0, -2:].tolist() == [-1.0, -1.0] and objects[0, -1, -2:].tolist() == [1.0, 1.0]


def test_zero_inner_steps_switches_the_refinement_off(batch):
    images, _, _ = batch
    model = build_model("rn_srn", CFG).eval()
    unrefined = model.object_set(images, inner_steps=0)
    torch.testing.assert_close(unrefined, model.objects(images)[0])
    assert not torch.allclose(model.object_set(images), unrefined)


def test_a_training_step_reaches_every_parameter(batch):
    images, questions, answers = batch
    model = build_model("rn_srn", CFG)
    torch.nn.functional.cross_entropy(model(images, questions), answers).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


@pytest.mark.parametrize("s0_gradient", [True, False])
def test_without_s0_gradient_the_perceptual_stage_learns_only_through_the_loop(batch, s0_gradient):
    images, questions, answers = batch
    config = CFG.replace(cell_colours=4, s0_gradient=s0_gradient)
    model = build_model("rn_srn", config)
    stage = [p for p in model.objects.parameters()]
    for steps, reached in ((0, s0_gradient), (2, True)):  # 0 steps: S0 is the set the head reads
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(images, questions, inner_steps=steps), answers).backward()
        touched = [p.grad is not None and bool(p.grad.abs().sum() > 0) for p in stage]
        assert all(touched) if reached else not any(touched), (steps, touched)
    # without the S0 path, z reads the whole stage's output (the colour histogram too), so all of it trains
    assert model.refiner.embed.in_features == (600 if s0_gradient else 25 * (ELEMENT_DIM + 4))
    with pytest.raises(TypeError, match="s0_gradient must be a bool"):
        build_model("rn_srn", CFG.replace(s0_gradient=1))


def test_bad_inputs_are_reported(batch):
    images, questions, _ = batch
    model = build_model("rn", CFG)
    with pytest.raises(ValueError, match="images must have shape"):
        model(images[:, :, :64, :64], questions)
    with pytest.raises(ValueError, match="questions must have shape"):
        model(images, questions[:, :5])
    with pytest.raises(ValueError, match="kind"):
        build_model("cnn", CFG)


def test_the_relational_head_is_g_on_the_concatenated_pairs_and_answers_k_questions_at_once():
    head = RelationHead(hidden=16).double().eval()
    objects = torch.randn(2, 25, ELEMENT_DIM, dtype=torch.float64)
    questions = torch.randn(2, 3, 11, dtype=torch.float64)
    for k in range(3):  # reference: g applied to every concatenated pair [o_i, o_j, q], summed, then f
        pairs = torch.cat([objects.unsqueeze(2).expand(-1, -1, 25, -1), objects.unsqueeze(1).expand(-1, 25, -1, -1),
                           questions[:, k].view(2, 1, 1, 11).expand(-1, 25, 25, -1)], dim=3)
        expected = head.f(head.g(pairs).sum(dim=(1, 2)))
        torch.testing.assert_close(head(objects, questions[:, k]), expected)
        torch.testing.assert_close(head(objects, questions)[:, k], expected)
    with pytest.raises(ValueError, match="questions must have shape"):
        head(objects, questions[:1])


def test_mean_aggregation_is_the_sum_over_pairs_scaled_and_he_init_keeps_g_alive():
    torch.manual_seed(0)
    summed = RelationHead(element_dim=5, hidden=16, dropout=0.0).eval()
    mean = RelationHead(element_dim=5, hidden=16, dropout=0.0, aggregate="mean").eval()
    mean.load_state_dict(summed.state_dict())
    objects, questions = torch.randn(2, 7, 5), torch.randn(2, 11)
    pooled = {}
    for name, head in (("sum", summed), ("mean", mean)):
        head.f.register_forward_hook(lambda m, i, o, name=name: pooled.__setitem__(name, i[0]))
        head(objects, questions)
    torch.testing.assert_close(pooled["mean"] * 49, pooled["sum"])
    with pytest.raises(ValueError, match="aggregate"):
        RelationHead(aggregate="max")
    with pytest.raises(ValueError, match="init"):
        RelationHead(init="xavier")
    # He init keeps the signal through g's four ReLU layers; PyTorch's default shrinks it ~30x
    spread = {}
    for init in ("default", "he"):
        torch.manual_seed(0)
        head = RelationHead(element_dim=26, hidden=128, init=init)
        out = head.g(torch.randn(4096, 2 * 26 + 11))
        spread[init] = out.std(0).mean().item()
        assert init == "default" or all((layer.bias == 0).all() for layer in head.g if isinstance(layer, nn.Linear))
    assert spread["he"] > 10 * spread["default"]


def test_build_model_passes_the_head_settings_and_the_state_network_reads_object_vectors():
    from srnlib.sortofclevr.models import STATE_DIM, StateRelationNetwork, state_vectors
    model = build_model("rn", CFG.replace(rn_hidden=8, dropout=0.0, aggregate="mean", init="he"))
    assert model.relations.aggregate == "mean" and model.relations.f[4].p == 0.0
    assert build_model("rn_srn", CFG.replace(rn_hidden=8)).relations.aggregate == "sum"
    data = generate(3, seed=1, questions_per_image=4)
    states = state_vectors(data.objects)
    head = StateRelationNetwork(CFG.replace(rn_hidden=8))
    assert head(states, torch.as_tensor(data.questions)).shape == (3, 4, 10)
    with pytest.raises(ValueError, match="states"):
        head(torch.zeros(3, 6, STATE_DIM + 1), torch.as_tensor(data.questions))


@pytest.mark.parametrize("stem, norm_after_relu", [("conv-bn-relu", False), ("conv-relu-bn", True),
                                                    ("conv-relu", None), ("pixel-conv-bn-relu", False),
                                                    ("patch-conv-bn-relu", False)])
def test_the_stem_setting_orders_each_conv_layer(batch, stem, norm_after_relu):
    images, questions, _ = batch
    model = build_model("rn", CFG.replace(stem=stem))
    layers = list(model.objects.convs)
    assert [type(layer) for layer in layers].count(nn.Conv2d) == 4 + 2 * (stem == "pixel-conv-bn-relu")
    norms = [i for i, layer in enumerate(layers) if isinstance(layer, nn.BatchNorm2d)]
    if norm_after_relu is None:
        assert norms == []
    else:  # batch norm follows the ReLU, or the conv
        assert len(norms) == 4 + 2 * (stem == "pixel-conv-bn-relu") and all(isinstance(layers[i - 1], nn.ReLU) == norm_after_relu for i in norms)
    assert model(images, questions).shape == (4, 10)
    with pytest.raises(ValueError, match="stem must be one of"):
        build_model("rn", CFG.replace(stem="conv-bn"))


def test_cell_rgb_appends_each_cells_mean_colour(batch):
    images, questions, _ = batch
    for kind in ("rn", "rn_srn"):
        model = build_model(kind, CFG.replace(cell_rgb=True)).eval()
        objects = model.objects(images)[0]
        assert objects.shape == (4, 25, ELEMENT_DIM + 3) and model(images, questions).shape == (4, 10)
        assert model.object_set(images).shape == (4, 25, ELEMENT_DIM + 3)
    # cell (row 1, column 2) of image 0 covers pixels 15-29 down and 30-44 across; row-major index 7
    expected = images[0, :, 15:30, 30:45].mean(dim=(1, 2))
    torch.testing.assert_close(objects[0, 7, -5:-2], expected)
    torch.testing.assert_close(objects[0, 7, -2:], torch.tensor([0.0, -0.5]))


def test_grid_state_vectors_put_each_object_in_its_cell():
    data = generate(5, seed=3, questions_per_image=2)
    grid = grid_state_vectors(data.objects)
    assert grid.shape == (5, 25, 10)
    for scene, table in zip(grid, data.objects):
        occupied = {(int(y // 15) * 5 + int(x // 15)): (int(c), int(s)) for c, x, y, s in table}
        for index in range(25):
            one_hots = scene[index, :8]
            if index in occupied:
                colour, shape = occupied[index]
                assert one_hots[colour] == 1 and one_hots[6 + shape] == 1 and one_hots.sum() == 2
            else:
                assert one_hots.sum() == 0
            assert scene[index, 8:].tolist() == [-1 + 0.5 * (index % 5), -1 + 0.5 * (index // 5)]


def test_the_patch_stems_cells_see_only_their_own_pixels(batch):
    images, _, _ = batch
    model = build_model("rn", CFG.replace(stem="patch-conv-bn-relu")).eval()
    changed = images.clone()
    changed[:, :, 15:30, 30:45] = torch.rand(4, 3, 15, 15)  # the pixels of cell 7 (row 1, column 2)
    moved = (model.objects(changed)[0] - model.objects(images)[0]).abs().sum(dim=2)  # (4, 25)
    assert (moved[:, 7] > 0).all() and moved[:, [i for i in range(25) if i != 7]].max() == 0


def test_grid_state_vectors_can_give_colours_as_rgb():
    from srnlib.sortofclevr.data import COLOURS_RGB
    data = generate(3, seed=4, questions_per_image=2)
    one_hot, rgb = grid_state_vectors(data.objects), grid_state_vectors(data.objects, colour="rgb")
    occupied = one_hot[..., :6].sum(-1) > 0
    colours = one_hot[..., :6].argmax(-1)[occupied]
    torch.testing.assert_close(rgb[..., :3][occupied], torch.tensor(COLOURS_RGB, dtype=torch.float32)[colours] / 255)
    assert rgb[..., 3:6].abs().sum() == 0 and torch.equal(rgb[..., 6:], one_hot[..., 6:])
    with pytest.raises(ValueError, match="colour must be"):
        grid_state_vectors(data.objects, colour="hsv")


def test_cell_colours_append_each_cells_learned_colour_histogram(batch):
    images, questions, _ = batch
    for kind in ("rn", "rn_srn"):
        model = build_model(kind, CFG.replace(cell_colours=16)).eval()
        assert model.object_set(images).shape == (4, 25, ELEMENT_DIM + 16) and model(images, questions).shape == (4, 10)
    histogram = model.objects(images)[0][..., -18:-2]  # (4, 25, 16): each cell's shares of the 16 classes
    torch.testing.assert_close(histogram.sum(-1), torch.ones(4, 25))
    # cell (row 1, column 2) of image 0 (pixels 15-29 down, 30-44 across): its pixels' class shares, averaged
    shares = torch.softmax(model.objects.colours.assign(2 * images[:1, :, 15:30, 30:45] - 1), dim=1)
    torch.testing.assert_close(histogram[0, 7], shares.mean(dim=(0, 2, 3)))
    with pytest.raises(ValueError, match="cell_colours must be a non-negative integer"):
        build_model("rn", CFG.replace(cell_colours=-1))


def test_cell_colours_tell_the_palette_apart_linearly_from_the_start():
    """The 7 palette colours' class distributions are linearly independent at initialisation (every seed tried),
    so g's first layer can read off each colour's share of a cell before the histogram has learned anything."""
    from srnlib.sortofclevr.models import CellColours
    from srnlib.sortofclevr.rendering import PALETTE
    for seed in range(5):
        torch.manual_seed(seed)
        with torch.no_grad():
            shares = CellColours(16).assign(2 * PALETTE.view(-1, 3, 1, 1) - 1).softmax(dim=1).flatten(1)  # (7, 16)
        assert torch.linalg.matrix_rank(shares.double(), tol=1e-3) == 7


def test_every_shipped_sortofclevr_checkpoint_loads_strictly_into_todays_model():
    """Models and Figure 4's decoders shipped under shipped/sortofclevr/: the profile's settings still hash to the
    manifest's, and every parameter name and shape fits the model today's code builds."""
    from srnlib import paths, profiles, shipped
    from srnlib.sortofclevr.models import element_dim
    from srnlib.sortofclevr.reconstruction import ImageDecoder

    checked = 0
    for path, manifest in shipped.experiment_checkpoints("sortofclevr", paths.repo_root() / "shipped"):
        cfg = profiles.get("sortofclevr", manifest["profile"])
        assert profiles.settings_hash(dict(cfg)) == manifest["settings_hash"], f"{path.name}: settings changed"
        state = shipped.load_shipped(path, cfg)
        config = SortOfClevrConfig.from_settings(cfg)
        if manifest["name"].startswith("decoder_"):
            dim = element_dim(config.cell_rgb, cell_colours=config.cell_colours)
            model = ImageDecoder(dim, tuple(cfg["recon_channels"]))
        else:
            model = build_model(manifest["name"], config)
        model.load_state_dict(state["model"])  # strict: every name and shape fits
        checked += 1
    assert checked in (0, 2, 4) or checked >= 6  # nothing yet, seed 0's models (and decoders), or more seeds


def test_an_rn_srn_reports_how_much_of_eq_2_its_loop_solves_and_an_rn_refuses():
    from srnlib import profiles
    from srnlib.config import SortOfClevrConfig
    from srnlib.sortofclevr.models import build_model

    config = SortOfClevrConfig.from_settings(profiles.get("sortofclevr", "smoke"))
    torch.manual_seed(0)
    model, images = build_model("rn_srn", config).train(), torch.rand(3, 3, 75, 75)
    numbers = model.inner_problem(images)
    assert numbers["loss_s0"] > 0 and numbers["move"] > 0 and model.training  # mode restored
    assert numbers["solved"] == pytest.approx(1 - numbers["loss_sr"] / numbers["loss_s0"])
    with pytest.raises(ValueError, match="RN \\+ SRN"):
        build_model("rn", config).inner_problem(images)


def test_inner_loss_weight_adds_the_share_of_eq_2_the_loop_leaves_to_the_outer_loss(batch):
    from srnlib.sortofclevr.experiment import classification_step

    images, questions, answers = batch
    categories = torch.zeros_like(answers)
    torch.manual_seed(0)
    model = build_model("rn_srn", CFG.replace(refiner=dict(CFG.refiner.__dict__, lr=20.0), inner_loss_weight=0.5,
                                        dropout=0.0))
    refined, left = model.refined_set_and_residual(images)
    # the residual is L(S_r) / L(S_0), from the inner losses computed independently
    S0, features = model._refiner_inputs(*model.objects(images))
    z = model.refiner.embed(features)
    losses = model.refiner(S0, features, return_trajectory=True).losses
    torch.testing.assert_close(left.detach(), losses[-1] / losses[0])
    torch.testing.assert_close(refined.detach(), model.object_set(images).detach())
    assert bool((left < 1).all())  # at lr 20 two steps lower the inner loss
    out = classification_step(model, (images, questions, answers, categories))
    plain = nn.functional.cross_entropy(model.relations(refined, questions), answers)
    torch.testing.assert_close(out["loss"], plain + 0.5 * left.mean())
    assert out["inner_loss_left"] == pytest.approx(left.mean().item())
    # the term trains H_agg and H_embed on its own: the gradient of the residual alone reaches them
    model.zero_grad()
    model.refined_set_and_residual(images)[1].mean().backward()
    untouched = [name for name, p in model.refiner.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert untouched == [] and z.shape == (4, 32)
    # in eval mode, and for the RN (no loop), the step is plain cross-entropy
    model.eval()
    assert "inner_loss_left" not in classification_step(model, (images, questions, answers, categories))
    rn = build_model("rn", CFG.replace(inner_loss_weight=0.5))
    assert rn.inner_loss_weight == 0.0
    assert "inner_loss_left" not in classification_step(rn, (images, questions, answers, categories))
    with pytest.raises(ValueError, match="inner_loss_weight"):
        build_model("rn_srn", CFG.replace(inner_loss_weight=-1.0))
