"""Notebook 05's experiment (Section 3.3): train RN, RN+SRN and RN+GRN on CLUTRR-style stories, load-or-train.

    data = load_data(cfg, seed)                 train / test ClutrrDatasets (k = cfg.train_k), the vocabulary and
                                                the split's stats; no test story equals a training story as the
                                                model sees it (data.canonical_key)
    models, histories, data = train_models(cfg, seed)   one checkpoint per model under checkpoints/clutrr/
    evaluate(model, dataset)                    {"accuracy": %, "accuracy_k2": %, ...} on a held-out set
    best_epoch(history)                         the paper's number: the epoch with the best average test accuracy
    look_inside(model, dataset, index)          S0, the refined set and (GRN) the refined edge weights of one story
    seed_results(cfg, seeds)                    the saved results of those seeds that ran these settings and split

The paper reports "the best average performance across epochs for k = 2, 3, 4": ``fit``'s ``evaluate`` hook
records the test accuracy after every epoch and ``best_epoch`` takes the maximum of the average over all test
stories (equal numbers of k = 2, 3 and 4 stories, so the plain mean is the mean over k).
"""
from __future__ import annotations

import torch
from torch import nn

import json

from .. import train
from ..config import ClutrrConfig
from ..paths import results_dir
from ..profiles import settings_hash
from ..paper import PAPER
from .dataset import ClutrrDataset, Vocabulary, tokenize
from .models import KINDS, MODEL_NAMES, KinshipReasoner, build_model
from .split import SPLIT_VERSION, cached_split
PAPER_ACCURACY = PAPER["clutrr"]  # Section 3.3, mean of 5 runs, k = 2, 3, 4 (typed once in srnlib/paper.py)
TEST_SEED_OFFSET = 1_000_003  # test stories come from another generator seed than the training stories
NOTEBOOK = "05_clutrr"


def run_settings(cfg) -> dict:
    """The settings that decide a run's numbers: the profile's plus the test split's version (keys checkpoints and
    results, so models evaluated on an older split are retrained and their results are not pooled)."""
    return dict(cfg, test_split=SPLIT_VERSION)


def load_data(cfg, seed: int = 0) -> dict:
    """``{"train": ClutrrDataset, "test": ClutrrDataset, "vocabulary": Vocabulary, "split": stats}`` (stories cached
    on disk). The test stories come from generator seed ``seed + TEST_SEED_OFFSET``, and every one that equals a
    training story as the model sees it is replaced (``data.unseen_test_stories``; stats per k: candidates drawn,
    repeats dropped, distinct test stories)."""
    ks = tuple(cfg.train_k)
    train_stories, test_stories, split = cached_split(cfg.train_stories, cfg.test_stories, ks, train_seed=seed,
                                                      test_seed=seed + TEST_SEED_OFFSET)
    vocabulary = Vocabulary.build(train_stories)
    longest = max(ks)
    words = max(len(s) for story in train_stories + test_stories for s in tokenize(story))
    return {"train": ClutrrDataset(train_stories, vocabulary, longest, words),
            "test": ClutrrDataset(test_stories, vocabulary, longest, words), "vocabulary": vocabulary,
            "split": split}


def trim(batch):
    """A default-collated batch of dataset items, trimmed to its longest story and sentence."""
    sentences, mask, query, target, k = batch
    used_sentences = max(int(mask.sum(1).max()), 1)
    used_words = max(int((sentences != 0).sum(-1).max()), 1)
    return sentences[:, :used_sentences, :used_words], mask[:, :used_sentences], query, target, k


def training_step(model: nn.Module, batch) -> dict:
    sentences, mask, query, target, _ = trim(batch)
    logits = model(sentences, mask, query)
    return {"loss": nn.functional.cross_entropy(logits, target),
            "accuracy": (logits.argmax(1) == target).float().mean() * 100}


@torch.no_grad()
def predict(model: nn.Module, dataset: ClutrrDataset, batch_size: int = 256) -> tuple[torch.Tensor, ...]:
    """(predicted relation indices, targets, ks), each (len(dataset),), on the CPU; the model is left in eval()."""
    model.eval()
    device = next(model.parameters()).device
    predicted = []
    for start in range(0, len(dataset), batch_size):
        part = slice(start, start + batch_size)
        sentences, mask, query, _, _ = trim((dataset.sentences[part], dataset.mask[part], dataset.query[part],
                                             dataset.target[part], dataset.k[part]))
        predicted.append(model(sentences.to(device), mask.to(device), query.to(device)).argmax(1).cpu())
    return torch.cat(predicted), dataset.target.clone(), dataset.k.clone()


