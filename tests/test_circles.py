"""The Circles experiment: generator invariants (checked independently of the renderer), cache integrity, the
decomposition metrics on hand-made element images, and the models' shapes, parameters and permutation behaviour."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from srnlib import metrics
from srnlib.circles import data, experiment, interpolation, models, plots
from srnlib.config import CirclesConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def sample():
    return data.generate(400, seed=7)


def test_shapes_range_and_counts(sample):
    images, objects = sample
    assert images.shape == (400, 3, 64, 64) and images.dtype == torch.float32
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    counts = np.array([len(o) for o in objects])
    assert counts.min() >= 0 and counts.max() <= 10
    assert len(set(counts.tolist())) > 5  # the counts really vary over 0..10
    assert float(images[:, 2].abs().sum()) == 0.0  # only red and green


def test_count_bounds_respected():
    _, objects = data.generate(100, seed=3, min_circles=2, max_circles=4)
    assert all(2 <= len(o) <= 4 for o in objects)


def test_circles_inside_with_valid_radius_and_colour(sample):
    table = np.concatenate(sample[1])
    x, y, r, colour = table.T
    assert np.all((r >= 1) & (r <= 11) & (r == np.round(r)))
    assert np.all((x - r >= 0) & (x + r <= 63) & (y - r >= 0) & (y + r <= 63))
    assert set(np.unique(colour).tolist()) == {0.0, 1.0}


def test_no_same_colour_overlap(sample):
    for objects in sample[1]:  # independent pairwise check from the object tables
        for a, b in itertools.combinations(objects, 2):
            if a[3] == b[3]:
                assert np.hypot(a[0] - b[0], a[1] - b[1]) >= a[2] + b[2] - 1e-4


def test_pixels_match_an_independent_per_circle_check(sample):
    images, objects = sample
    rows, cols = np.mgrid[0:64, 0:64]
    for index in range(12):
        expected = np.zeros((3, 64, 64))
        for x, y, r, colour in objects[index]:
            expected[int(colour)][(cols - x) ** 2 + (rows - y) ** 2 <= r ** 2] = 1.0
        np.testing.assert_array_equal(images[index].numpy(), expected)


def test_determinism():
    first, objects_first = data.generate(50, seed=11)
    second, objects_second = data.generate(50, seed=11)
    third, _ = data.generate(50, seed=12)
    assert torch.equal(first, second)
    assert all(np.array_equal(a, b) for a, b in zip(objects_first, objects_second))
    assert not torch.equal(first, third)


def test_render_hand_placed_objects():
    images = data.render([np.array([[10.0, 20.0, 3.0, 0.0]]), np.zeros((0, 4))])
    assert images.shape == (2, 3, 64, 64)
    assert images[0, 0, 20, 10] == 1 and images[0, 0, 20, 14] == 0 and images[1].sum() == 0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="min_circles"):
        data.generate(4, min_circles=5, max_circles=2)
    with pytest.raises(TypeError, match="n"):
        data.generate(2.5)


def test_dataset_cache_roundtrip_and_corruption(tmp_path):
    fresh = data.CirclesDataset(64, seed=5, cache_dir=tmp_path)
    assert fresh.path.exists()
    loaded = data.CirclesDataset(64, seed=5, cache_dir=tmp_path)
    assert torch.equal(fresh.images, loaded.images) and torch.equal(fresh.counts, loaded.counts)
    image, count = loaded[3]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and int(count) == len(loaded.objects[3])

    raw = bytearray(fresh.path.read_bytes())  # flip bytes in the middle: a corrupt cache is regenerated
    middle = slice(len(raw) // 2, len(raw) // 2 + 64)
    raw[middle] = bytes(byte ^ 0xFF for byte in raw[middle])
    fresh.path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="regenerating"):
        repaired = data.CirclesDataset(64, seed=5, cache_dir=tmp_path)
    assert torch.equal(repaired.images, fresh.images)

    other = data.cache_path(64, 6, 0, 10, tmp_path)  # a cache of other parameters under this name: not used
    other.write_bytes(fresh.path.read_bytes())
    with pytest.warns(UserWarning, match="does not match"):
        mismatched = data.CirclesDataset(64, seed=6, cache_dir=tmp_path)
    assert not torch.equal(mismatched.images, fresh.images)


def _element_images(active_per_image):
    """Hand-made element images (B, 4, 3, 8, 8): image b has ``active_per_image[b]`` bright elements (0.5),
    one faint element (0.05, below the 0.1 threshold), the rest zero."""
    images = torch.zeros(len(active_per_image), 4, 3, 8, 8)
    for b, active in enumerate(active_per_image):
        images[b, :active, 0, 2, 2] = 0.5
        if active < 4:
            images[b, active, 1] = 0.05
    return images


def test_decomposition_success_on_hand_made_elements():
    elements = _element_images([1, 2, 3, 0])
    assert metrics.active_elements(elements).tolist() == [1, 2, 3, 0]
    success = metrics.decomposition_success(elements, torch.tensor([1, 3, 3, 0]))
    assert success.tolist() == [True, False, True, True]
    table = metrics.success_by_count(success, torch.tensor([1, 3, 3, 0]), values=range(1, 4))
    assert table["1"] == 100.0 and table["3"] == 50.0 and np.isnan(table["2"])


def test_foreground_ari_on_hand_made_segmentation():
    masks = torch.zeros(1, 2, 8, 8, dtype=torch.bool)
    masks[0, 0, :, :4], masks[0, 1, :, 4:] = True, True
    perfect = torch.zeros(1, 3, 3, 8, 8)
    perfect[0, 2, 0, :, :4], perfect[0, 0, 1, :, 4:] = 1.0, 1.0  # element ids permuted: still perfect
    merged = torch.zeros(1, 3, 3, 8, 8)
    merged[0, 1, 0] = 1.0
    assert metrics.foreground_ari(perfect, masks).item() == pytest.approx(1.0)
    assert metrics.foreground_ari(merged, masks).item() == pytest.approx(0.0)


def test_adjusted_rand_index_matches_scikit_learn():
    from sklearn.metrics import adjusted_rand_score
    generator = torch.Generator().manual_seed(0)
    true = torch.randint(0, 4, (6, 40), generator=generator)
    predicted = torch.randint(0, 3, (6, 40), generator=generator)
    ours = metrics.adjusted_rand_index(true, predicted)
    theirs = [adjusted_rand_score(t.numpy(), p.numpy()) for t, p in zip(true, predicted)]
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5)


SMALL = CirclesConfig.from_profile("smoke").replace(n=5, d=6, encoder_channels=(8, 8, 8), group_channels=2,
                                                   decoder_channels=(8, 8, 4), decoder_start=8,
                                                   refiner={"embed_dim": 12, "agg_hidden": 16})


@pytest.mark.parametrize("attention, weight_channels", [("rgb", 3), ("logit", 1)])
def test_model_shapes_and_softmax(attention, weight_channels):
    torch.manual_seed(0)
    images, _ = data.generate(3, seed=1)
    config = SMALL.replace(attention=attention, refiner={"steps": 2, "lr": 1.0})
    for model in (models.BaselineAutoencoder(config), models.SRNAutoencoder(config)):
        out = model(images)
        assert out.reconstruction.shape == (3, 3, 64, 64)
        assert out.element_images.shape == (3, 5, 3, 64, 64)
        assert out.weights.shape == (3, 5, weight_channels, 64, 64)
        assert out.set.shape == out.initial_set.shape == (3, 5, 6)
        torch.testing.assert_close(out.weights.sum(dim=1), torch.ones(3, weight_channels, 64, 64))
        torch.testing.assert_close(out.element_images.sum(dim=1).clamp(0, 1), out.reconstruction)
        assert 0 <= float(out.reconstruction.detach().min()) and float(out.reconstruction.detach().max()) <= 1
    with pytest.raises(ValueError, match="images"):
        model(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="attention"):
        models.SetDecoder(6, (8, 8, 4), 8, attention="alpha")
    with pytest.raises(ValueError, match="elements"):
        models.SetDecoder(6, (8, 8, 4), 8)(torch.zeros(2, 5, 7))


def test_rgb_attention_lets_the_brightest_element_own_a_pixel_channel():
    """With attention="rgb" an element's share of a channel is softmax(its output) * sigmoid(its output): an element
    far brighter than the others draws the pixel alone, and equal elements split it evenly."""
    decoded = torch.full((1, 3, 3, 4, 4), -6.0)
    decoded[0, 1, 0] = 6.0  # element 1 is bright red everywhere
    reconstruction, element_images, weights = models.mix_elements(decoded, "rgb")
    assert float(element_images[0, 1, 0].min()) > 0.99  # element 1 owns the red channel
    assert float(element_images[0, [0, 2], 0].max()) < 1e-4
    torch.testing.assert_close(weights[0, :, 1], torch.full((3, 4, 4), 1 / 3))  # green: an even split
    assert float(reconstruction[0, 1].max()) < 0.01 and float(reconstruction[0, 0].min()) > 0.99
    decoded[0, :, 0] = 6.0  # three bright red elements: the sum is clamped to 1, and each one is "active"
    reconstruction, element_images, _ = models.mix_elements(decoded, "rgb")
    assert float(reconstruction[0, 0].max()) <= 1.0 and float(element_images[0, :, 0].min()) > 0.3
    logit = torch.zeros(1, 2, 4, 4, 4)
    logit[0, 0, 3], logit[0, 0, :3] = 10.0, 10.0  # element 0 claims every pixel and is white
    reconstruction, _, weights = models.mix_elements(logit, "logit")
    assert weights.shape == (1, 2, 1, 4, 4) and float(reconstruction.min()) > 0.99
    with pytest.raises(ValueError, match="decoded"):
        models.mix_elements(logit, "rgb")


def test_srn_parameters_are_baseline_plus_srn_parts():
    torch.manual_seed(0)
    baseline = models.BaselineAutoencoder(SMALL)
    srn = models.SRNAutoencoder(SMALL)
    extra = sum(p.numel() for p in srn.srn_parameters())
    assert plots.count_parameters(srn) == plots.count_parameters(baseline) + extra
    baseline_names = {name for name, _ in baseline.named_parameters()}
    assert {name for name, _ in srn.named_parameters()} - baseline_names == \
        {name for name, _ in srn.named_parameters() if name.startswith("refiner.")}


def test_decoder_is_equivariant_to_permuting_elements():
    torch.manual_seed(0)
    decoder = models.SetDecoder(6, (8, 8, 4), 8)  # training mode: batch statistics over all 2 x 5 elements
    elements = torch.randn(2, 5, 6)
    permutation = torch.tensor([3, 0, 4, 1, 2])
    reconstruction, element_images, weights = decoder(elements)
    permuted_reconstruction, permuted_images, _ = decoder(elements[:, permutation])
    torch.testing.assert_close(permuted_reconstruction, reconstruction, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(permuted_images, element_images[:, permutation])


def test_srn_refinement_is_equivariant_to_permuting_the_initial_set():
    torch.manual_seed(0)
    srn = models.SRNAutoencoder(SMALL.replace(refiner={"steps": 3, "lr": 5.0})).eval()
    initial = torch.randn(2, 5, 6)
    features = torch.randn(2, srn.generator.feature_dim)
    permutation = torch.tensor([4, 2, 0, 1, 3])
    refined = srn.refiner(initial, features)
    torch.testing.assert_close(srn.refiner(initial[:, permutation], features), refined[:, permutation], atol=1e-5,
                               rtol=1e-4)
    assert not torch.allclose(refined, initial)  # the inner loop moves the elements


def test_build_model_and_responsibility_helpers():
    cfg = SMALL.replace(refiner={"steps": 1, "lr": 1.0})
    assert isinstance(models.build_model("srn", cfg), models.SRNAutoencoder)
    with pytest.raises(ValueError, match="kind"):
        models.build_model("other", cfg)
    with pytest.raises(TypeError, match="CirclesConfig"):
        models.build_model("srn", {"n": 5})
    tables = interpolation.crossing_circles(4)
    assert tables.shape == (4, 2, 4) and tables[0, 0, 0] < tables[-1, 0, 0]
    element_images = torch.zeros(4, 3, 3, 64, 64)
    element_images[:, 2] = data.render_table(tables[:, :1])  # element 2 draws the red circle
    element_images[:, 0] = data.render_table(tables[:, 1:])  # element 0 the green one
    assert interpolation.responsibility(element_images, tables).tolist() == [[2, 0]] * 4
    grid = interpolation.single_circle_grid(3)
    assert grid.shape == (18, 1, 4)
    smooth = interpolation.latent_smoothness(torch.as_tensor(grid[:, 0, :2]), grid)
    assert smooth == pytest.approx(1.0)


def test_refinement_stats_measure_how_far_the_inner_loop_moves_the_set():
    cfg = SMALL.replace(refiner={"steps": 3, "lr": 1.0})
    torch.manual_seed(0)
    model = models.build_model("srn", cfg)
    images, _ = data.generate(4, seed=0, max_circles=3)
    stats = experiment.refinement_stats(model, images)
    with torch.no_grad():
        initial, features = model.generator(images)
        refined = model.refiner(initial, features.flatten(1))  # eval mode: the same loop without a graph
    assert stats["movement"] == pytest.approx(float((refined - initial).norm(dim=-1).mean()), rel=1e-5)
    assert stats["element_norm"] == pytest.approx(float(initial.norm(dim=-1).mean()), rel=1e-5)
    assert stats["inner_loss_after"] < stats["inner_loss_before"]  # gradient steps lower the inner loss
    assert stats["solved"] == pytest.approx(1 - stats["inner_loss_after"] / stats["inner_loss_before"])
    assert stats["z_sq"] == pytest.approx(model.refiner.embed(features.flatten(1)).pow(2).sum(1).mean().item())
    assert experiment.refinement_stats(model, images, inner_steps=1)["movement"] < stats["movement"]
    assert experiment.refinement_stats(model, images, inner_steps=0)["movement"] == 0
    assert model.refiner.steps == 3  # asking for other steps never changes the model
    with pytest.raises(TypeError, match="refiner"):
        experiment.refinement_stats(models.build_model("baseline", cfg), images)


def test_success_by_inner_steps_reevaluates_with_each_number_of_steps_and_leaves_the_model_alone(monkeypatch):
    cfg = SMALL.replace(refiner={"steps": 3, "lr": 1.0})
    torch.manual_seed(0)
    model = models.build_model("srn", cfg).eval()
    test_set = data.CirclesDataset(12, seed=3, min_circles=1, max_circles=3, cache=False)
    table = experiment.success_by_inner_steps(model, test_set, steps=(0, 3))
    assert set(table) == {"0", "3"} and model.refiner.steps == 3
    assert table["3"] == pytest.approx(experiment.evaluate(model, test_set)["table1"], nan_ok=True)
    seen = []
    evaluate = experiment.evaluate
    monkeypatch.setattr(experiment, "evaluate", lambda m, t, inner_steps: seen.append(inner_steps) or evaluate(
        m, t, inner_steps))
    experiment.success_by_inner_steps(model, test_set, steps=(0, 7, 1))
    assert seen == [0, 7, 1] and model.refiner.steps == 3
    with pytest.raises(ValueError, match="steps"):
        experiment.success_by_inner_steps(model, test_set, steps=(-1,))
    with pytest.raises(TypeError, match="refiner"):
        experiment.success_by_inner_steps(models.build_model("baseline", cfg), test_set)


def test_training_seconds_sums_the_epochs_of_a_history():
    history = [{"epoch": 1, "train_loss": 0.1, "seconds": 2.5}, {"epoch": 2, "train_loss": 0.05, "seconds": 4.0}]
    assert experiment.training_seconds(history) == pytest.approx(6.5)
    for bad in ([], [{"epoch": 1}]):
        with pytest.raises(ValueError, match="history"):
            experiment.training_seconds(bad)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_profile_builds_both_models_with_its_set_size(profile):
    cfg = CirclesConfig.from_profile(profile)
    baseline, srn = models.build_model("baseline", cfg), models.build_model("srn", cfg)
    # the SRN's own steps are those its training ends with (paper: 10, then 20 from epoch 20 of 100)
    assert srn.refiner.steps == (cfg.more_steps if cfg.epochs > cfg.more_steps_epoch else cfg.refiner.steps)
    assert srn.refiner.loop.lr == cfg.refiner.lr and srn.refiner.embed.out_features == cfg.refiner.embed_dim
    assert srn.decoder.attention == baseline.decoder.attention == cfg.attention
    extra = sum(p.numel() for p in srn.srn_parameters())
    assert plots.count_parameters(srn) == plots.count_parameters(baseline) + extra
    if profile != "paper":  # the paper's decoder is too big for a quick CPU forward pass here
        images, _ = data.generate(2, seed=0)
        out = srn.eval()(images)
        assert out.set.shape == (2, cfg.n, cfg.d) and out.element_images.shape == (2, cfg.n, 3, 64, 64)


def _one_red_circle_decoded(n: int = 3):
    """Decoder outputs (1, n, 3, 64, 64) where element 0 draws one red circle at (20, 30), radius 6, and the
    others draw nothing; with the circle's table (1, 1, 4)."""
    table = np.array([[[20.0, 30.0, 6.0, data.RED]]], dtype=np.float32)
    decoded = torch.full((1, n, 3, 64, 64), -8.0)
    decoded[0, 0, data.RED] = torch.where(data.circle_masks(table)[0, 0], 8.0, -8.0)
    return decoded, table


