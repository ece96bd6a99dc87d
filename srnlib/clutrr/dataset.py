"""What the models read: CLUTRR stories as tokens, the vocabulary, and the torch Dataset.

Tokens. ``tokenize`` lowercases, replaces each person's name by an entity placeholder ``@ent<j>`` where j numbers
the story's people in order of first appearance in the story's sentences (names carry no information; with shuffled
sentences the numbering does not reveal the chain order), keeps words, hyphenated words ("in-law") and the
possessive "'s", and drops other punctuation. ``Vocabulary``: index 0 = <pad>, 1 = <unk>, then @ent0..@ent{E-1}
(E = max_entities, always present), then the training words by frequency.

Dataset shapes (S = max_sentences, W = max_words; B = batch size after ``collate``):
    sentences  int64 (S, W) token indices, 0-padded        -> (B, S', W') trimmed to the batch's longest
    mask       bool (S,) True for real sentences          -> (B, S')
    query      int64 (2,) token indices of @ent for A, B  -> (B, 2)
    target     int64 scalar index into RELATIONS          -> (B,)
    k          int64 scalar chain length                  -> (B,)
"""
from __future__ import annotations

import re
from collections import Counter

import torch
from torch.utils.data import Dataset

from .._checks import check_int
from .kinship import RELATION_INDEX
from .stories import Story

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1
ENTITY_PREFIX = "@ent"


_WORD = re.compile(r"'s\b|[A-Za-z]+(?:-[A-Za-z]+)*|\d+")


def sentence_words(sentence: str, names) -> list[str]:
    """Words of a sentence in their original case; a name that is not a single word (a space, an apostrophe) is
    kept as one word."""
    multi_word = sorted((name for name in names if _WORD.fullmatch(name) is None), key=len, reverse=True)
    if not multi_word:
        return _WORD.findall(sentence)
    pattern = re.compile("|".join(re.escape(name) for name in multi_word) + "|" + _WORD.pattern)
    return pattern.findall(sentence)


def entity_numbers(story: Story) -> dict[str, int]:
    """Name -> placeholder number, in order of first appearance in the sentences (then the query's names, then
    the other names in ``people``)."""
    names, order = set(story.people) | set(story.query), {}
    for sentence in story.sentences:
        for word in sentence_words(sentence, names):
            if word in names:
                order.setdefault(word, len(order))
    for name in tuple(story.query) + tuple(story.people):
        order.setdefault(name, len(order))
    return order


def tokenize(story: Story) -> list[list[str]]:
    """Each sentence as lowercase tokens with names replaced by ``@ent<j>`` (see ``entity_numbers``): words,
    hyphenated words ("in-law"), numbers and the possessive "'s"; other punctuation is dropped."""
    numbers = entity_numbers(story)
    return [[f"{ENTITY_PREFIX}{numbers[word]}" if word in numbers else word.lower()
             for word in sentence_words(sentence, numbers)] for sentence in story.sentences]


