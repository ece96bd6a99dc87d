"""The Relation Network (Santoro et al. 2017) for Sort-of-CLEVR, and the same network with a Set Refiner inserted.

    image (B, 3, 75, 75) --conv x4 (24 ch, stride 2, batch norm)--> feature map (B, 24, 5, 5)
        --> 25 "objects": each cell's 24 features + its (x, y) in [-1, 1]        S0: (B, 25, 26)
        [RN+SRN only: S = SRN(S0, flattened feature map), H_embed linear]      S:  (B, 25, 26)
    g-MLP (4 x 256) over all 625 ordered pairs (o_i, o_j, question) --sum--> (B, 256)
    f-MLP (256, 256, dropout 0.5) --> answer logits (B, 10)
    (256 is the paper's width, ``rn_hidden`` in the settings; the CPU profiles use narrower g and f)

The refined elements carry their coordinates with them: refinement may move a cell's content *and* its position
tag, so an object split over two cells can be gathered into one element. Both models share every other parameter
shape; ``RelationNetwork(config)`` is the baseline, ``RelationNetwork(config, srn=True)`` the RN+SRN (both from a
``srnlib.config.SortOfClevrConfig``). ``forward(..., inner_steps=0)`` evaluates an SRN-trained model with the
refinement switched off (the paper's ablation).
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import check_number, check_positive
from ..config import SortOfClevrConfig
from ..pooling import SetEncoder
from ..refine import SRN, inner_problem
from .data import COLOURS_RGB, HALF_SIZE, IMAGE_SIZE, N_OBJECTS, QUESTION_SIZE, SHAPE_NAMES, check_objects

N_ANSWERS = 10
GRID = 5  # 75 -> 38 -> 19 -> 10 -> 5
CHANNELS = 24


STEMS = ("conv-bn-relu", "conv-relu-bn", "conv-relu", "pixel-conv-bn-relu", "patch-conv-bn-relu")
LAYER_ORDERS = {"conv-bn-relu": ("conv", "bn", "relu"), "conv-relu-bn": ("conv", "relu", "bn"),
                "conv-relu": ("conv", "relu")}  # the other stems order their layers as conv-bn-relu
STRIDED = [dict(kernel_size=3, stride=2, padding=1)] * 4  # 75 -> 38 -> 19 -> 10 -> 5
STEM_GEOMETRY = {"pixel-conv-bn-relu": [dict(kernel_size=1)] * 2 + STRIDED,  # two 1 x 1 layers first
                 "patch-conv-bn-relu": [dict(kernel_size=k, stride=k) for k in (5, 3, 1, 1)]}  # 75 -> 15 -> 5 -> 5


def cell_coordinates() -> torch.Tensor:
    """The 25 row-major cells' (x, y) in [-1, 1]: (25, 2), the tags ``ConvObjects`` appends to its cells."""
    axis = torch.linspace(-1, 1, GRID)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def cell_mean_rgb(images: torch.Tensor) -> torch.Tensor:
    """Each row-major 15 x 15 px cell's mean colour: images (B, 3, 75, 75) -> (B, 25, 3) (any number of channels:
    (B, C, 75, 75) -> (B, 25, C))."""
    return nn.functional.adaptive_avg_pool2d(images, GRID).flatten(2).transpose(1, 2)


def element_dim(cell_rgb: bool = False, channels: int = CHANNELS, cell_colours: int = 0) -> int:
    """The size of one set element: the stem's channels, 3 for ``cell_rgb``'s mean colour, ``cell_colours`` for the
    learned colour histogram, 2 coordinates."""
    return channels + (3 if cell_rgb else 0) + cell_colours + 2