def test_eq4_lets_two_elements_share_a_circle_at_no_reconstruction_cost_but_table1_counts_both():
    """Why over-counting is not trained away: duplicating the element that draws a circle leaves Eq. 4's
    reconstruction (and so the loss) unchanged, while the decomposition metric now sees two active elements."""
    decoded, table = _one_red_circle_decoded()
    image = data.render_table(table)
    alone, alone_elements, _ = models.mix_elements(decoded, "rgb")
    decoded[0, 1] = decoded[0, 0]  # element 1 now draws the same circle
    shared, shared_elements, _ = models.mix_elements(decoded, "rgb")
    torch.testing.assert_close(shared, alone, atol=1e-3, rtol=0)
    assert float((alone - image).abs().max()) < 1e-3
    assert metrics.active_elements(alone_elements).tolist() == [1]
    assert metrics.active_elements(shared_elements).tolist() == [2]
    assert metrics.decomposition_success(alone_elements, torch.tensor([1])).tolist() == [True]
    assert metrics.decomposition_success(shared_elements, torch.tensor([1])).tolist() == [False]
    torch.testing.assert_close(experiment.ink_shares(alone_elements, table), torch.tensor([[[1.0, 0.0, 0.0]]]),
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(experiment.ink_shares(shared_elements, table), torch.tensor([[[0.5, 0.5, 0.0]]]),
                               atol=1e-3, rtol=0)


def test_ink_shares_use_each_circles_own_colour_and_mark_padding_nan():
    decoded, table = _one_red_circle_decoded()
    green = np.array([[[45.0, 30.0, 6.0, data.GREEN]]], dtype=np.float32)
    decoded[0, 2, data.GREEN] = torch.where(data.circle_masks(green)[0, 0], 8.0, -8.0)  # element 2: a green circle
    padded = np.concatenate([table, green, np.zeros((1, 1, 4), np.float32)], axis=1)  # red, green, padding
    _, element_images, _ = models.mix_elements(decoded, "rgb")
    shares = experiment.ink_shares(element_images, padded)
    torch.testing.assert_close(shares[0, :2], torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), atol=1e-3, rtol=0)
    assert bool(torch.isnan(shares[0, 2]).all())
    with pytest.raises(ValueError, match="element_images"):
        experiment.ink_shares(element_images[:, :, :2], padded)
    with pytest.raises(ValueError, match="tables"):
        experiment.ink_shares(element_images, np.zeros((2, 1, 4), np.float32))