def evaluate(model: nn.Module, dataset: ClutrrDataset) -> dict[str, float]:
    """Accuracy in % overall (``accuracy``) and for each chain length (``accuracy_k<k>``)."""
    predicted, target, ks = predict(model, dataset)
    correct = (predicted == target).float()
    result = {"accuracy": 100 * float(correct.mean())}
    for k in sorted(set(ks.tolist())):
        result[f"accuracy_k{k}"] = 100 * float(correct[ks == k].mean())
    return result


def best_epoch(history: list[dict]) -> dict:
    """The epoch record with the best average test ``accuracy`` (ties: the earliest)."""
    scored = [record for record in history if "accuracy" in record]
    if not scored:
        raise ValueError("the history has no test accuracy; train with evaluate=...")
    return max(scored, key=lambda record: (record["accuracy"], -record["epoch"]))


def accuracy_by_k(record: dict) -> dict[str, float]:
    """``{"2": %, "3": %, ...}`` from an epoch record."""
    return {key[len("accuracy_k"):]: value for key, value in record.items() if key.startswith("accuracy_k")}


def train_models(cfg, seed: int = 0, retrain: bool = False, kinds=KINDS, device=None) -> tuple[dict, dict, dict]:
    """Load-or-train every model in ``kinds`` on the same stories -> (models, histories, data).

    Adam with ``cfg.lr`` and L2 weight decay ``cfg.weight_decay[kind]`` (1e-4, 5e-6 for the GRN in the paper); the
    test accuracy is recorded after every epoch. Checkpoints are keyed by (profile, seed, ``run_settings``, kind).
    """
    data = load_data(cfg, seed)
    settings = run_settings(cfg)
    models, histories = {}, {}
    for kind in kinds:
        train.seed_everything(seed)
        model = build_model(kind, ClutrrConfig.from_settings(cfg), len(data["vocabulary"]))
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay[kind])
        histories[kind] = train.fit(
            model, optimizer, data["train"], training_step, epochs=cfg.epochs, batch_size=cfg.batch_size,
            seed=seed, device=device, checkpoint=train.checkpoint_path("clutrr", cfg.profile, seed, settings, kind),
            evaluate=lambda m: evaluate(m, data["test"]), retrain=retrain, desc=MODEL_NAMES[kind], settings=settings)
        models[kind] = model.cpu().eval()
    return models, histories, data


def curves(histories: dict) -> dict[str, list[float]]:
    """{kind: test accuracy (%) after each epoch}."""
    return {kind: [record["accuracy"] for record in history if "accuracy" in record]
            for kind, history in histories.items()}


def seed_results(cfg, seeds) -> list[dict]:
    """The saved results (``results/05_clutrr.<profile>[.seed<k>].json``) of those ``seeds`` whose run had these
    settings and this test split (``run_settings``); seeds without such a file are left out."""
    found = []
    for seed in seeds:
        path = results_dir() / f"{NOTEBOOK}.{cfg.profile}{'' if seed == 0 else f'.seed{seed}'}.json"
        if path.exists():
            result = json.loads(path.read_text())
            if result.get("settings_hash") == settings_hash(run_settings(cfg)) and result.get("seeds") == [seed]:
                found.append(result)
    return found


def summary(histories: dict) -> tuple[dict, dict]:
    """(accuracy {kind: %}, accuracy_by_k {kind: {"2": %, ...}}) at each model's best epoch."""
    best = {kind: best_epoch(history) for kind, history in histories.items()}
    return ({kind: record["accuracy"] for kind, record in best.items()},
            {kind: accuracy_by_k(record) for kind, record in best.items()})


@torch.no_grad()
def look_inside(model: KinshipReasoner, dataset: ClutrrDataset, index: int) -> dict:
    """One story through the model: ``S0`` (set_size, H) the padded sentence embeddings, ``refined`` the set the RN
    reads, ``sentences`` the number of real sentences, ``inner_loss`` per step and, for the GRN, ``edges``
    (set_size, set_size) the refined edge weights (``edges0`` the complete graph they start from)."""
    if model.kind == "rn":
        raise ValueError("the plain RN has no refiner to look inside")
    model.eval()
    sentences, mask, _, _, _ = trim(tuple(part.unsqueeze(0) for part in dataset[index]))
    refinement = model.refine(sentences, mask, return_trajectory=True)
    if model.kind == "rn_srn":
        S0, refined, losses, extra = refinement.sets[0], refinement.set, refinement.losses, {}
    else:
        (refined, edges), trajectory, losses = refinement
        (S0, edges0) = trajectory[0]
        extra = {"edges": edges[0], "edges0": edges0[0]}
    return {"S0": S0[0], "sentences": int(mask.sum()), "refined": refined[0],
            "inner_loss": [float(loss[0]) for loss in losses], **extra}
