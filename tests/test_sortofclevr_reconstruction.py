"""Figure 4's decoder on frozen set generators, the lesson's figures, and the Table 2 helpers (notebook 03)."""
import matplotlib
import numpy as np
import pytest
import torch

import srnlib
from srnlib.report import PAPER
from srnlib.sortofclevr import experiment, generate, plots
from srnlib.sortofclevr import reconstruction as recon
from srnlib.config import SortOfClevrConfig
from srnlib.sortofclevr.models import ELEMENT_DIM, build_model, element_dim

matplotlib.use("Agg")
CFG = SortOfClevrConfig.from_profile("smoke").replace(rn_hidden=16, refiner={"embed_dim": 16, "agg_hidden": 16,
                                                                             "steps": 2, "lr": 0.5})


@pytest.fixture(scope="module")
def images():
    return generate(6, seed=4, questions_per_image=2).images


def test_the_decoder_draws_75_pixel_images_from_any_number_of_elements():
    decoder = recon.ImageDecoder(ELEMENT_DIM, (8, 8, 4, 4))
    out = decoder(torch.randn(3, 25, ELEMENT_DIM))
    assert out.reconstruction.shape == (3, 3, 75, 75)
    assert out.element_images.shape == out.ink.shape == (3, 25, 3, 75, 75)
    assert out.weights.shape == (3, 25, 1, 75, 75)
    torch.testing.assert_close(out.weights.sum(dim=1), torch.ones(3, 1, 75, 75))
    torch.testing.assert_close(out.reconstruction, 1 - out.ink.sum(dim=1))  # the white page minus the ink
    assert decoder(torch.randn(2, 7, ELEMENT_DIM)).element_images.shape == (2, 7, 3, 75, 75)


def test_the_decoder_rejects_bad_input():
    with pytest.raises(ValueError, match="4 positive ints"):
        recon.ImageDecoder(ELEMENT_DIM, (8, 8, 4))
    decoder = recon.ImageDecoder(ELEMENT_DIM, (8, 8, 4, 4))
    with pytest.raises(ValueError, match="elements must have shape"):
        decoder(torch.randn(3, 25, ELEMENT_DIM + 1))
    with pytest.raises(ValueError, match="elements must have shape"):
        decoder(torch.randn(25, ELEMENT_DIM))


@pytest.mark.parametrize("kind", ["rn", "rn_srn"])
def test_generator_sets_are_what_the_relational_head_reads(kind, images):
    model = build_model(kind, CFG).eval()
    sets = recon.generator_sets(model, images, batch_size=4)
    assert sets.shape == (6, 25, element_dim(cell_colours=CFG.cell_colours)) and not sets.requires_grad
    torch.testing.assert_close(sets, model.object_set(images).detach())
    with pytest.raises(ValueError, match="images must have shape"):
        recon.generator_sets(model, images[:, :, :64, :64])
    with pytest.raises(TypeError, match="RelationNetwork"):
        recon.generator_sets(torch.nn.Linear(2, 2), images)


@pytest.mark.parametrize("kind", ["rn", "rn_srn"])
def test_training_the_decoder_leaves_the_set_generator_frozen(kind, images, isolated_home):
    model = build_model(kind, CFG)
    model.train()  # its mode is restored afterwards
    before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    cfg = dict(profile="smoke", recon_epochs=2, recon_channels=(8, 8, 4, 4), recon_lr=1e-2, recon_batch_size=3)
    decoder, history = recon.train_decoder(model, kind, cfg, seed=0, images=images)
    assert len(history) == 2 and history[-1]["train_squared_error"] > 0
    assert model.training
    for name, value in model.state_dict().items():  # weights and batch-norm statistics alike
        torch.testing.assert_close(value, before[name], msg=f"{name} changed")
    error = recon.reconstruction_error(model, decoder, images, batch_size=4)
    assert np.isfinite(error) and 0 < error < 3 * 75 * 75
    again, _ = recon.train_decoder(model, kind, cfg, seed=0, images=images)  # cached: loaded, not retrained
    for a, b in zip(decoder.parameters(), again.parameters()):
        torch.testing.assert_close(a, b)


