"""Typed settings: one dataclass per experiment, built from its profile in ``srnlib.profiles``.

    cfg = srnlib.profiles.get("circles", "quick")      # the profile's settings: a dict (it keys the checkpoints)
    config = CirclesConfig.from_settings(cfg)          # the same settings, typed: config.refiner.steps
    config = CirclesConfig.from_profile("quick")       # both at once
    model = srnlib.circles.models.build_model("srn", config)

Every field is named like the profile's key, and the same idea has the same name in every experiment: the SRN's
settings are the nested ``refiner``, a ``RefinerConfig`` (``steps``, ``lr``, ``momentum``, ``grad_clip``,
``agg_hidden``, ``embed_dim``); ``rn_hidden`` is the width of a Relation Network's g and f, ``mlp_hidden`` that of
another MLP, ``lstm_hidden`` an LSTM's. The profiles stay data in one place (``profiles.SETTINGS``); a setting that
a dataclass does not know, or one it needs and the settings lack, is an error naming it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, fields
from typing import ClassVar, Mapping

from .refine import RefinerConfig

__all__ = ["CONFIGS", "CirclesConfig", "ClutrrConfig", "CswmConfig", "ExperimentConfig", "RefinerConfig",
           "ResponsibilityConfig", "SortOfClevrConfig"]


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """What every experiment's settings share: the profile they come from, the outer training, the refiner."""

    EXPERIMENT: ClassVar[str] = ""
    profile: str | None = None  # smoke / quick / long / paper (None: built by hand)
    epochs: int
    batch_size: int
    lr: float  # the outer optimiser's (Adam's) learning rate
    refiner: RefinerConfig  # the SRN's settings (see srnlib.refine)

    @classmethod
    def from_settings(cls, settings: Mapping):
        """The typed form of a settings dict (``profiles.get(...)``, or the settings stored in a checkpoint)."""
        names = {field.name for field in fields(cls)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no setting {', '.join(unknown)}; its settings are "
                             f"{', '.join(sorted(names))}")
        values = {key: _frozen(value) for key, value in settings.items()}
        if isinstance(settings.get("refiner"), Mapping):
            refiner_names = {field.name for field in fields(RefinerConfig)}
            unknown = sorted(set(settings["refiner"]) - refiner_names)
            if unknown:
                raise ValueError(f"RefinerConfig has no setting {', '.join(unknown)}; its settings are "
                                 f"{', '.join(sorted(refiner_names))}")
            values["refiner"] = RefinerConfig(**settings["refiner"])
        missing = sorted(field.name for field in fields(cls) if field.name not in values and field.default is MISSING)
        if missing:
            raise ValueError(f"{cls.__name__} needs the setting(s) {', '.join(missing)}")
        return cls(**values)

    @classmethod
    def from_profile(cls, profile: str | None = None):
        """The experiment's settings at ``profile`` (``None``: ``$SRN_PROFILE``, default quick), typed."""
        from . import profiles

        return cls.from_settings(profiles.get(cls.EXPERIMENT, profile))

    def replace(self, refiner: Mapping | RefinerConfig | None = None, **changes):
        """A copy with ``changes`` made; ``refiner``: the refiner's changes (``refiner={"lr": 30.0}``) or a new one."""
        if isinstance(refiner, Mapping):
            changes["refiner"] = dataclasses.replace(self.refiner, **refiner)
        elif refiner is not None:
            changes["refiner"] = refiner
        return dataclasses.replace(self, **{key: _frozen(value) for key, value in changes.items()})


def _frozen(value):
    """Lists as tuples (a config is immutable); other values as they are."""
    return tuple(_frozen(item) for item in value) if isinstance(value, list) else value


@dataclass(frozen=True, kw_only=True)
class ResponsibilityConfig(ExperimentConfig):
    """Notebook 00 (Theorem 1): two points in the plane seen as a blurry image."""

    EXPERIMENT: ClassVar[str] = "responsibility"
    train_sets: int  # training point sets
    mlp_hidden: int  # the MLPs' width: the continuous predictor, the SRN's S0 proposal and its H_embed
    rotation_angles: int  # angles of the rotating-pair probe
    validation_pairs: int  # held-out rotating pairs for the spike rate