def test_circle_sharing_reports_miscounts_and_shared_circles(monkeypatch):
    """Three hand-made test images of one red circle: drawn by one element, shared by two, and not drawn."""
    decoded, table = _one_red_circle_decoded()
    shared = decoded.clone()
    shared[0, 1] = shared[0, 0]
    empty = torch.full_like(decoded, -8.0)
    _, element_images, _ = models.mix_elements(torch.cat([decoded, shared, empty]), "rgb")
    test_set = data.CirclesDataset(3, seed=0, min_circles=1, max_circles=1, cache=False)
    test_set.table, test_set.counts = np.repeat(table, 3, axis=0), torch.ones(3, dtype=torch.long)
    test_set.images = data.render_table(test_set.table).to(torch.uint8)
    fake = models.Decomposition
    monkeypatch.setattr(experiment, "decompose",
                        lambda model, images: fake(element_images.sum(1), element_images, element_images, None, None))
    stats = experiment.circle_sharing(None, test_set)
    nan = float("nan")  # the circle has radius 6: there is no small circle
    assert stats == pytest.approx({"over_counted": 100 / 3, "under_counted": 100 / 3, "shared_circles": 100 / 3,
                                   "small_circles_drawn": nan, "other_circles_drawn": 100 / 3,
                                   "small_circles_reconstructed": nan, "other_circles_reconstructed": 200 / 3},
                                  nan_ok=True)
    with pytest.raises(ValueError, match="share"):
        experiment.circle_sharing(None, test_set, share=0.7)