class Vocabulary:
    """Token <-> index. 0 = <pad>, 1 = <unk>, 2 .. 2 + max_entities - 1 = @ent0.., then words by frequency."""

    def __init__(self, tokens, max_entities: int = 32):
        check_int(max_entities, "max_entities", 2)
        self.max_entities = max_entities
        entities = [f"{ENTITY_PREFIX}{j}" for j in range(max_entities)]
        self.tokens = [PAD, UNK] + entities + [t for t in tokens if t not in (PAD, UNK) and t not in entities]
        self.index = {token: position for position, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("tokens must not repeat")

    @classmethod
    def build(cls, stories, min_count: int = 1, max_entities: int = 32) -> "Vocabulary":
        """From training stories: every word seen at least ``min_count`` times, most frequent first."""
        check_int(min_count, "min_count", 1)
        stories = list(stories)
        if not all(isinstance(story, Story) for story in stories):
            raise TypeError("stories must be Story records")
        counts = Counter(token for story in stories for sentence in tokenize(story) for token in sentence
                         if not token.startswith(ENTITY_PREFIX))
        words = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(words, max_entities)

    def __len__(self) -> int:
        return len(self.tokens)

    def entity(self, number: int) -> int:
        if not 0 <= number < self.max_entities:
            raise ValueError(f"entity number must be in 0..{self.max_entities - 1}, got {number} "
                             "(build the Vocabulary with a larger max_entities)")
        return self.index[f"{ENTITY_PREFIX}{number}"]

    def encode(self, tokens) -> list[int]:
        """Tokens -> indices; unknown words -> 1; an @ent beyond max_entities raises ValueError."""
        indices = []
        for token in tokens:
            if token.startswith(ENTITY_PREFIX):
                indices.append(self.entity(int(token[len(ENTITY_PREFIX):])))
            else:
                indices.append(self.index.get(token, UNK_INDEX))
        return indices

    def decode(self, indices) -> list[str]:
        """Indices -> tokens, padding dropped."""
        return [self.tokens[int(i)] for i in indices if int(i) != PAD_INDEX]

    def to_dict(self) -> dict:
        return {"tokens": self.tokens[2 + self.max_entities:], "max_entities": self.max_entities}

    @classmethod
    def from_dict(cls, stored: dict) -> "Vocabulary":
        return cls(stored["tokens"], stored["max_entities"])



# ----------------------------------------------------------------------------------------------------------- dataset
class ClutrrDataset(Dataset):
    """Encoded stories: item i = ``(sentences int64 (S, W), mask bool (S,), query int64 (2,), target int64,
    k int64)`` (see the module docstring). S and W default to the longest story / sentence in ``stories``; a
    longer one raises ValueError. Targets must be in RELATIONS."""

    def __init__(self, stories, vocabulary: Vocabulary, max_sentences: int | None = None,
                 max_words: int | None = None):
        stories = list(stories)
        if not stories:
            raise ValueError("stories must not be empty")
        if not all(isinstance(story, Story) for story in stories):
            raise TypeError("stories must be Story records")
        if not isinstance(vocabulary, Vocabulary):
            raise TypeError(f"vocabulary must be a Vocabulary, got {type(vocabulary).__name__}")
        tokenized = [tokenize(story) for story in stories]
        longest_story = max(len(sentences) for sentences in tokenized)
        longest_sentence = max((len(s) for sentences in tokenized for s in sentences), default=1)
        self.max_sentences = longest_story if max_sentences is None else check_int(max_sentences, "max_sentences", 1)
        self.max_words = longest_sentence if max_words is None else check_int(max_words, "max_words", 1)
        if longest_story > self.max_sentences:
            raise ValueError(f"max_sentences = {self.max_sentences} but a story has {longest_story} sentences")
        if longest_sentence > self.max_words:
            raise ValueError(f"max_words = {self.max_words} but a sentence has {longest_sentence} tokens")
        count = len(stories)
        self.sentences = torch.full((count, self.max_sentences, self.max_words), PAD_INDEX, dtype=torch.long)
        self.mask = torch.zeros(count, self.max_sentences, dtype=torch.bool)
        self.query = torch.empty(count, 2, dtype=torch.long)
        self.target = torch.empty(count, dtype=torch.long)
        self.k = torch.tensor([story.k for story in stories], dtype=torch.long)
        for row, (story, sentences) in enumerate(zip(stories, tokenized)):
            if story.target not in RELATION_INDEX:
                raise ValueError(f"story {row}: target {story.target!r} is not one of RELATIONS")
            for position, tokens in enumerate(sentences):
                if tokens:
                    self.sentences[row, position, :len(tokens)] = torch.tensor(vocabulary.encode(tokens))
            self.mask[row, :len(sentences)] = True
            numbers = entity_numbers(story)
            self.query[row] = torch.tensor([vocabulary.entity(numbers[name]) for name in story.query])
            self.target[row] = RELATION_INDEX[story.target]
        self.stories = stories
        self.vocabulary = vocabulary

    def __len__(self) -> int:
        return len(self.stories)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} stories")
        return self.sentences[index], self.mask[index], self.query[index], self.target[index], self.k[index]


def collate(items):
    """Stack dataset items and trim the padding to the batch's longest story and sentence:
    ``(sentences (B, S', W'), mask (B, S'), query (B, 2), target (B,), k (B,))``."""
    sentences, mask, query, target, k = (torch.stack(parts) for parts in zip(*items))
    used_sentences = max(int(mask.sum(1).max()), 1)
    used_words = max(int((sentences != PAD_INDEX).sum(-1).max()), 1)
    return sentences[:, :used_sentences, :used_words].contiguous(), mask[:, :used_sentences], query, target, k
