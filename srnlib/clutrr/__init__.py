"""The CLUTRR experiment (Section 3.3): CLUTRR-style kinship stories, the official CSV loader and the Dataset.

    srnlib.clutrr.generate(n, k=(2, 3, 4), seed=0) -> list[Story] (sentences, query (A, B), target, k, path, tree)
    srnlib.clutrr.cached_stories(n, k, seed)           the same, cached under data/clutrr/
    srnlib.clutrr.cached_split(train_n, test_n, k, train_seed, test_seed)   training stories and test stories none
                                                        of which equals a training story as the model sees it
    srnlib.clutrr.canonical_key(story)                  a story as the model sees it (placeholders, sentence set)
    srnlib.clutrr.load_csv(path)                        stories from the official CLUTRR CSV format
    srnlib.clutrr.Vocabulary.build(stories)             tokens -> indices (names become @ent<j> placeholders)
    srnlib.clutrr.ClutrrDataset(stories, vocabulary)    (sentences (S, W), mask (S,), query (2,), target, k)
    srnlib.clutrr.collate                               batches trimmed to the longest story and sentence
    srnlib.clutrr.models.KinshipReasoner("rn" | "rn_srn" | "rn_grn", ...) the three models

Modules, one idea each: ``kinship`` (relations, composition rules, family trees), ``stories`` (the generator and
its cache), ``csv_loader`` (the official CSV format), ``dataset`` (tokens, vocabulary, Dataset), ``split`` (test
stories unseen in training), ``models``, ``experiment``, ``plots``.
"""
from . import csv_loader, dataset, kinship, models, split, stories
from .csv_loader import load_csv
from .dataset import ClutrrDataset, Vocabulary, collate, tokenize
from .kinship import COMPOSITION, RELATIONS, FamilyTree, compose, random_tree, relation_in_tree
from .split import cached_split, canonical_key, shared_stories, unseen_test_stories
from .stories import Story, cached_stories, generate

__all__ = ["COMPOSITION", "RELATIONS", "ClutrrDataset", "FamilyTree", "Story", "Vocabulary", "cached_split",
           "cached_stories", "canonical_key", "collate", "compose", "csv_loader", "dataset", "generate", "kinship",
           "load_csv", "models", "random_tree", "relation_in_tree", "shared_stories", "split", "stories", "tokenize",
           "unseen_test_stories"]