def test_circle_sharing_tells_small_circles_apart(monkeypatch):
    """A radius-2 circle one element draws whole and a radius-7 circle nobody draws: small 100 %, other 0 %."""
    table = np.array([[[10.0, 10.0, 2.0, data.RED], [40.0, 40.0, 7.0, data.GREEN]]], dtype=np.float32)
    decoded = torch.full((1, 3, 3, 64, 64), -8.0)
    decoded[0, 0, data.RED] = torch.where(data.circle_masks(table)[0, 0], 8.0, -8.0)
    _, element_images, _ = models.mix_elements(decoded, "rgb")
    test_set = data.CirclesDataset(1, seed=0, min_circles=2, max_circles=2, cache=False)
    test_set.table, test_set.counts = table, torch.full((1,), 2, dtype=torch.long)
    test_set.images = data.render_table(table).to(torch.uint8)
    monkeypatch.setattr(experiment, "decompose", lambda model, images: models.Decomposition(
        element_images.sum(1), element_images, element_images, None, None))
    stats = experiment.circle_sharing(None, test_set)
    assert stats["small_circles_drawn"] == 100.0 and stats["other_circles_drawn"] == 0.0
    assert stats["small_circles_reconstructed"] == 100.0 and stats["other_circles_reconstructed"] == 0.0
    assert stats["under_counted"] == 100.0 and stats["shared_circles"] == 0.0


