"""The colour probe of the RN's conv stem, checked on hand-made scenes and features."""
import numpy as np
import pytest
import torch

from srnlib.sortofclevr import perception
from srnlib.sortofclevr.data import SortOfClevrDataset, labels_to_images, render


def scenes(n: int, seed: int = 0) -> np.ndarray:
    """n tables (n, 6, 4) with one object of each colour at a random cell centre (distinct cells)."""
    rng = np.random.default_rng(seed)
    tables = np.zeros((n, 6, 4), dtype=np.float32)
    for i in range(n):
        cells = rng.choice(25, size=6, replace=False)
        tables[i, :, 0] = np.arange(6)
        tables[i, :, 1] = 7.5 + 15 * (cells % 5)
        tables[i, :, 2] = 7.5 + 15 * (cells // 5)
        tables[i, :, 3] = rng.integers(0, 2, size=6)
    return tables


def test_cell_colours_puts_each_object_in_the_cell_of_its_centre():
    table = np.zeros((1, 6, 4), dtype=np.float32)
    table[0, :, 0] = np.arange(6)
    table[0, :, 1] = [5, 69, 20, 37, 50, 5]   # columns 0, 4, 1, 2, 3, 0
    table[0, :, 2] = [5, 5, 35, 37, 69, 69]   # rows    0, 0, 2, 2, 4, 4
    labels = perception.cell_colours(table)[0]
    expected = torch.full((25,), perception.EMPTY)
    for colour, cell in enumerate([0, 4, 11, 12, 23, 20]):
        expected[cell] = colour
    assert labels.tolist() == expected.tolist()


def test_the_probe_reads_colour_from_mean_rgb_and_not_from_noise():
    tables = scenes(200)
    images = render(tables)
    rgb = perception.cell_rgb_features(images)
    assert rgb.shape == (200, 25, 3)
    assert perception.cell_colour_probe(rgb, tables) > 0.95  # six colours, linearly separable by mean colour
    noise = torch.randn(200, 25, 8, generator=torch.Generator().manual_seed(0))
    assert perception.cell_colour_probe(noise, tables) < 0.35  # chance is 1 in 6
    # colour-blind features (brightness only) lose most of it
    brightness = rgb.mean(dim=2, keepdim=True)
    assert perception.cell_colour_probe(brightness, tables) < perception.cell_colour_probe(rgb, tables) - 0.2


def test_the_probe_rejects_bad_shapes():
    tables = scenes(10)
    with pytest.raises(ValueError, match="features must have shape"):
        perception.cell_colour_probe(torch.zeros(10, 24, 3), tables)
    with pytest.raises(ValueError, match="at least 2 images"):
        perception.cell_colour_probe(torch.zeros(1, 25, 3), tables[:1])
    with pytest.raises(ValueError, match="images must have shape"):
        perception.cell_rgb_features(torch.zeros(2, 75, 75))


def test_stem_colour_accuracy_runs_on_a_model(isolated_home):
    from srnlib import profiles
    from srnlib.config import SortOfClevrConfig
    from srnlib.sortofclevr.models import build_model
    cfg = profiles.get("sortofclevr", "smoke")
    model = build_model("rn", SortOfClevrConfig.from_settings(cfg))
    dataset = SortOfClevrDataset(40, seed=5, questions_per_image=2)
    accuracy = perception.stem_colour_accuracy(model, dataset)
    assert 0.0 <= accuracy <= 1.0
    assert 0.0 <= perception.stem_colour_accuracy(model, dataset, images=30) <= 1.0  # the first 30 of 40 only
    with pytest.raises(TypeError):
        perception.stem_colour_accuracy(model, labels_to_images(dataset.labels[:2]))


def test_neighbourhood_features_gather_the_three_by_three_cells_around_each_cell():
    features = torch.arange(25.0).reshape(1, 25, 1)  # cell k holds the number k
    around = perception.neighbourhood_features(features)
    assert around.shape == (1, 25, 9)
    assert around[0, 12].tolist() == [6, 7, 8, 11, 12, 13, 16, 17, 18]  # the centre cell's 3x3 block, row-major
    assert around[0, 0].tolist() == [0, 0, 0, 0, 0, 1, 0, 5, 6]  # the corner: zeros beyond the grid
    with pytest.raises(ValueError, match="features must have shape"):
        perception.neighbourhood_features(torch.zeros(1, 24, 3))
