"""srnlib: Set Refiner Networks (Huang et al., NeurIPS 2020) for the srn-notebooks lessons.

Public API::

    srnlib.SetRefiner(set_encoder, steps, lr, momentum=0.0, grad_clip=None)   # Algorithm 1, refine.py
    srnlib.FSPool(channels, n_pieces=20)                                       # pooling.py
    srnlib.SetEncoder(in_dim, out_dim, hidden=512)                              # H_agg: MLP + FSPool
    srnlib.GraphRefiner(graph_encoder, steps, lr) / srnlib.GraphEncoder(...)    # the GRN, same loop
    srnlib.profiles.get(experiment, profile)                                    # smoke / quick / paper
    srnlib.paper.PAPER / srnlib.paper.table1_claim_holds(...)                   # the paper's numbers and claims
    srnlib.train.fit(...)                                                       # the one training loop
    srnlib.shipped.ship(...) / load_shipped(...)  # committed finished checkpoints (import srnlib.shipped)
"""
from . import metrics, paper, paths, plots, profiles, report, results, train
from .pooling import FSPool, GraphEncoder, SetEncoder
from .refine import GraphRefiner, Refinement, SetRefiner

__all__ = ["FSPool", "GraphEncoder", "GraphRefiner", "SetEncoder", "SetRefiner", "Refinement", "metrics", "paper", "paths", "plots", "profiles", "report", "results", "train"]
__version__ = "0.1.0"