def test_circle_sharing_tells_a_small_circle_two_elements_draw_from_one_nobody_draws(monkeypatch):
    """Image 0: a radius-1 circle drawn half by each of two elements (reconstructed, not drawn by one);
    image 1: a radius-2 circle nobody draws (neither)."""
    table = np.array([[[10.0, 10.0, 1.0, data.RED]], [[40.0, 40.0, 2.0, data.GREEN]]], dtype=np.float32)
    decoded = torch.full((2, 3, 3, 64, 64), -8.0)
    for element in (0, 1):
        decoded[0, element, data.RED] = torch.where(data.circle_masks(table)[0, 0], 8.0, -8.0)
    _, element_images, _ = models.mix_elements(decoded, "rgb")
    test_set = data.CirclesDataset(2, seed=0, min_circles=1, max_circles=1, cache=False)
    test_set.table, test_set.counts = table, torch.ones(2, dtype=torch.long)
    test_set.images = data.render_table(table).to(torch.uint8)
    monkeypatch.setattr(experiment, "decompose", lambda model, images: models.Decomposition(
        element_images[:len(images)].sum(1), element_images[:len(images)], element_images, None, None))
    stats = experiment.circle_sharing(None, test_set)
    assert stats["small_circles_drawn"] == 0.0 and stats["small_circles_reconstructed"] == 50.0
    assert stats["shared_circles"] == 50.0 and math.isnan(stats["other_circles_reconstructed"])


