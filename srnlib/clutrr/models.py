"""Relation Networks over LSTM sentence embeddings for CLUTRR kinship questions, plain, +SRN and +GRN.

    sentences (B, S, W) token ids, sentence_mask (B, S) bool, query (B, 2) token ids of the two people asked about
      --word embedding + LSTM per sentence (dropout 0.5 on the encoder)--> sentence embeddings (B, S, H)
    rn:      the RN runs over the real sentences (padding masked out of every pair)
    rn_srn:  S0 = the sentence embeddings padded with zeros to ``set_size`` (20 in the paper); z = the mean LSTM cell
             state over the real sentences; the SetRefiner's refined set (all ``set_size`` elements) goes to the RN
    rn_grn:  the same padded set as the nodes of a complete graph; a GraphRefiner refines nodes and edge weights;
             the RN weights each pair's relation by its refined edge
    RN: g-MLP over every ordered pair (o_i, o_j, query embedding), (weighted) sum, f-MLP -> relation logits.
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import check_positive
from ..pooling import GraphEncoder, SetEncoder
from ..refine import GraphRefiner, SetRefiner, complete_graph


class SentenceEncoder(nn.Module):
    """(B, S, W) token ids -> (sentence embeddings (B, S, H), final cell states (B, S, H)); token 0 is padding."""

    def __init__(self, vocabulary_size: int, embedding_dim: int, hidden: int, dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding_dim, hidden, batch_first=True)

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


class KinshipReasoner(nn.Module):
    """``kind`` "rn", "rn_srn" or "rn_grn" (see the module docstring); forward -> relation logits (B, relations).

    ``rn_hidden`` is the width of the RN's g and f MLPs (256 in the usual RN).
    """

    KINDS = ("rn", "rn_srn", "rn_grn")

    def __init__(self, kind: str, vocabulary_size: int, relations: int, embedding_dim: int = 100, hidden: int = 100,
                 set_size: int = 20, agg_hidden: int = 128, inner_steps: int = 5, inner_lr: float = 0.5,
                 inner_grad_clip: float | None = None, dropout: float = 0.5, rn_hidden: int = 256):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        check_positive(set_size, "set_size", integer=True)
        self.kind, self.set_size = kind, set_size
        self.sentences = SentenceEncoder(vocabulary_size, embedding_dim, hidden, dropout)
        self.relations = PairRelations(hidden, 2 * embedding_dim, relations, hidden=rn_hidden)
        if kind == "rn_srn":
            self.refiner = SetRefiner(SetEncoder(hidden, hidden, hidden=agg_hidden), steps=inner_steps, lr=inner_lr,
                                      grad_clip=inner_grad_clip)
        elif kind == "rn_grn":
            self.refiner = GraphRefiner(GraphEncoder(hidden, hidden, hidden=agg_hidden), steps=inner_steps,
                                        lr=inner_lr, grad_clip=inner_grad_clip)

    def padded_set(self, embeddings: torch.Tensor, sentence_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings (B, S, H), zeros where there is no sentence, padded/cut to (B, set_size, H)."""
        embeddings = embeddings * sentence_mask.unsqueeze(-1)
        batch, count, dim = embeddings.shape
        if count > self.set_size:
            raise ValueError(f"a story has {count} sentence slots, more than set_size = {self.set_size}")
        return torch.cat([embeddings, embeddings.new_zeros(batch, self.set_size - count, dim)], dim=1)

    def forward(self, sentences: torch.Tensor, sentence_mask: torch.Tensor, query: torch.Tensor,
                inner_steps: int | None = None) -> torch.Tensor:
        if sentence_mask.shape != sentences.shape[:2] or sentence_mask.dtype != torch.bool:
            raise ValueError(f"sentence_mask must be bool with shape {tuple(sentences.shape[:2])}, got "
                             f"{tuple(sentence_mask.shape)} {sentence_mask.dtype}")
        if query.dim() != 2 or query.shape != (sentences.shape[0], 2):
            raise ValueError(f"query must hold two token ids per story, shape ({sentences.shape[0]}, 2), got "
                             f"{tuple(query.shape)}")
        embeddings, cells = self.sentences(sentences)
        query_vector = self.sentences.embedding(query).flatten(1)  # (B, 2 * embedding_dim)
        if self.kind == "rn":
            pair_weights = (sentence_mask.unsqueeze(2) & sentence_mask.unsqueeze(1)).float()
            return self.relations(embeddings, pair_weights, query_vector)
        counts = sentence_mask.sum(dim=1, keepdim=True).clamp(min=1)
        z = (cells * sentence_mask.unsqueeze(-1)).sum(dim=1) / counts  # mean cell state over real sentences
        S0 = self.padded_set(embeddings, sentence_mask)
        if self.kind == "rn_srn":
            refined = self.refiner(S0, z, steps=inner_steps)
            pair_weights = refined.new_ones(refined.shape[0], self.set_size, self.set_size)
            return self.relations(refined, pair_weights, query_vector)
        nodes, edges = self.refiner(S0, z, complete_graph(S0.shape[0], self.set_size, S0), steps=inner_steps)
        return self.relations(nodes, edges, query_vector)
