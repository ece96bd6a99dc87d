"""srnlib: Set Refiner Networks (Huang et al., NeurIPS 2020) for the srn-notebooks lessons.

Public API::

    srnlib.SRN(embed, set_dim, srnlib.RefinerConfig(steps, lr, agg_hidden, ...))   # Algorithm 1, refine.py:
    srn(S0, X, steps=None, return_trajectory=False)                             #   H_embed, H_agg and the loop
    srnlib.SetRefiner(set_encoder, steps, lr, momentum=0.0, grad_clip=None)   # the loop alone, for your own H_agg
    srnlib.FSPool(channels, n_pieces=20)                                       # pooling.py
    srnlib.SetEncoder(in_dim, out_dim, hidden=512)                              # H_agg: MLP + FSPool
    srnlib.GRN(...) / srnlib.GraphRefiner(graph_encoder, steps, lr) / GraphEncoder  # the GRN, same loop
    srnlib.profiles.get(experiment, profile)                                    # smoke / quick / long / paper
    srnlib.config.CirclesConfig.from_settings(cfg)  # the same settings typed (one dataclass per experiment)
    srnlib.paper.PAPER / srnlib.paper.table1_claim_holds(...)                   # the paper's numbers and claims
    srnlib.train.fit(...)                                                       # the one training loop
    srnlib.shipped.ship(...) / load_shipped(...)  # committed finished checkpoints (import srnlib.shipped)
"""
from . import config, metrics, paper, paths, plots, profiles, report, results, train
from .pooling import FSPool, GraphEncoder, SetEncoder
from .refine import GRN, SRN, GraphRefiner, RefinerConfig, Refinement, SetRefiner

__all__ = ["FSPool", "GRN", "GraphEncoder", "GraphRefiner", "RefinerConfig", "Refinement", "SRN", "SetEncoder",
           "SetRefiner", "config", "metrics", "paper", "paths", "plots", "profiles", "report", "results", "train"]
__version__ = "0.1.0"