def test_evaluate_splits_table1_by_the_smallest_circle_of_each_image(monkeypatch):
    """Image 0 holds a radius-2 circle its element draws (decomposed), image 1 a radius-6 circle nobody draws (not):
    100 % with small circles, 0 % without, at 1 circle; one image without a small circle."""
    table = np.array([[[10.0, 10.0, 2.0, data.RED]], [[30.0, 30.0, 6.0, data.GREEN]]], dtype=np.float32)
    decoded = torch.full((2, 3, 3, 64, 64), -8.0)
    decoded[0, 0, data.RED] = torch.where(data.circle_masks(table[:1])[0, 0], 8.0, -8.0)
    _, element_images, _ = models.mix_elements(decoded, "rgb")
    test_set = data.CirclesDataset(2, seed=0, min_circles=1, max_circles=1, cache=False)
    test_set.table, test_set.counts = table, torch.ones(2, dtype=torch.long)
    monkeypatch.setattr(experiment, "decompose", lambda model, images, inner_steps=None: models.Decomposition(
        element_images.sum(1), element_images, element_images, None, None))
    test_set.images = data.render_table(table).to(torch.uint8)
    split = experiment.evaluate(None, test_set)["table1_by_small_circles"]
    assert split["with_small"]["1"] == 100.0 and split["without_small"]["1"] == 0.0
    assert split["images_without_small"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}
    assert math.isnan(split["with_small"]["2"])


@pytest.mark.parametrize("s0_gradient", [True, False])
def test_s0_gradient_decides_whether_the_outer_loss_trains_the_set_head(s0_gradient):
    """s0_gradient=False is the authors' released training: the set head (the generator's projection) gets no
    gradient, while H_embed, H_agg and the trunk (through z) still do; True trains the set head too."""
    torch.manual_seed(0)
    srn = models.SRNAutoencoder(SMALL.replace(refiner={"steps": 2, "lr": 1.0}, s0_gradient=s0_gradient))
    images, _ = data.generate(3, seed=2)
    srn(images).reconstruction.square().mean().backward()
    head = srn.generator.project.weight.grad
    assert (head is not None and float(head.abs().sum()) > 0) == s0_gradient
    for name in ("refiner.embed.weight", "refiner.loop.set_encoder.pool.weight"):
        assert float(dict(srn.named_parameters())[name].grad.abs().sum()) > 0, name
    assert float(srn.generator.trunk[0].weight.grad.abs().sum()) > 0  # the trunk learns through z either way
    with pytest.raises(TypeError, match="s0_gradient"):
        models.SRNAutoencoder(SMALL.replace(s0_gradient=1))


def test_foreground_weight_weighs_the_error_at_lit_pixels_only():
    """A hand-made case: a model that draws nothing, a target with 2 lit pixels (one red, one yellow) of 64 x 64 x 3
    values. Plain MSE counts every missed value once; a weight of 5 counts the lit pixels' values 5 times (all three
    channels of a lit pixel, also the dark ones), the background's once."""
    images = torch.zeros(1, 3, 64, 64)
    images[0, 0, 3, 4] = 1.0  # red
    images[0, :2, 10, 10] = 1.0  # yellow: red and green

    class DrawsNothing(torch.nn.Module):
        def forward(self, images, inner_steps=None):
            return models.Decomposition(*[None] * 5)._replace(reconstruction=torch.zeros_like(images))

    step = experiment.reconstruction_step
    plain = float(step(DrawsNothing(), (images, None))["loss"])
    assert plain == pytest.approx(3 / (3 * 64 * 64))
    assert float(step(DrawsNothing(), (images, None), foreground_weight=1.0)["loss"]) == plain
    assert float(step(DrawsNothing(), (images, None), foreground_weight=5.0)["loss"]) == pytest.approx(5 * plain)
    perfect = step(DrawsNothing(), (torch.zeros(1, 3, 64, 64), None), foreground_weight=5.0)["loss"]
    assert float(perfect) == 0.0
    assert CirclesConfig.from_profile("smoke").foreground_weight == 1.0  # no profile sets it: plain MSE
    for bad, error in ((0.0, ValueError), (-2.0, ValueError), (float("nan"), ValueError), ("5", TypeError),
                       (True, TypeError)):
        with pytest.raises(error, match="foreground_weight"):
            step(DrawsNothing(), (images, None), foreground_weight=bad)