@dataclass(frozen=True, kw_only=True)
class CirclesConfig(ExperimentConfig):
    """Notebooks 01-02: set auto-encoders on the Circles Dataset (Table 1, Figures 2-3)."""

    EXPERIMENT: ClassVar[str] = "circles"
    train_images: int
    test_images: int
    min_circles: int
    max_circles: int
    n: int  # elements per set
    d: int  # the size of an element
    encoder_channels: tuple[int, ...]  # the CNN trunk's widths
    group_channels: int  # feature-map channels per element
    decoder_channels: tuple[int, ...]  # the decoder's widths (broadcast: the first is the per-pixel MLP's)
    decoder_start: int  # the deconv decoder's first resolution
    attention: str  # "rgb" (Eq. 4) or "logit"
    decoder: str  # "deconv" (the paper's) or "broadcast"
    s0_gradient: bool  # whether the outer loss trains the set head through S0
    more_steps: int  # the SRN's inner steps from epoch more_steps_epoch on (refiner.steps before)
    more_steps_epoch: int
    tsne_grid: int
    tsne_radius: int
    interpolation_positions: int
    # the reconstruction loss's weight on the pixels a circle lights, background 1 (1: plain MSE, the paper's; a
    # larger one makes a small circle's few pixels count: scripts/circles_training_curve.py --set)
    foreground_weight: float = 1.0

    def inner_steps_at(self, epoch: int) -> int:
        """The SRN's inner steps in (0-based) ``epoch``: ``refiner.steps``, then ``more_steps``."""
        return self.more_steps if epoch >= self.more_steps_epoch else self.refiner.steps


@dataclass(frozen=True, kw_only=True)
class SortOfClevrConfig(ExperimentConfig):
    """Notebook 03: RN and RN + SRN on Sort-of-CLEVR (Table 2, Figure 4)."""

    EXPERIMENT: ClassVar[str] = "sortofclevr"
    train_images: int
    val_images: int
    test_images: int
    questions_per_image: int
    rn_hidden: int  # the width of the RN's g and f
    share_images: bool  # batches of images with all their questions
    warmup_steps: int
    init: str  # "default" or "he"
    aggregate: str  # "sum" or "mean" over the pairs
    dropout: float  # f's dropout
    robust_positions: int
    robust_angles: int
    robust_images: int
    n_seeds: int
    recon_images: int
    recon_epochs: int
    recon_channels: tuple[int, ...]
    recon_lr: float
    recon_batch_size: int
    stem_lr: float = 1.0  # the conv stem's learning rate as a factor of lr (scripts/sortofclevr_sweep.py)
    non_relational_steps: int = 0  # a curriculum: non-relational questions only for this many updates (the sweep)
    stem: str = "conv-bn-relu"  # the order of each conv layer's parts (models.ConvObjects; the sweep)
    cell_rgb: bool = False  # append each cell's mean colour to its conv features (a deviation; the sweep)
    cell_colours: int = 0  # append each cell's learned K-class colour histogram (models.CellColours; the sweep)
    cell_colours_norm: bool = False  # batch-normalise that histogram's classes over the cells (the sweep)
    s0_gradient: bool = True  # False: no outer gradient through S0; the stage learns through z alone (the sweep)
    inner_loss_weight: float = 0.0  # outer-loss term: weight of L(S_r) / L(S_0), asking the loop to solve Eq. 2


@dataclass(frozen=True, kw_only=True)
class CswmConfig(ExperimentConfig):
    """Notebook 04: C-SWM and C-SWM + SRN world models (Table 3). The settings of one model also name its game's
    ``in_channels``, ``action_dim``, ``copy_action`` and its K (``objects`` one int): ``experiment.model_settings``."""

    EXPERIMENT: ClassVar[str] = "cswm"
    games: tuple[str, ...]
    objects: tuple[int, ...] | int  # the numbers of object slots K to train (one model's settings: its K)
    n_seeds: int
    train_episodes: int
    eval_episodes: int
    episode_steps: int  # the length of an episode
    state_dim: int  # the size of an object's state vector (an element)
    mlp_hidden: int  # the width of the object encoder's and the transition GNN's MLPs
    cnn_hidden: int  # the object extractor's channels
    in_channels: int | None = None
    action_dim: int | None = None
    copy_action: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ClutrrConfig(ExperimentConfig):
    """Notebook 05: RN, RN + SRN and RN + GRN on CLUTRR-style kinship stories (Section 3.3)."""

    EXPERIMENT: ClassVar[str] = "clutrr"
    train_stories: int
    test_stories: int
    train_k: tuple[int, ...]
    word_dim: int  # the size of a word embedding
    lstm_hidden: int  # the LSTM's state: a sentence's embedding, an element, and z
    rn_hidden: int  # the width of the RN's g and f
    set_size: int  # the SRN's and GRN's elements (sentences padded with zeros)
    dropout: float  # on the sentence encoder
    weight_decay: Mapping[str, float]  # per model
    test_split: int | None = None  # the test split's version (experiment.run_settings)


CONFIGS = {cls.EXPERIMENT: cls for cls in (ResponsibilityConfig, CirclesConfig, SortOfClevrConfig, CswmConfig,
                                           ClutrrConfig)}
