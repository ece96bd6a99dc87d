"""The Circles experiment (Section 2.2): data, set auto-encoders, load-or-train helpers and figures.

    srnlib.circles.generate(n, seed=0, min_circles=0, max_circles=10) -> (images (n, 3, 64, 64), objects)
    srnlib.circles.CirclesDataset(n, seed, ...)        cached torch Dataset of (image, count)
    srnlib.circles.models      BaselineAutoencoder, SRNAutoencoder, SetDecoder (Eq. 4)
    srnlib.circles.experiment  load_or_train, evaluate (Table 1) and the other helpers of notebook 01
    srnlib.circles.interpolation  notebook 02: interpolation (moving / crossing circles), t-SNE of latents
    srnlib.circles.plots       Figure 2, Table 1, interpolation strip and slider callback, Figure 3
"""
from . import data, experiment, interpolation, models, plots
from .data import CirclesDataset, generate, render
from .models import BaselineAutoencoder, SRNAutoencoder, build_model

__all__ = ["CirclesDataset", "generate", "render", "BaselineAutoencoder", "SRNAutoencoder", "build_model", "data",
           "experiment", "interpolation", "models", "plots"]
