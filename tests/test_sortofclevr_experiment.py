import numpy as np
import pytest
import torch
from torch import nn

import srnlib
from srnlib.sortofclevr import SortOfClevrDataset, answer, experiment, sample_easy


class Oracle(nn.Module):
    """Answers every question right by reading the object table the image was rendered from (a lookup)."""

    def __init__(self, tables, questions):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.answers = {(self.key(img), tuple(q.tolist())): a for img, q, a in zip(*self.expand(tables, questions))}

    @staticmethod
    def key(image):
        return hash(image.numpy().tobytes())

    @staticmethod
    def expand(tables, questions):
        images = srnlib.sortofclevr.render(tables)
        return images, torch.as_tensor(questions), torch.as_tensor(answer(tables, np.asarray(questions)))

    def forward(self, images, questions, inner_steps=None):
        logits = torch.zeros(len(images), 10)
        for i, (image, question) in enumerate(zip(images, questions)):
            logits[i, self.answers.get((self.key(image), tuple(question.tolist())), 0)] = 1
        return logits


def test_accuracy_by_category_scores_an_oracle_at_100_and_a_constant_by_hand(isolated_home):
    data = SortOfClevrDataset(6, seed=3, questions_per_image=4)
    tables = np.repeat(data.objects, 4, axis=0)
    oracle = Oracle(tables, data.questions.reshape(-1, 11))
    scores = experiment.accuracy_by_category(oracle, data, batch_size=8)
    assert all(value == 100.0 for key, value in scores.items() if not np.isnan(value)), scores

    class AlwaysYes(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, images, questions, inner_steps=None):
            return torch.nn.functional.one_hot(torch.zeros(len(images), dtype=torch.long), 10).float()

    relational = data.categories >= 3
    expected = 100 * (data.answers[relational] == 0).float().mean().item()
    assert experiment.accuracy_by_category(AlwaysYes(), data)["relational"] == pytest.approx(expected)


def test_robustness_counts_only_tables_right_at_every_angle():
    easy = sample_easy(3, seed=0)

    class RightUnlessTurned(nn.Module):  # correct at the first angle only
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))
            self.calls = 0

        def forward(self, images, questions, inner_steps=None):
            truth = torch.as_tensor(easy.answers).repeat_interleave(4)[self.calls:self.calls + len(images)]
            wrong = torch.arange(self.calls, self.calls + len(images)) % 4 != 0
            self.calls += len(images)
            return torch.nn.functional.one_hot(torch.where(wrong, 5 - truth, truth), 10).float()

    answers = experiment.answers_under_rotation(RightUnlessTurned(), easy.objects, easy.colours, angles=4)
    assert answers.shape == (3, 4)
    assert (answers[:, 0] == torch.as_tensor(easy.answers)).all() and (answers[:, 1:] != answers[:, :1]).all()


def test_smoke_training_evaluates_both_models_and_keeps_the_best_epoch(isolated_home):
    cfg = srnlib.profiles.get("sortofclevr", "smoke")
    _, _, test_set = experiment.datasets(cfg)
    for kind in experiment.KINDS:
        model, history = experiment.load_or_train(kind, cfg)
        assert len(history) == cfg.epochs and "val_relational" in history[0]
        row = experiment.evaluate(model, cfg, test_set)
        assert set(row) == set(experiment.REPORTED) | {"robust_synthetic", "robust_dataset"}
        assert all(0 <= value <= 100 for value in row.values() if not np.isnan(value))
    with pytest.raises(ValueError, match="kind"):
        experiment.load_or_train("cnn", cfg)