class CellColours(nn.Module):
    """A learned soft colour histogram per cell: images (B, 3, 75, 75) -> (B, 25, K).

    Each pixel is assigned softly to K learned colour classes (a 1 x 1 conv of the pixel's RGB, mapped to [-1, 1],
    then a softmax over the K classes), and each 15 x 15 px cell averages its pixels' assignments: the fraction of
    the cell in each class. Unlike the cell's mean RGB, whose colours mix with the white background on a line
    towards white (grey lies inside the convex hull of the others), the classes are categorical: an object's
    colour shows as mass in its own classes, in proportion to how much of the cell it covers. With K >= 7 the
    palette's 7 colours (background included) get linearly independent distributions, so a linear layer can read
    each colour's share of a cell exactly; with mean RGB it cannot (7 colours in 3 numbers). The 1 x 1 conv starts
    with weights of standard deviation ``sharpness`` (it does not know the palette: any colour gets some
    distribution over the K classes; at K = 16 and 1.0 the palette's closest two distributions are 0.14-0.3 apart
    over 20 seeds, sharper starts collapse colours onto one class) and is trained with the rest of the network.
    A deviation from the paper's perception (``SortOfClevrConfig.cell_colours``).

    ``normalise=True`` batch-normalises each class's share over the batch's cells: an object covers at most ~44 %
    of a cell and the white background most of every cell, so the raw shares of the object colours are small
    numbers that g's first layer needs large weights (many Adam steps) to read.
    """

    def __init__(self, classes: int, sharpness: float = 1.0, normalise: bool = False):
        super().__init__()
        check_positive(classes, "classes", integer=True)
        self.assign = nn.Conv2d(3, classes, kernel_size=1)
        nn.init.normal_(self.assign.weight, std=sharpness)
        nn.init.zeros_(self.assign.bias)
        self.norm = nn.BatchNorm2d(classes) if normalise else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        shares = torch.softmax(self.assign(2 * images - 1), dim=1)  # (B, K, 75, 75), each pixel's classes sum to 1
        histogram = nn.functional.adaptive_avg_pool2d(shares, GRID)  # (B, K, 5, 5): per class, the cell's mean
        if self.norm is not None:
            histogram = self.norm(histogram)
        return histogram.flatten(2).transpose(1, 2)  # (B, 25, K), row-major cells


ELEMENT_DIM = element_dim()  # 26: the paper's elements (24 channels + (x, y))