def test_paper_profile_follows_the_authors_detached_initial_set():
    from srnlib import profiles

    assert profiles.get("circles", "paper")["s0_gradient"] is False
    assert models.build_model("srn", CirclesConfig.from_profile("paper")).s0_gradient is False


def test_broadcast_decoder_shapes_equivariance_and_a_circle_is_one_linear_function_of_its_coordinates():
    torch.manual_seed(0)
    for attention, weight_channels in (("rgb", 3), ("logit", 1)):
        model = models.BaselineAutoencoder(SMALL.replace(decoder_channels=(8,), attention=attention,
                                                         decoder="broadcast"))
        out = model(data.generate(2, seed=3)[0])
        assert out.element_images.shape == (2, 5, 3, 64, 64) and out.weights.shape == (2, 5, weight_channels, 64, 64)
        torch.testing.assert_close(out.weights.sum(dim=1), torch.ones(2, weight_channels, 64, 64))
    decoder = models.BroadcastDecoder(6, hidden=8)
    elements, permutation = torch.randn(2, 5, 6), torch.tensor([2, 4, 0, 1, 3])
    _, images, _ = decoder(elements)
    torch.testing.assert_close(decoder(elements[:, permutation])[1], images[:, permutation])
    # the inside of the circle (a, b, r) in pixel coordinates [-1, 1] is x^2 + y^2 - 2 a x - 2 b y + a^2 + b^2 < r^2:
    # one linear function of the decoder's coordinate features (x, y, x^2 + y^2)
    a, b, r = 0.3, -0.2, 0.25
    x, y, squared = decoder.coordinates
    inside = (squared - 2 * a * x - 2 * b * y + a * a + b * b - r * r) < 0
    table = np.array([[[(a + 1) * 31.5, (b + 1) * 31.5, r * 31.5, data.RED]]], dtype=np.float32)
    agreement = (inside == data.circle_masks(table)[0, 0]).float().mean()
    assert float(agreement) > 0.99
    with pytest.raises(ValueError, match="decoder"):
        models.BaselineAutoencoder(SMALL.replace(decoder="mlp"))
    with pytest.raises(ValueError, match="elements"):
        decoder(torch.zeros(2, 5, 7))


def test_every_shipped_circles_checkpoint_loads_into_the_model_its_profile_builds():
    """A refactor that renames a parameter, or a settings change that orphans a shipped run, fails here."""
    from srnlib import paths, profiles, shipped

    for path, manifest in shipped.experiment_checkpoints("circles", paths.repo_root() / "shipped"):
        cfg = profiles.get("circles", manifest["profile"])
        assert profiles.settings_hash(dict(cfg)) == manifest["settings_hash"], f"{path.name}: settings changed"
        model = models.build_model(manifest["name"], CirclesConfig.from_settings(cfg))
        model.load_state_dict(shipped.load_shipped(path, cfg)["model"])  # strict: every name and shape fits


def test_a_baseline_trains_the_same_weights_whatever_the_settings_it_never_reads(isolated_home):
    """experiment.UNREAD_SETTINGS lets a shipped baseline be re-keyed after a refiner change: check it is true."""
    from srnlib import profiles

    cfg = {**profiles.get("circles", "smoke"), "train_images": 64}
    changed = {**cfg, "refiner": {**cfg["refiner"], "embed_dim": 24, "steps": 3}, "s0_gradient": False,
               "more_steps": 4, "more_steps_epoch": 2}
    assert set(experiment.UNREAD_SETTINGS["baseline"]) == {key for key in cfg if cfg[key] != changed[key]}

    def weights(settings):
        model, _ = experiment.load_or_train("baseline", settings, seed=0)
        return model.state_dict()

    reference, unread_changed = weights(cfg), weights(changed)
    assert all(torch.equal(value, unread_changed[name]) for name, value in reference.items())
    other_lr = weights({**cfg, "lr": 1e-3})  # a setting it reads does change the weights: the check can fail
    assert not all(torch.equal(value, other_lr[name]) for name, value in reference.items())