def test_top_elements_rank_by_l1_norm_and_check_k():
    ink = torch.zeros(2, 5, 3, 4, 4)
    ink[0, 3] = 1.0
    ink[0, 1] = 0.5
    ink[1, 0] = -2.0  # the norm, not the sign
    top = recon.top_elements(ink, k=2)
    assert top.shape == (2, 2) and top[0].tolist() == [3, 1] and top[1, 0] == 0
    with pytest.raises(ValueError, match="more than"):
        recon.top_elements(ink, k=6)
    with pytest.raises(ValueError, match="ink must have shape"):
        recon.top_elements(ink[0], k=2)


def test_mean_and_std_over_seeds_and_the_ablation_needs_a_refiner(isolated_home):
    mean, std = experiment.mean_and_std([{"a": 1.0, "b": 4.0}, {"a": 3.0, "b": 4.0}])  # srnlib.results' helper
    assert mean == {"a": 2.0, "b": 4.0} and std == pytest.approx({"a": 2 ** 0.5, "b": 0.0})  # sample std
    test_set = srnlib.sortofclevr.SortOfClevrDataset(4, seed=2, questions_per_image=6)
    with pytest.raises(ValueError, match="refiner"):
        experiment.ablation_zero_steps(build_model("rn", CFG), test_set)
    scores = experiment.ablation_zero_steps(build_model("rn_srn", CFG), test_set)
    assert set(scores) == {"furthest", "closest", "count"}


def test_image_batches_give_every_question_of_an_image_and_train_the_same_loss(images):
    data = srnlib.sortofclevr.SortOfClevrDataset(3, seed=1, questions_per_image=4, cache=False)
    by_image = experiment.ImageQuestions(data)
    image, questions, answers, categories = by_image[2]
    assert len(by_image) == 3 and questions.shape == (4, 11) and answers.shape == categories.shape == (4,)
    torch.testing.assert_close(image, data[8][0])
    model = build_model("rn", CFG).eval()  # no dropout: the same examples give the same loss either way
    grouped = [torch.stack([by_image[i][j] for i in range(3)]) for j in range(4)]
    flat = [torch.stack([data[i][j] for i in range(12)]) for j in range(4)]
    torch.testing.assert_close(experiment.classification_step(model, grouped)["loss"],
                               experiment.classification_step(model, flat)["loss"])
    with pytest.raises(TypeError, match="SortOfClevrDataset"):
        experiment.ImageQuestions([1, 2, 3])


def test_the_lesson_figures_draw(images):
    data = generate(1, seed=0, questions_per_image=4)
    figure = plots.image_with_questions(data.images[0], data.questions[0], data.answers[0],
                                        predicted={"rn": data.answers[0]})
    assert len(figure.axes) == 2
    with pytest.raises(ValueError, match="same length"):
        plots.image_with_questions(data.images[0], data.questions[0], data.answers[0][:2])
    row = {key: 50.0 for key in plots.TABLE2_KEYS}
    figure = plots.table2_bars({"rn": row, "rn_srn": row}, {"rn": row, "rn_srn": row}, PAPER["table2"])
    assert len(figure.axes) == 1
    degrees = np.arange(0, 360, 45)
    figure = plots.rotation_flips(images[:1].expand(8, -1, -1, -1), degrees, {"rn": [2] * 8, "rn_srn": [3] * 8}, 2, 4)
    assert len(figure.axes) == 5
    with pytest.raises(ValueError, match="same length"):
        plots.rotation_flips(images[:1].expand(8, -1, -1, -1), degrees, {"rn": [2] * 7}, 2)
    ink = torch.rand(25, 3, 75, 75) * 0.1
    figure = plots.figure4(images[0], {"rn": (images[0], ink, torch.arange(9), 12.0)})
    assert len(figure.axes) == 11
    with pytest.raises(ValueError, match="image must be"):
        plots.figure4(images[0, :, :10], {})
    matplotlib.pyplot.close("all")