class ConvObjects(nn.Module):
    """The RN's perceptual stage: image (B, 3, 75, 75) -> (objects (B, 25, 26), feature map (B, 24, 5, 5)).

    ``stem`` orders each of the four layers: "conv-bn-relu" (batch norm before the ReLU, the default),
    "conv-relu-bn" (Santoro et al.'s and the peers' order: ReLU, then batch norm), "conv-relu" (no normalisation) or
    "pixel-conv-bn-relu" (two 1 x 1 conv layers first, 3 -> 24 -> 24 with batch norm and ReLU, so each pixel's colour
    can be told apart before the strided layers mix neighbouring pixels: grey lies inside the convex hull of the
    other colours and white, so one ReLU layer cannot single it out) or "patch-conv-bn-relu" (four conv layers
    whose receptive field is exactly one 15 x 15 px cell: 5 x 5 stride 5, 3 x 3 stride 3, then two 1 x 1, each with
    batch norm and ReLU; the cells do not overlap, so a cell's features describe its own pixels only).
    ``cell_rgb=True`` appends each cell's mean colour (the image average-pooled to 5 x 5) to its features: objects
    (B, 25, 29), a deviation from the paper (see ``SortOfClevrConfig.cell_rgb``); ``cell_colours=K`` appends each
    cell's learned colour histogram (``CellColours``, K values; batch-normalised with ``cell_colours_norm``) after
    them.
    """

    def __init__(self, channels: int = CHANNELS, stem: str = "conv-bn-relu", cell_rgb: bool = False,
                 cell_colours: int = 0, cell_colours_norm: bool = False):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        order = LAYER_ORDERS.get(stem, LAYER_ORDERS["conv-bn-relu"])
        layers, width = [], 3
        for geometry in STEM_GEOMETRY.get(stem, STRIDED):
            parts = {"conv": nn.Conv2d(width, channels, **geometry), "bn": nn.BatchNorm2d(channels), "relu": nn.ReLU()}
            layers += [parts[part] for part in order]
            width = channels
        self.cell_rgb = cell_rgb
        self.convs = nn.Sequential(*layers)
        if not isinstance(cell_colours, int) or cell_colours < 0:
            raise ValueError(f"cell_colours must be a non-negative integer, got {cell_colours!r}")
        self.colours = CellColours(cell_colours, normalise=cell_colours_norm) if cell_colours else None
        self.register_buffer("coordinates", cell_coordinates(), persistent=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images must have shape (batch, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")
        feature_map = self.convs(images)
        cells = feature_map.flatten(2).transpose(1, 2)  # (B, 25, 24), row-major cells
        if self.cell_rgb:
            cells = torch.cat([cells, cell_mean_rgb(images)], dim=2)
        if self.colours is not None:
            cells = torch.cat([cells, self.colours(images)], dim=2)
        tags = self.coordinates.expand(images.shape[0], -1, -1)
        return torch.cat([cells, tags], dim=2), feature_map


AGGREGATES = ("sum", "mean")
INITS = ("default", "he")


class RelationHead(nn.Module):
    """g over all ordered pairs with the question, summed, then f: objects (B, N, D), question (B, 11) -> (B, 10).

    Invariant to the order of the objects (a sum over all pairs). ``aggregate="mean"`` divides the sum by the N^2
    pairs: the same family of functions (f's first layer can absorb a constant factor), but f's input no longer
    grows with the number of pairs, which is what Adam's step sizes see. ``init="he"`` draws g's and f's ReLU
    layers from He (Kaiming) normal with zero biases: PyTorch's default init shrinks the signal through g's four
    layers to ~0.02 per unit, so g's output barely depends on its pair at the start of training.
    """

    def __init__(self, element_dim: int = ELEMENT_DIM, hidden: int = 256, dropout: float = 0.5,
                 aggregate: str = "sum", init: str = "default"):
        super().__init__()
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.aggregate = aggregate
        self.g = nn.Sequential(nn.Linear(2 * element_dim + QUESTION_SIZE, hidden), nn.ReLU(),
                               nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                               nn.Linear(hidden, hidden), nn.ReLU())
        self.f = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                               nn.Dropout(dropout), nn.Linear(hidden, N_ANSWERS))
        if init == "he":
            for layer in list(self.g) + list(self.f)[:-1]:  # every layer followed by a ReLU
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    nn.init.zeros_(layer.bias)

    def forward(self, objects: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
        """objects (B, n, D) and questions (B, 11) -> logits (B, 10); or questions (B, k, 11), k questions about
        each set, -> logits (B, k, 10) (the per-object part of g's first layer is then shared by the k questions)."""
        batch, n, dim = objects.shape
        if questions.dim() not in (2, 3) or questions.shape[0] != batch or questions.shape[-1] != QUESTION_SIZE:
            raise ValueError(f"questions must have shape ({batch}, {QUESTION_SIZE}) or ({batch}, k, {QUESTION_SIZE}), "
                             f"got {tuple(questions.shape)}")
        asked = questions.view(batch, -1, QUESTION_SIZE)  # (B, k, 11)
        # g's first layer on the concatenation [o_i, o_j, q] equals W_i o_i + W_j o_j + W_q q + b: computed per
        # object and per question, then broadcast over the n x n pairs (the same function, far fewer multiply-adds)
        first = self.g[0]
        w_i, w_j, w_q = first.weight.split([dim, dim, QUESTION_SIZE], dim=1)
        per_i = (objects @ w_i.T).view(batch, 1, n, 1, -1)  # o_i's part, (B, 1, n, 1, hidden)
        per_j = (objects @ w_j.T).view(batch, 1, 1, n, -1)  # o_j's part
        per_q = (asked @ w_q.T + first.bias).view(batch, -1, 1, 1, per_i.shape[-1])  # (B, k, 1, 1, hidden)
        relations = self.g[1:](per_i + per_j + per_q)  # (B, k, n, n, hidden)
        pooled = relations.sum(dim=(2, 3)) if self.aggregate == "sum" else relations.mean(dim=(2, 3))
        logits = self.f(pooled)  # (B, k, 10)
        return logits.view(batch, N_ANSWERS) if questions.dim() == 2 else logits


class RelationNetwork(nn.Module):
    """RN or RN+SRN (``srn=True``) from a ``SortOfClevrConfig``: (images (B, 3, 75, 75), questions (B, 11)) -> answer
    logits (B, 10), or questions (B, k, 11) (k questions about each image; its objects are computed once) -> logits
    (B, k, 10). ``refiner``: the SRN (None for the RN), H_embed a linear map of the flattened feature map.

    ``config.s0_gradient=False`` trains an RN+SRN as the authors' released Circles code does (see
    ``SRNAutoencoder``): the outer loss reaches the perceptual stage only through z, never through S_0 (detached),
    so the set the head reads can change only through the loop's steps. z then reads the whole stage's output (the
    objects, flattened in cell order), so that every part of it (e.g. the colour histogram) still learns."""

    def __init__(self, config: SortOfClevrConfig, srn: bool = False):
        super().__init__()
        _check_config(config)
        # H_agg is made first: a seed gives the same initial weights as before the SRN became one module
        dim = element_dim(config.cell_rgb, cell_colours=config.cell_colours)
        agg = SetEncoder(dim, config.refiner.embed_dim, hidden=config.refiner.agg_hidden) if srn else None
        self.objects = ConvObjects(stem=config.stem, cell_rgb=config.cell_rgb, cell_colours=config.cell_colours,
                                   cell_colours_norm=config.cell_colours_norm)
        if not isinstance(config.s0_gradient, bool):
            raise TypeError(f"s0_gradient must be a bool, got {config.s0_gradient!r}")
        self.s0_gradient = config.s0_gradient
        weight = check_number(config.inner_loss_weight, "inner_loss_weight", minimum=0.0)
        self.inner_loss_weight = weight if srn else 0.0  # the RN has no loop: it ignores the setting
        embed_input = CHANNELS * GRID * GRID if config.s0_gradient else GRID * GRID * dim
        self.refiner = SRN(embed_input, dim, config.refiner, agg) if srn else None
        self.relations = _head(config, dim)

    def object_set(self, images: torch.Tensor, inner_steps: int | None = None) -> torch.Tensor:
        """The set the relational head sees: (B, 25, element_dim(...)) (26 by default), refined when the model has a
        refiner (``inner_steps``: the SRN's number of steps for this call, None: its own)."""
        objects, feature_map = self.objects(images)
        if self.refiner is None:
            return objects
        return self.refiner(*self._refiner_inputs(objects, feature_map), steps=inner_steps)

    def refined_set_and_residual(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the refined set (B, 25, D), the share of its inner loss the loop left, L(S_r) / L(S_0) (B,), L(S_0)
        detached): what the outer-loss term ``inner_loss_weight`` reads. DSPN (Zhang et al. 2019) adds L(S_r) to
        its outer loss so that the loop solves its problem; divided by L(S_0) the term cannot be met by shrinking z
        and H_agg's output (the scale of the problem). It can still be met by a z equal to H_agg(S_0), a problem
        with nothing to solve: with ``s0_gradient=True`` training finds that (docs/results.md)."""
        if self.refiner is None:
            raise ValueError("refined_set_and_residual needs an RN + SRN; this RN has no refiner")
        S0, features = self._refiner_inputs(*self.objects(images))
        z, loop = self.refiner.embed(features), self.refiner.loop
        refined = loop(S0, z)
        left = loop.inner_loss(refined, z) / loop.inner_loss(S0, z).detach().clamp_min(1e-12)
        return refined, left

    def _refiner_inputs(self, objects: torch.Tensor, feature_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(S_0, H_embed's input): (the cells, the flattened feature map), or with ``s0_gradient=False`` (the cells
        detached, the cells flattened)."""
        if self.s0_gradient:
            return objects, feature_map.flatten(1)
        return objects.detach(), objects.flatten(1)

    def forward(self, images: torch.Tensor, questions: torch.Tensor, inner_steps: int | None = None) -> torch.Tensor:
        return self.relations(self.object_set(images, inner_steps), questions)

    def inner_problem(self, images: torch.Tensor) -> dict[str, float]:
        """How much of Eq. 2 the SRN's loop solves on these images (B, 3, 75, 75): ``srnlib.refine.inner_problem``
        (inner loss at S_0 and S_r, ||z||^2, ||H_agg(S_0)||^2, the set's move), in eval mode."""
        if self.refiner is None:
            raise ValueError("inner_problem needs an RN + SRN; this RN has no refiner")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                objects, feature_map = self.objects(images)
            return inner_problem(self.refiner, *self._refiner_inputs(objects, feature_map))
        finally:
            self.train(was_training)


STATE_DIM = N_OBJECTS + len(SHAPE_NAMES) + 2  # colour one-hot, shape one-hot, (x, y)


def state_vectors(objects) -> torch.Tensor:
    """Object tables (n, 6, 4) [colour, x, y, shape] -> state descriptions float32 (n, 6, 10): each object as its
    colour one-hot (6), shape one-hot (2: square, circle) and centre (x, y) scaled from [5, 69] px to [-1, 1]."""
    table = torch.from_numpy(check_objects(objects)).float()
    if table.dim() != 3:
        raise ValueError(f"objects must have shape (n, {N_OBJECTS}, 4), got {tuple(table.shape)}")
    colour = nn.functional.one_hot(table[..., 0].long(), N_OBJECTS).float()
    shape = nn.functional.one_hot(table[..., 3].long(), len(SHAPE_NAMES)).float()
    middle, span = (IMAGE_SIZE - 1) / 2, (IMAGE_SIZE - 1) / 2 - HALF_SIZE
    return torch.cat([colour, shape, (table[..., 1:3] - middle) / span], dim=-1)


def grid_state_vectors(objects, colour: str = "one-hot") -> torch.Tensor:
    """Object tables (n, 6, 4) -> the 5 x 5 cells a perfect conv stem would give, float32 (n, 25, 10): each
    row-major 15 x 15 px cell holds the colour and shape one-hots of the object whose centre lies in it (zeros where
    none does; the later object wins the rare cell holding two centres) and the cell's own (x, y) in [-1, 1], as
    ``ConvObjects`` tags its cells. The state-description RN at the image RN's resolution: 25 elements, positions
    known only to the cell. ``colour="rgb"`` gives each object's colour as its RGB in [0, 1] (the first 3 of the 6
    colour entries, the rest 0) instead of a one-hot: does the head need categorical colours?"""
    if colour not in ("one-hot", "rgb"):
        raise ValueError(f"colour must be 'one-hot' or 'rgb', got {colour!r}")
    table = torch.from_numpy(check_objects(objects)).float()
    if table.dim() != 3:
        raise ValueError(f"objects must have shape (n, {N_OBJECTS}, 4), got {tuple(table.shape)}")
    n, cell = table.shape[0], IMAGE_SIZE / GRID
    column = (table[..., 1] / cell).long().clamp(0, GRID - 1)
    row = (table[..., 2] / cell).long().clamp(0, GRID - 1)
    states = state_vectors(objects)  # (n, 6, 10)
    if colour == "rgb":
        rgb = torch.tensor(COLOURS_RGB, dtype=torch.float32)[table[..., 0].long()] / 255.0  # (n, 6, 3)
        states[..., :N_OBJECTS] = torch.cat([rgb, torch.zeros(n, N_OBJECTS, N_OBJECTS - 3)], dim=-1)
    grid = torch.zeros(n, GRID * GRID, STATE_DIM)
    for k in range(table.shape[1]):  # 6 objects, each written into its cell for all n scenes at once
        grid[torch.arange(n), row[:, k] * GRID + column[:, k]] = states[:, k]
    grid[..., -2:] = cell_coordinates()
    return grid


class StateRelationNetwork(nn.Module):
    """The RN's relational head alone, reading the scene's true objects as vectors instead of a CNN's cells:
    (states (B, 6, 10) from ``state_vectors``, questions (B, 11) or (B, k, 11)) -> logits (B, 10) or (B, k, 10).

    Santoro et al.'s "state description" RN: a quick check that the head (g over the 36 ordered pairs with the
    question, sum, f) and the data can learn the task, without having to learn perception too."""

    def __init__(self, config: SortOfClevrConfig):
        super().__init__()
        _check_config(config)
        self.relations = _head(config, STATE_DIM)

    def forward(self, states: torch.Tensor, questions: torch.Tensor, inner_steps: int | None = None) -> torch.Tensor:
        if states.dim() != 3 or states.shape[-1] != STATE_DIM:
            raise ValueError(f"states must have shape (batch, objects, {STATE_DIM}), got {tuple(states.shape)}")
        return self.relations(states, questions)


def _check_config(config) -> None:
    if not isinstance(config, SortOfClevrConfig):
        raise TypeError(f"config must be a SortOfClevrConfig (SortOfClevrConfig.from_settings(cfg) for a settings "
                        f"dict), got {type(config).__name__}")
    check_positive(config.rn_hidden, "rn_hidden", integer=True)


def _head(config: SortOfClevrConfig, element_dim: int) -> RelationHead:
    """The relational head of width ``rn_hidden`` with f's ``dropout``, the ``aggregate`` over pairs and ``init``."""
    return RelationHead(element_dim, config.rn_hidden, config.dropout, config.aggregate, config.init)


def build_model(kind: str, config: SortOfClevrConfig) -> RelationNetwork:
    """``kind`` "rn" or "rn_srn" from a ``SortOfClevrConfig`` (``SortOfClevrConfig.from_settings(cfg)``)."""
    if kind not in ("rn", "rn_srn"):
        raise ValueError(f"kind must be 'rn' or 'rn_srn', got {kind!r}")
    return RelationNetwork(config, srn=kind == "rn_srn")


@torch.no_grad()
def answer_probabilities(model: nn.Module, images: torch.Tensor, questions: torch.Tensor, batch_size: int = 256,
                         inner_steps: int | None = None) -> torch.Tensor:
    """Softmax over the answers (N, N_ANSWERS) for images (N, 3, 75, 75) and questions (N, 11), in batches, in eval
    mode, without a graph (an RN+SRN's loop takes its inner gradients all the same). ``inner_steps``: an RN+SRN's
    refinement steps (None: its own)."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [model(images[i:i + batch_size].to(device), questions[i:i + batch_size].to(device),
                    inner_steps=inner_steps).softmax(dim=1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def predict(model: nn.Module, images: torch.Tensor, questions: torch.Tensor, batch_size: int = 256,
            inner_steps: int | None = None) -> torch.Tensor:
    """Answer indices (N,) for images (N, 3, 75, 75) and questions (N, 11): ``answer_probabilities``' argmax."""
    return answer_probabilities(model, images, questions, batch_size, inner_steps).argmax(dim=1)
