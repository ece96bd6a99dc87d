"""Training and evaluation behind the Sort-of-CLEVR lesson: Table 2, the 0-step ablation and the robustness tasks.

Every function takes the settings ``cfg`` (a dict with the keys named in each docstring). Shapes:
    images (B, 3, 75, 75); questions (B, 11) one-hot; answers (B,) indices into ANSWER_NAMES;
    object tables (N, 6, 4) = [colour, x, y, shape].

The robustness tasks (Section 3.1) live in ``robustness_tasks`` and are importable from here; ``evaluate`` scores
both for Table 2.

Also here: ``ImageQuestions`` (image-major batches for cheaper CPU training), the paper's 0-step ablation
(``ablation_zero_steps``) and ``mean_and_std`` over seeds (re-exported from ``srnlib.results``, the one helper
all notebooks pool seeds with). Figure 4 lives in ``reconstruction``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..paper import sortofclevr_claims as claims  # noqa: F401 (Table 2's claims, one bool per part; notebook 03)
from ..results import mean_and_std  # noqa: F401 (re-exported for notebook 03)
from ..config import SortOfClevrConfig
from ..train import checkpoint_path, default_device, fit, seed_everything
from .data import (CATEGORY_NAMES, NON_RELATIONAL_SUBTYPES, SortOfClevrDataset, colour_blind_answers,
                   labels_to_images, sample_easy)
from .models import N_ANSWERS, StateRelationNetwork, build_model, grid_state_vectors, predict, state_vectors
from .robustness_tasks import (ROBUSTNESS_TASKS, SYNTHETIC_CANDIDATES, SyntheticTask,  # noqa: F401 (re-exported)
                               answers_under_rotation, furthest_questions, right_under_rotation, rotations,
                               synthetic_tables)

EXPERIMENT = "sortofclevr"
KINDS = ("rn", "rn_srn")
REPORTED = ("non_relational", "relational", "furthest", "closest", "count")


def datasets(cfg) -> tuple[SortOfClevrDataset, SortOfClevrDataset, SortOfClevrDataset]:
    """(train, validation, test) of ``train_images`` / ``val_images`` / ``test_images`` images, disjoint seeds."""
    q = cfg["questions_per_image"]
    return (SortOfClevrDataset(cfg["train_images"], seed=0, questions_per_image=q),
            SortOfClevrDataset(cfg["val_images"], seed=1, questions_per_image=q),
            SortOfClevrDataset(cfg["test_images"], seed=2, questions_per_image=q))


class ImageQuestions(Dataset):
    """A Sort-of-CLEVR dataset read image by image: item i = (image (3, 75, 75), its questions (q, 11), answers
    (q,), categories (q,)). Training on it (``share_images`` in the settings) runs the conv stem and the refiner
    once per image for all of its q questions instead of once per question; the questions and answers are the same."""

    def __init__(self, dataset: SortOfClevrDataset):
        if not isinstance(dataset, SortOfClevrDataset):
            raise TypeError(f"dataset must be a SortOfClevrDataset, got {type(dataset).__name__}")
        self.dataset = dataset

    def __len__(self) -> int:
        return self.dataset.labels.shape[0]

    def __getitem__(self, index):
        data = self.dataset
        return data.image(index), data.questions[index], data.answers[index], data.categories[index]


def state_inputs(dataset: SortOfClevrDataset, grid: bool = False, colour: str = "one-hot") -> torch.Tensor:
    """What a ``StateRelationNetwork`` reads for every scene of ``dataset``: the six objects (n, 6, 10) of
    ``state_vectors``, or with ``grid=True`` the 25 cells (n, 25, 10) of ``grid_state_vectors`` (``colour``: their
    colour encoding)."""
    return grid_state_vectors(dataset.objects, colour) if grid else state_vectors(dataset.objects)


class StateQuestions(Dataset):
    """A Sort-of-CLEVR dataset as state descriptions, image by image: item i = (the scene's objects as vectors
    (6, 10) from ``state_vectors``, its questions (q, 11), answers (q,), categories (q,)). No pixels: the input of
    ``StateRelationNetwork``, the quick check that the relational head and the data can learn. ``grid=True``: the
    25 cells of ``grid_state_vectors`` (25, 10) instead, the objects at the image RN's cell resolution (``colour``:
    its colour encoding)."""

    def __init__(self, dataset: SortOfClevrDataset, grid: bool = False, colour: str = "one-hot"):
        if not isinstance(dataset, SortOfClevrDataset):
            raise TypeError(f"dataset must be a SortOfClevrDataset, got {type(dataset).__name__}")
        self.dataset = dataset
        self.states = state_inputs(dataset, grid, colour)

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, index):
        data = self.dataset
        return self.states[index], data.questions[index], data.answers[index], data.categories[index]


def classification_step(model: nn.Module, batch, non_relational_only: bool = False) -> dict:
    """Cross-entropy on a batch of (images, questions, answers, categories): questions (B, 11) with answers (B,),
    or (B, q, 11) with answers (B, q) from ``ImageQuestions``. ``non_relational_only``: the loss counts only the
    non-relational questions (the curriculum's first phase; see ``curriculum``)."""
    images, questions, answers, categories = batch
    weight = getattr(model, "inner_loss_weight", 0.0) if model.training else 0.0
    if weight:  # an RN + SRN whose outer loss also asks its loop to solve Eq. 2 (``inner_loss_weight``)
        refined, left = model.refined_set_and_residual(images)
        logits = model.relations(refined, questions).reshape(-1, N_ANSWERS)
    else:
        logits = model(images, questions).reshape(-1, N_ANSWERS)
    answers = answers.reshape(-1)
    losses = nn.functional.cross_entropy(logits, answers, reduction="none")
    if non_relational_only:
        asked = (categories.reshape(-1) < len(NON_RELATIONAL_SUBTYPES)).float()
        loss = (losses * asked).sum() / asked.sum().clamp(min=1.0)
    else:
        loss = losses.mean()
    metrics = {"accuracy": (logits.argmax(dim=1) == answers).float().mean()}
    if weight:
        metrics["inner_loss_left"] = left.mean().detach()
        loss = loss + weight * left.mean()
    return {"loss": loss, **metrics}


def curriculum(step_fn, optimizer: torch.optim.Optimizer, non_relational_steps: int):
    """``step_fn`` that trains on the non-relational questions only for the first ``non_relational_steps`` updates
    (they name an object by colour and ask about it alone, so they cannot be answered without the colours the
    relational questions also need), then on every question."""
    def step(model, batch):
        return step_fn(model, batch, non_relational_only=optimizer_steps(optimizer) < non_relational_steps)
    return step


def accuracy_by_category(model: nn.Module, dataset: SortOfClevrDataset, batch_size: int = 256,
                         inner_steps: int | None = None) -> dict[str, float]:
    """Percent correct on ``dataset`` for non_relational, relational and each of the six question subtypes."""
    n, q = dataset.answers.shape
    per_chunk = max(1, batch_size // q)  # images per batch; each is asked all of its q questions
    predicted = []
    for start in range(0, n, per_chunk):
        images = labels_to_images(dataset.labels[start:start + per_chunk]).repeat_interleave(q, dim=0)
        questions = dataset.questions[start:start + per_chunk].reshape(-1, dataset.questions.shape[-1])
        predicted.append(predict(model, images, questions, batch_size, inner_steps))
    return _scores(torch.cat(predicted) == dataset.answers.reshape(-1), dataset.categories.reshape(-1))


def _scores(correct: torch.Tensor, categories: torch.Tensor) -> dict[str, float]:
    """Percent correct per category, non_relational and relational, from flat bools and category indices."""
    correct = correct.float()
    scores = {name: float(100 * correct[categories == index].mean()) for index, name in enumerate(CATEGORY_NAMES)}
    scores["non_relational"] = float(100 * correct[categories < 3].mean())
    scores["relational"] = float(100 * correct[categories >= 3].mean())
    return scores


@torch.no_grad()
def state_accuracy_by_category(model: nn.Module, dataset: SortOfClevrDataset, batch_size: int = 256,
                               grid: bool = False, colour: str = "one-hot") -> dict[str, float]:
    """``accuracy_by_category`` for a ``StateRelationNetwork``: it reads the scenes' object tables, not images
    (``grid=True``: as the 25 cells of ``grid_state_vectors``)."""
    model.eval()
    device = next(model.parameters()).device
    states = state_inputs(dataset, grid, colour)
    predicted = torch.cat([model(states[i:i + batch_size].to(device), dataset.questions[i:i + batch_size].to(device))
                           .argmax(dim=-1).cpu() for i in range(0, len(states), batch_size)])
    return _scores(predicted.reshape(-1) == dataset.answers.reshape(-1), dataset.categories.reshape(-1))


def colour_blind_accuracy_by_category(dataset: SortOfClevrDataset) -> dict[str, float]:
    """``accuracy_by_category`` of the best colour-blind answerer (``colour_blind_answers``: it sees the objects'
    positions and shapes, not their colours) on ``dataset``: the level an RN reaches by learning the scenes without
    learning which object a question names (on quick's validation set: shape 70, horizontal 56, vertical 64,
    closest 72, furthest 79, count 82 %)."""
    if not isinstance(dataset, SortOfClevrDataset):
        raise TypeError(f"dataset must be a SortOfClevrDataset, got {type(dataset).__name__}")
    predicted = torch.from_numpy(colour_blind_answers(dataset.objects, dataset.questions.numpy()))
    return _scores(predicted.reshape(-1) == dataset.answers.reshape(-1), dataset.categories.reshape(-1))


def optimizer_steps(optimizer: torch.optim.Optimizer) -> int:
    """How many updates ``optimizer`` has made: Adam keeps the count in its state, which checkpoints save, so a
    schedule read from it continues where a resumed run stopped."""
    return max((int(state["step"]) for state in optimizer.state.values() if "step" in state), default=0)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate factor at update ``step`` (0-based): linear warm-up from 1 / warmup_steps to 1 over the
    first ``warmup_steps`` updates, times a cosine from 1 to 0 over all ``total_steps``."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    return warm * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


def scheduled(step_fn, optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    """``step_fn`` with every parameter group's learning rate set to its ``base_lr`` (its initial ``lr``) times
    ``warmup_cosine(...)`` before every update (per update, not per epoch: the warm-up lasts a few hundred)."""
    for group in optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])

    def step(model, batch):
        factor = warmup_cosine(optimizer_steps(optimizer), warmup_steps, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        return step_fn(model, batch)
    return step


def parameter_groups(model: nn.Module, cfg) -> list[dict]:
    """Adam's parameter groups: the conv stem (``model.objects``, when the model has one) at ``lr * stem_lr``
    (``stem_lr`` optional, default 1), everything else at ``lr``. Every conv layer is followed by batch norm, so
    its output ignores the scale of its weights and Adam's fixed-size steps turn it by about lr / |weight| per
    update: with PyTorch's initial weights (~0.04) that is several percent per update at lr 1e-3."""
    stem = getattr(model, "objects", None)
    if not isinstance(stem, nn.Module) or cfg.get("stem_lr", 1.0) == 1.0:
        return [{"params": list(model.parameters()), "lr": cfg["lr"]}]
    own = {id(p) for p in stem.parameters()}
    return [{"params": list(stem.parameters()), "lr": cfg["lr"] * cfg["stem_lr"]},
            {"params": [p for p in model.parameters() if id(p) not in own], "lr": cfg["lr"]}]


def train_model(model: nn.Module, cfg, train_set, evaluate, seed: int = 0, epochs: int | None = None,
                checkpoint="auto", name: str = "model", retrain: bool = False, device=None,
                select_best: str | None = "val_relational") -> list[dict]:
    """Train ``model`` on ``train_set`` (a ``SortOfClevrDataset``, or an image-major ``ImageQuestions`` /
    ``StateQuestions``) with Adam: ``lr`` (the conv stem's times ``stem_lr``, see ``parameter_groups``) with a linear warm-up over ``warmup_steps`` updates (optional, default 0)
    and a cosine decay to 0 over all updates; ``epochs`` (default ``cfg["epochs"]``) of batches of ``batch_size``
    questions (``batch_size // questions_per_image`` scenes for image-major data). ``evaluate(model) -> dict`` runs
    after every epoch; ``select_best`` keeps the best epoch. checkpoint: a path, None (none) or "auto" (cached by
    profile, seed, settings and ``name``). Returns fit's history."""
    epochs = cfg["epochs"] if epochs is None else epochs
    batch_size = cfg["batch_size"]
    if isinstance(train_set, (ImageQuestions, StateQuestions)):
        batch_size = max(1, batch_size // cfg["questions_per_image"])
    if checkpoint == "auto":
        checkpoint = checkpoint_path(EXPERIMENT, cfg["profile"], seed, cfg, name)
    optimizer = torch.optim.Adam(parameter_groups(model, cfg), lr=cfg["lr"])
    total_steps = epochs * math.ceil(len(train_set) / batch_size)
    step = classification_step
    if cfg.get("non_relational_steps", 0) > 0:  # optional: a sweep setting, not a profile's
        step = curriculum(step, optimizer, cfg["non_relational_steps"])
    step = scheduled(step, optimizer, cfg.get("warmup_steps", 0), total_steps)
    return fit(model, optimizer, train_set, step, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
               checkpoint=checkpoint, evaluate=evaluate, retrain=retrain, desc=name, select_best=select_best,
               settings=cfg)


@torch.no_grad()
def recompute_batch_norm(model: nn.Module, dataset: SortOfClevrDataset, batch_images: int, images: int = 600) -> None:
    """Set the conv stem's batch-norm running statistics to the average over the first ``images`` training images,
    in batches of ``batch_images`` (as in training), at the current weights ("precise BN"); then evaluation mode
    normalises as training did.

    Why: in training every batch is normalised by its own statistics, and the running averages (momentum 0.1) trail
    weights that Adam keeps moving. The RN sums g over 625 pairs, so a small shift in the cells' features moves the
    answer logits a lot: with the running averages, evaluation answered 0-20 % of validation questions right while
    the same weights with recomputed statistics answered 55-60 % (RN, width 64, Adam 3e-3, 2,000-2,500 updates)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training, momenta = model.training, [m.momentum for m in norms]
    device = next(model.parameters()).device
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over the batches below
    model.train()
    count = min(images, dataset.labels.shape[0])
    for start in range(0, count - batch_images + 1, batch_images):
        model.objects(labels_to_images(dataset.labels[start:start + batch_images]).to(device))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.train(was_training)


def load_or_train(kind: str, cfg, seed: int = 0, retrain: bool = False, device=None, checkpoint="auto"):
    """The ``kind`` ("rn" / "rn_srn") model, trained as ``train_model`` says and the best validation epoch
    (relational accuracy) kept; cached by (profile, seed, settings). -> (model, history).

    ``batch_size`` counts questions. With ``share_images`` (optional, default False) a batch holds
    ``batch_size // questions_per_image`` images with all their questions (``ImageQuestions``), which saves the
    conv stem's and the refiner's work on a CPU; otherwise (image, question) pairs are shuffled independently."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    train_set, val_set, _ = datasets(cfg)
    shared = cfg.get("share_images", False)
    batch_images = max(1, cfg["batch_size"] // cfg["questions_per_image"]) if shared else cfg["batch_size"]
    seed_everything(seed)
    model = build_model(kind, SortOfClevrConfig.from_settings(cfg)).to(default_device(device))

    def evaluate(trained):
        recompute_batch_norm(trained, train_set, batch_images)
        return {f"val_{k}": v for k, v in accuracy_by_category(trained, val_set).items()}

    history = train_model(model, cfg, ImageQuestions(train_set) if shared else train_set, evaluate, seed=seed,
                          checkpoint=checkpoint, name=kind, retrain=retrain, device=device)
    return model, history


def load_or_train_state(cfg, seed: int = 0, epochs: int | None = None, retrain: bool = False, device=None,
                        checkpoint=None):
    """The state-description check: ``StateRelationNetwork`` (the RN head of width ``rn_hidden``, reading the true
    objects as vectors) trained on the same questions with the same optimiser settings; validation accuracy after
    every epoch. Default: no checkpoint (it takes seconds to minutes). -> (model, history)."""
    train_set, val_set, _ = datasets(cfg)
    seed_everything(seed)
    model = StateRelationNetwork(SortOfClevrConfig.from_settings(cfg))
    model = model.to(default_device(device))
    history = train_model(model, cfg, StateQuestions(train_set),
                          lambda m: {f"val_{k}": v for k, v in state_accuracy_by_category(m, val_set).items()},
                          seed=seed, epochs=epochs, checkpoint=checkpoint, name="state_rn", retrain=retrain,
                          device=device)
    return model, history


def colour_blind_row(cfg, test_set: SortOfClevrDataset, seed: int = 0,
                     synthetic: SyntheticTask | None = None) -> dict[str, float]:
    """Table 2's row (``evaluate``'s keys) for the best colour-blind answerer (``colour_blind_answers``): it sees
    every object's position and shape but not which one the question names. Its robustness is scored like a
    model's, on the rotated tables (no pixels): it must be right at every angle. Rotating and moving a scene keep
    its distances, so its furthest-object answer never changes, and it is "robust" wherever that one answer is
    right: robustness says little about a model until the model is above this row. ``synthetic``: the Synthetic
    task the models were scored on (default ``synthetic_tables(cfg, seed)``)."""
    scores = {key: value for key, value in colour_blind_accuracy_by_category(test_set).items() if key in REPORTED}

    def robust(tables: np.ndarray, colours: np.ndarray, truth: np.ndarray) -> float:
        rotated = rotations(tables, cfg["robust_angles"])  # (N, angles, 6, 4)
        questions = furthest_questions(np.repeat(colours, cfg["robust_angles"])).numpy()
        blind = colour_blind_answers(rotated.reshape(-1, *rotated.shape[-2:]), questions)
        return float(100 * (blind.reshape(len(tables), -1) == truth[:, None]).all(axis=1).mean())

    tables, colour, truth, _ = synthetic if synthetic is not None else synthetic_tables(cfg, seed)
    scores["robust_synthetic"] = robust(tables, np.full(len(tables), colour), np.full(len(tables), truth))
    easy = sample_easy(cfg["robust_images"], seed=seed + 1)
    scores["robust_dataset"] = robust(easy.objects, np.asarray(easy.colours), np.asarray(easy.answers))
    return scores


def evaluate(model: nn.Module, cfg, test_set: SortOfClevrDataset, seed: int = 0,
             synthetic: SyntheticTask | None = None) -> dict[str, float]:
    """Table 2's row for one model: accuracy per category plus both robustness scores, in percent (robust: right at
    all ``robust_angles`` rotations). ``synthetic``: the Synthetic task, e.g. ``synthetic_tables(cfg, seed, [rn,
    rn_srn])`` as the paper chooses it (default: ``synthetic_tables(cfg, seed)``, chosen by no model)."""
    scores = {key: value for key, value in accuracy_by_category(model, test_set).items() if key in REPORTED}
    for task in ROBUSTNESS_TASKS:
        right = right_under_rotation(model, cfg, task, seed, synthetic=synthetic)  # (configurations, angles)
        scores[f"robust_{task}"] = float(100 * right.all(dim=1).float().mean())
    return scores


def ablation_zero_steps(model: nn.Module, test_set: SortOfClevrDataset) -> dict[str, float]:
    """The paper's ablation: an RN+SRN model evaluated with 0 inner steps (S = S0): percent correct on the
    relational categories furthest, closest and count."""
    if getattr(model, "refiner", None) is None:
        raise ValueError("the 0-step ablation needs an RN+SRN model (one with a refiner)")
    scores = accuracy_by_category(model, test_set, inner_steps=0)
    return {key: scores[key] for key in ("furthest", "closest", "count")}