@pytest.mark.parametrize("kind", ["baseline", "srn"])
def test_fit_decoded_set_finds_a_set_the_decoder_draws_an_image_from_and_leaves_the_weights_alone(kind):
    """Known answer: images the model's own decoder draws from another set. Fitting the decoded set alone brings the
    error far below that of the set the model makes; no weight changes or gets a gradient."""
    torch.manual_seed(0)
    model = models.build_model(kind, SMALL.replace(refiner={"steps": 2, "lr": 1.0})).eval()
    with torch.no_grad():  # an untrained decoder draws nearly the same image from any set: make it sharper
        model.decoder.deconv[-1].weight.mul_(30)
    images, _ = data.generate(4, seed=3, max_circles=3)
    with torch.no_grad():
        made, _ = model.make_set(images)
        target = made + made.std() * torch.randn(made.shape, generator=torch.Generator().manual_seed(1))
        drawn = model.decoder(target)[0]
    before = {name: p.clone() for name, p in model.state_dict().items()}
    fitted, returned = experiment.fit_decoded_set(model, drawn, steps=200, lr=0.05)
    with torch.no_grad():
        torch.testing.assert_close(returned, model.make_set(drawn)[0])  # the start: the set the model makes of them
        error_made = float((model.decoder(returned)[0] - drawn).square().mean())
        error_fitted = float((model.decoder(fitted)[0] - drawn).square().mean())
    assert error_fitted < error_made / 20
    assert all(torch.equal(p, before[name]) for name, p in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="steps"):
        experiment.fit_decoded_set(model, drawn, steps=0)
    with pytest.raises(ValueError, match="lr"):
        experiment.fit_decoded_set(model, drawn, lr=0.0)
    with pytest.raises(TypeError, match="lr"):
        experiment.fit_decoded_set(model, drawn, lr="0.1")


def test_circles_reconstructed_counts_small_and_other_circles_the_elements_draw_together():
    """A radius-2 circle split between two elements (reconstructed), a radius-7 circle nobody draws, and an image
    without small circles whose radius-5 circle one element draws: small 100 %, other 50 %; NaN without a kind."""
    table = np.array([[[10.0, 10.0, 2.0, data.RED], [40.0, 40.0, 7.0, data.GREEN]],
                      [[30.0, 30.0, 5.0, data.GREEN], [0.0, 0.0, 0.0, 0.0]]], dtype=np.float32)
    masks = data.circle_masks(table)
    decoded = torch.full((2, 3, 3, 64, 64), -8.0)
    decoded[0, 0, data.RED] = decoded[0, 1, data.RED] = torch.where(masks[0, 0], 8.0, -8.0)
    decoded[1, 2, data.GREEN] = torch.where(masks[1, 0], 8.0, -8.0)
    _, element_images, _ = models.mix_elements(decoded, "rgb")
    assert experiment.circles_reconstructed(element_images, table) == pytest.approx({"small": 100.0, "other": 50.0})
    only_large = experiment.circles_reconstructed(element_images[1:], table[1:])
    assert math.isnan(only_large["small"]) and only_large["other"] == 100.0


def test_training_curves_draw_each_run_of_the_seed_per_count_and_the_line_at_twice_the_shipped_baseline():
    import matplotlib.pyplot as plt

    def run(kind, seed, differs, shipped, finals):
        scored = [{"epoch": epoch, "trained": [value * epoch / 20 for value in finals]} for epoch in (10, 20)]
        return {"kind": kind, "seed": seed, "differs": differs, "shipped": shipped, "scored": scored}

    runs = [run("baseline", 0, "the profile's", True, [20, 15, 14, 13, 16]),
            run("srn", 0, "the profile's", True, [72, 58, 44, 37, 31]),
            run("srn", 0, "refiner.agg_hidden=256", False, [70, 52, 39, 29, 30]),
            run("srn", 1, "the profile's", True, [60, 50, 40, 30, 20]),
            dict(run("srn", 0, "n=4", False, [1] * 5), scored=[])]
    figure = plots.training_curves(runs, seed=0)
    axes = figure.axes
    assert [axis.get_title() for axis in axes] == ["2 circles", "3 circles", "4 circles", "5 circles"]
    five = axes[3]
    drawn = {line.get_label(): line for line in five.get_lines()}
    assert set(drawn) == {"Baseline: shipped", "SRN: shipped", "SRN: refiner.agg_hidden=256",
                          "2x the shipped baseline"}  # seed 1 and the unscored run left out
    assert list(drawn["SRN: shipped"].get_ydata()) == [15.5, 31.0]
    assert list(drawn["2x the shipped baseline"].get_ydata()) == [32.0, 32.0]
    assert drawn["Baseline: shipped"].get_linestyle() == "--" and drawn["SRN: shipped"].get_linestyle() == "-"
    plt.close(figure)
    with pytest.raises(ValueError, match="seed 2"):
        plots.training_curves(runs, seed=2)
