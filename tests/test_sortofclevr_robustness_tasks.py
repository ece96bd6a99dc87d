"""The Synthetic task's configuration is chosen as the paper says: the easy table both models are surest of."""
import numpy as np
import pytest
import torch
from torch import nn

import srnlib
from srnlib.sortofclevr import render, robustness_tasks, sample_easy, shift_inside


class SureOf(nn.Module):
    """Gives the right furthest-object answer of candidate i the probability ``sure[i]`` (the candidates as
    ``synthetic_tables`` renders them, recognised by their pixels); the other nine answers share the rest."""

    def __init__(self, candidates, sure):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        images = render(shift_inside(candidates.objects).astype(np.float32))
        self.rows = {image.numpy().tobytes(): (int(a), float(p))
                     for image, a, p in zip(images, candidates.answers, sure)}

    def forward(self, images, questions, inner_steps=None):
        probabilities = torch.empty(len(images), 10)
        for i, image in enumerate(images):
            right, p = self.rows[image.numpy().tobytes()]
            probabilities[i] = (1 - p) / 9
            probabilities[i, right] = p
        return probabilities.log()


def test_synthetic_tables_picks_the_table_the_less_sure_model_is_surest_of():
    cfg = dict(srnlib.profiles.get("sortofclevr", "smoke"), robust_positions=7)
    n = robustness_tasks.SYNTHETIC_CANDIDATES
    candidates = sample_easy(n, seed=4)
    rising, falling = np.linspace(0.2, 0.99, n), np.linspace(0.99, 0.2, n)
    falling[3] = 0.999  # model B's favourite is not where the smaller of the two is largest
    expected = int(np.argmax(np.minimum(rising, falling)))
    assert expected not in (3, n - 1)
    task = robustness_tasks.synthetic_tables(cfg, 4, [SureOf(candidates, rising), SureOf(candidates, falling)])
    assert task.confidence == pytest.approx(min(rising[expected], falling[expected]), abs=1e-6)
    assert (task.colour, task.answer) == (candidates.colours[expected], candidates.answers[expected])
    assert task.tables.shape == (7, 6, 4)
    # every position is the chosen table moved: same colours and shapes, same pairwise distances
    chosen = candidates.objects[expected]
    assert (task.tables[:, :, [0, 3]] == chosen[None, :, [0, 3]]).all()
    distances = np.linalg.norm(task.tables[:, :, None, 1:3] - task.tables[:, None, :, 1:3], axis=-1)
    np.testing.assert_allclose(distances, np.broadcast_to(
        np.linalg.norm(chosen[:, None, 1:3] - chosen[None, :, 1:3], axis=-1), distances.shape), atol=1e-4)


def test_synthetic_tables_without_models_is_the_first_easy_table_and_refuses_a_bare_model():
    cfg = dict(srnlib.profiles.get("sortofclevr", "smoke"), robust_positions=5)
    task = robustness_tasks.synthetic_tables(cfg, 2)
    first = sample_easy(1, seed=2)
    assert task.confidence is None and (task.colour, task.answer) == (first.colours[0], first.answers[0])
    assert (task.tables[:, :, 3] == first.objects[0][None, :, 3]).all()
    # models equally sure of every candidate leave the first one, the very table chosen without models
    candidates = sample_easy(robustness_tasks.SYNTHETIC_CANDIDATES, seed=2)
    tie = robustness_tasks.synthetic_tables(cfg, 2, [SureOf(candidates, np.full(len(candidates.answers), 0.7))])
    assert tie.confidence == pytest.approx(0.7, abs=1e-6) and np.array_equal(tie.tables, task.tables)
    with pytest.raises(TypeError, match="models must be a sequence"):
        robustness_tasks.synthetic_tables(cfg, 2, SureOf(first, [0.5]))
