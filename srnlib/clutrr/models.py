"""Relation Networks over LSTM sentence embeddings for CLUTRR kinship questions, plain, +SRN and +GRN.

    sentences (B, S, W) token ids, sentence_mask (B, S) bool, query (B, 2) token ids of the two people asked about
      --word embedding + LSTM per sentence (dropout 0.5 on the encoder)--> sentence embeddings (B, S, H)
    rn:      the RN runs over the real sentences (padding masked out of every pair)
    rn_srn:  S0 = the sentence embeddings padded with zeros to ``set_size`` (20 in the paper); z = H_embed = the
             mean LSTM cell state over the real sentences; the SRN's refined set (all ``set_size`` elements) goes to
             the RN
    rn_grn:  the same padded set as the nodes of a complete graph; a GRN refines nodes and edge weights; the RN
             weights each pair's relation by its refined edge
    RN: g-MLP over every ordered pair (o_i, o_j, query embedding), (weighted) sum, f-MLP -> relation logits.
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import check_positive
from ..config import ClutrrConfig
from ..paper import CLUTRR_MODEL_NAMES
from ..refine import GRN, SRN
from .kinship import RELATIONS

KINDS = tuple(CLUTRR_MODEL_NAMES)  # "rn", "rn_srn", "rn_grn"
MODEL_NAMES = CLUTRR_MODEL_NAMES  # labels for plots and progress bars


class SentenceEncoder(nn.Module):
    """(B, S, W) token ids -> (sentence embeddings (B, S, H), final cell states (B, S, H)); token 0 is padding."""

    def __init__(self, vocabulary_size: int, word_dim: int, hidden: int, dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, word_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(word_dim, hidden, batch_first=True)

    def forward(self, sentences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if sentences.dim() != 3 or sentences.dtype != torch.long:
            raise ValueError(f"sentences must be int64 token ids (batch, sentences, words), got "
                             f"{tuple(sentences.shape)} {sentences.dtype}")
        batch, count, words = sentences.shape
        flat = sentences.reshape(batch * count, words)
        lengths = (flat != 0).sum(dim=1).clamp(min=1).cpu()  # empty (padding) sentences read one pad token
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.embedding(flat)), lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, (hidden, cell) = self.lstm(packed)
        return hidden[-1].view(batch, count, -1), cell[-1].view(batch, count, -1)


class PairRelations(nn.Module):
    """RN head: objects (B, N, H), pair weights (B, N, N), query (B, Q) -> logits (B, relations)."""

    def __init__(self, object_dim: int, query_dim: int, relations: int, hidden: int = 256):
        super().__init__()
        self.g = nn.Sequential(nn.Linear(2 * object_dim + query_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                               nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.f = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, relations))

    def forward(self, objects: torch.Tensor, pair_weights: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        batch, n, dim = objects.shape
        first = objects.unsqueeze(2).expand(batch, n, n, dim)
        second = objects.unsqueeze(1).expand(batch, n, n, dim)
        asked = query.view(batch, 1, 1, -1).expand(batch, n, n, query.shape[-1])
        relations = self.g(torch.cat([first, second, asked], dim=3)) * pair_weights.unsqueeze(-1)
        return self.f(relations.sum(dim=(1, 2)))


class MeanCellState(nn.Module):
    """The SRN's and GRN's ``H_embed`` here: the LSTM's final cell states (B, S, H) averaged over the real sentences
    (sentence_mask (B, S) bool) -> z (B, H). No parameters."""

    def forward(self, cells: torch.Tensor, sentence_mask: torch.Tensor) -> torch.Tensor:
        counts = sentence_mask.sum(dim=1, keepdim=True).clamp(min=1)
        return (cells * sentence_mask.unsqueeze(-1)).sum(dim=1) / counts


class KinshipReasoner(nn.Module):
    """``kind`` "rn", "rn_srn" or "rn_grn" (see the module docstring) from a ``ClutrrConfig``; forward -> relation
    logits (B, relations). ``refiner``: the SRN or GRN (None for the RN); its elements and z have the LSTM's size."""

    KINDS = KINDS

    def __init__(self, kind: str, config: ClutrrConfig, vocabulary_size: int, relations: int = len(RELATIONS)):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        if not isinstance(config, ClutrrConfig):
            raise TypeError(f"config must be a ClutrrConfig (ClutrrConfig.from_settings(cfg) for a settings dict), "
                            f"got {type(config).__name__}")
        check_positive(config.set_size, "set_size", integer=True)
        self.kind, self.set_size = kind, config.set_size
        self.sentences = SentenceEncoder(vocabulary_size, config.word_dim, config.lstm_hidden, config.dropout)
        self.relations = PairRelations(config.lstm_hidden, 2 * config.word_dim, relations, hidden=config.rn_hidden)
        refiner = {"rn": None, "rn_srn": SRN, "rn_grn": GRN}[kind]
        self.refiner = None if refiner is None else refiner(MeanCellState(), config.lstm_hidden, config.refiner)

    def padded_set(self, embeddings: torch.Tensor, sentence_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings (B, S, H), zeros where there is no sentence, padded/cut to (B, set_size, H)."""
        embeddings = embeddings * sentence_mask.unsqueeze(-1)
        batch, count, dim = embeddings.shape
        if count > self.set_size:
            raise ValueError(f"a story has {count} sentence slots, more than set_size = {self.set_size}")
        return torch.cat([embeddings, embeddings.new_zeros(batch, self.set_size - count, dim)], dim=1)

    def refine(self, sentences: torch.Tensor, sentence_mask: torch.Tensor, inner_steps: int | None = None,
               return_trajectory: bool = False):
        """What the refiner makes of the stories: the SRN's set (B, set_size, H) or the GRN's (nodes, edges), from
        S0 = the padded sentence embeddings and z = their mean cell state; with ``return_trajectory`` the SRN's
        ``Refinement`` (S0 .. S_r, inner losses) or the GRN's ((nodes, edges), [(nodes_i, edges_i)], losses)."""
        if self.refiner is None:
            raise ValueError("the plain RN has no refiner")
        self._check(sentences, sentence_mask)
        return self._refine(*self.sentences(sentences), sentence_mask, inner_steps, return_trajectory)

    def _refine(self, embeddings, cells, sentence_mask, inner_steps, return_trajectory=False):
        S0 = self.padded_set(embeddings, sentence_mask)
        return self.refiner(S0, cells, sentence_mask, steps=inner_steps, return_trajectory=return_trajectory)

    @staticmethod
    def _check(sentences: torch.Tensor, sentence_mask: torch.Tensor) -> None:
        if sentence_mask.shape != sentences.shape[:2] or sentence_mask.dtype != torch.bool:
            raise ValueError(f"sentence_mask must be bool with shape {tuple(sentences.shape[:2])}, got "
                             f"{tuple(sentence_mask.shape)} {sentence_mask.dtype}")

    def forward(self, sentences: torch.Tensor, sentence_mask: torch.Tensor, query: torch.Tensor,
                inner_steps: int | None = None) -> torch.Tensor:
        self._check(sentences, sentence_mask)
        if query.dim() != 2 or query.shape != (sentences.shape[0], 2):
            raise ValueError(f"query must hold two token ids per story, shape ({sentences.shape[0]}, 2), got "
                             f"{tuple(query.shape)}")
        embeddings, cells = self.sentences(sentences)
        query_vector = self.sentences.embedding(query).flatten(1)  # (B, 2 * word_dim)
        if self.kind == "rn":
            pair_weights = (sentence_mask.unsqueeze(2) & sentence_mask.unsqueeze(1)).float()
            return self.relations(embeddings, pair_weights, query_vector)
        refined = self._refine(embeddings, cells, sentence_mask, inner_steps)
        if self.kind == "rn_srn":
            pair_weights = refined.new_ones(refined.shape[0], self.set_size, self.set_size)
            return self.relations(refined, pair_weights, query_vector)
        nodes, edges = refined
        return self.relations(nodes, edges, query_vector)


def build_model(kind: str, config: ClutrrConfig, vocabulary_size: int) -> KinshipReasoner:
    """``kind`` "rn", "rn_srn" or "rn_grn" from a ``ClutrrConfig`` over a vocabulary of ``vocabulary_size`` tokens."""
    return KinshipReasoner(kind, config, vocabulary_size)
