import numpy as np
import pytest
import torch
from torch import nn

import srnlib
from srnlib.config import SortOfClevrConfig
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


def test_state_vectors_encode_colour_shape_and_scaled_position():
    table = np.array([[[k, 5 + 12 * k, 69 - 12 * k, k % 2] for k in range(6)]], dtype=np.float32)
    states = srnlib.sortofclevr.models.state_vectors(table)
    assert states.shape == (1, 6, srnlib.sortofclevr.models.STATE_DIM)
    torch.testing.assert_close(states[0, :, :6], torch.eye(6))
    assert states[0, :, 6:8].argmax(1).tolist() == [0, 1, 0, 1, 0, 1]
    assert states[0, 0, 8:].tolist() == [-1.0, 1.0] and states[0, 5, 8].item() == pytest.approx(65 / 32 - 37 / 32)


def test_the_learning_rate_warms_up_per_update_and_decays_to_zero():
    assert experiment.warmup_cosine(0, 100, 1000) == pytest.approx(0.01 * 1.0)
    assert experiment.warmup_cosine(99, 100, 1000) == pytest.approx(0.5 * (1 + np.cos(np.pi * 99 / 1000)))
    assert experiment.warmup_cosine(500, 0, 1000) == pytest.approx(0.5)
    assert experiment.warmup_cosine(1000, 100, 1000) == pytest.approx(0.0)
    weight = nn.Parameter(torch.ones(1))
    optimizer = torch.optim.Adam([weight], lr=1e-2)
    seen = []
    step = experiment.scheduled(lambda model, batch: seen.append(optimizer.param_groups[0]["lr"]) or
                                (weight ** 2).sum(), optimizer, warmup_steps=4, total_steps=8)
    for _ in range(3):
        loss = step(None, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    resumed = torch.optim.Adam([weight], lr=1.0)
    resumed.load_state_dict(optimizer.state_dict())  # the update count and base_lr come back with the saved state
    assert experiment.optimizer_steps(resumed) == 3
    experiment.scheduled(lambda model, batch: seen.append(resumed.param_groups[0]["lr"]), resumed, 4, 8)(None, None)
    assert seen == pytest.approx([1e-2 * experiment.warmup_cosine(t, 4, 8) for t in range(4)])


def test_recomputed_batch_norm_statistics_make_evaluation_normalise_like_training():
    data = SortOfClevrDataset(8, seed=3, questions_per_image=2, cache=False)
    model = srnlib.sortofclevr.models.build_model("rn", SortOfClevrConfig.from_profile("smoke"))
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm2d):
            norm.running_mean.fill_(5.0)  # statistics that trail the weights, as after fast updates
    images = srnlib.sortofclevr.data.labels_to_images(data.labels)
    model.train()
    with torch.no_grad():
        expected = model.objects(images)[0]
    model.eval()
    assert not torch.allclose(model.objects(images)[0], expected, atol=1e-2)
    experiment.recompute_batch_norm(model, data, batch_images=8)
    assert not model.training
    # one batch of all 8 images: evaluation now uses that batch's statistics (running_var is unbiased, hence atol)
    torch.testing.assert_close(model.objects(images)[0], expected, atol=0.05, rtol=0.05)


def test_the_state_description_head_learns_a_tiny_task_in_seconds(isolated_home):
    cfg = dict(srnlib.profiles.get("sortofclevr", "smoke"), train_images=400, val_images=100, questions_per_image=2,
               batch_size=32, rn_hidden=64, lr=3e-3, warmup_steps=10, dropout=0.0)
    model, history = experiment.load_or_train_state(srnlib.profiles.Settings(cfg), epochs=8)
    assert len(history) == 8 and {"val_non_relational", "val_relational"} <= set(history[0])
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_the_conv_stem_can_learn_slower_than_the_head():
    cfg = {"lr": 1e-3}
    model = srnlib.sortofclevr.models.build_model("rn", SortOfClevrConfig.from_profile("smoke").replace(rn_hidden=8))
    assert len(experiment.parameter_groups(model, cfg)) == 1
    groups = experiment.parameter_groups(model, dict(cfg, stem_lr=0.1))
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 1e-3])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.objects.parameters()}


class FixedLogits(nn.Module):
    """A stand-in model: the same learnable logits (B, q, 10) whatever the image."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, images, questions):
        return self.logits


def test_the_curriculum_counts_only_non_relational_questions_until_its_step():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 2, 10, generator=generator)
    answers = torch.randint(0, 10, (4, 2), generator=generator)
    categories = torch.tensor([[0, 3], [1, 4], [5, 2], [3, 4]])  # 0-2 non-relational, 3-5 relational
    batch = (torch.zeros(4, 3, 75, 75), torch.zeros(4, 2, 11), answers, categories)
    model = FixedLogits(logits)
    every = nn.functional.cross_entropy(logits.reshape(-1, 10), answers.reshape(-1), reduction="none")
    asked = categories.reshape(-1) < 3
    full = experiment.classification_step(model, batch)["loss"]
    first = experiment.classification_step(model, batch, non_relational_only=True)["loss"]
    torch.testing.assert_close(full, every.mean())
    torch.testing.assert_close(first, every[asked].mean())
    relational_rows, non_relational_rows = (~asked).nonzero().flatten(), asked.nonzero().flatten()
    # updates 0 and 1 see the non-relational questions only: the relational logits get no gradient until update 2
    moved = logits_moved_by_curriculum(logits, batch, updates=2, non_relational_steps=2)
    assert (moved[relational_rows] == 0).all() and (moved[non_relational_rows] > 0).all()
    moved = logits_moved_by_curriculum(logits, batch, updates=3, non_relational_steps=2)
    assert (moved[relational_rows] > 0).all()  # update 2 trained them


def logits_moved_by_curriculum(logits: torch.Tensor, batch, updates: int, non_relational_steps: int) -> torch.Tensor:
    """How far each question's logits move in ``updates`` Adam updates of the curriculum: (B * q,)."""
    model = FixedLogits(logits)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    step = experiment.curriculum(experiment.classification_step, optimizer, non_relational_steps)
    for _ in range(updates):
        loss = step(model, batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (model.logits.detach().reshape(-1, 10) - logits.reshape(-1, 10)).abs().sum(dim=1)


def test_the_colour_blind_row_is_invariant_to_the_robustness_tasks_turns(isolated_home):
    from srnlib.sortofclevr.data import colour_blind_answers
    cfg = dict(srnlib.profiles.get("sortofclevr", "smoke"), robust_images=60, robust_angles=24, robust_positions=10)
    data = SortOfClevrDataset(40, seed=3, questions_per_image=4)
    row = experiment.colour_blind_row(cfg, data, seed=0)
    assert set(row) == set(srnlib.paper.TABLE2_KEYS)
    accuracy = experiment.colour_blind_accuracy_by_category(data)
    assert all(row[key] == accuracy[key] for key in ("non_relational", "relational", "furthest", "closest", "count"))
    # one configuration moved about: its distances, so the colour-blind answer, are the same at every position
    assert row["robust_synthetic"] in (0.0, 100.0)
    # turning keeps every distance, so scoring at every angle equals scoring the unturned tables once
    easy = sample_easy(cfg["robust_images"], seed=1)
    once = colour_blind_answers(easy.objects, experiment.furthest_questions(easy.colours).numpy())
    assert row["robust_dataset"] == pytest.approx(100 * np.mean(once == easy.answers))
