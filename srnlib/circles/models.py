"""Set auto-encoders for the Circles Dataset: the baseline set generator and the same generator + SRN.

Shapes (B = batch, n = set size, d = element size, e = embedding size, C = n * group_channels):

    image (B, 3, 64, 64)
      -> CNN trunk -> feature map (B, C, h, w)
      -> split the channels into n groups, project each group (group_channels * h * w) to d -> S0 (B, n, d)
      SRN only:  z = H_embed(flattened feature map) (B, e);  S = SetRefiner(H_agg)(S0, z)   (Algorithm 1)
      -> decoder F (Eq. 4): every element on its own through shared transposed convolutions to RGB + a logit
         (B, n, 4, 64, 64); softmax over the n elements weights the sigmoid RGB images
      -> reconstruction (B, 3, 64, 64) = sum_i weight_i * sigmoid(rgb_i)

The baseline and the SRN model share every module except ``H_embed`` and ``H_agg``, so their trainable parameters
differ exactly by those two. Elements are kept at unit scale (layer normalisation over d without learned
parameters, for S0 and for the refined set) so the inner learning rate means the same thing at every width.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..pooling import SetEncoder
from ..refine import SetRefiner

IMAGE_SIZE = 64
RGB_BIAS_INIT = -2.0  # sigmoid(-2) = 0.12: initial colour of every element


class Decomposition(NamedTuple):
    """What the set auto-encoders return."""

    reconstruction: torch.Tensor  # (B, 3, 64, 64): sum over elements of weights * rgb
    element_images: torch.Tensor  # (B, n, 3, 64, 64): weights * rgb, each element's share of the reconstruction
    weights: torch.Tensor  # (B, n, 1, 64, 64): softmax over elements of the decoded logits
    set: torch.Tensor  # (B, n, d): the set that was decoded (S0 for the baseline, the refined S for SRN)
    initial_set: torch.Tensor  # (B, n, d): S0 from the generator


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_images(images) -> None:
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a torch.Tensor (B, 3, 64, 64), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1:] != (3, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must have shape (B, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")


class SetGenerator(nn.Module):
    """The baseline ``G``: CNN -> feature map whose channels are split into ``n`` groups -> ``n`` elements.

    ``forward(images (B, 3, 64, 64)) -> (S0 (B, n, d), feature map (B, n * group_channels, h, w))``.
    Each group has its own linear projection (one batched ``einsum``, no loop over elements).
    """

    def __init__(self, n: int, d: int, channels: tuple = (32, 64, 64), group_channels: int = 4):
        super().__init__()
        self.n, self.d = _positive_int(n, "n"), _positive_int(d, "d")
        self.group_channels = _positive_int(group_channels, "group_channels")
        if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty tuple of positive ints, got {channels!r}")
        layers: list[nn.Module] = []
        previous = 3
        for width in channels:  # each layer halves the resolution
            layers += [nn.Conv2d(previous, width, 4, stride=2, padding=1), nn.ReLU()]
            previous = width
        layers.append(nn.Conv2d(previous, n * group_channels, 3, padding=1))
        self.trunk = nn.Sequential(*layers)
        self.feature_size = IMAGE_SIZE // 2 ** len(channels)
        group_features = group_channels * self.feature_size ** 2
        self.project_weight = nn.Parameter(torch.randn(n, group_features, d) / group_features ** 0.5)
        self.project_bias = nn.Parameter(torch.zeros(n, d))

    @property
    def feature_dim(self) -> int:
        """Size of the flattened feature map, the input of ``H_embed``."""
        return self.n * self.group_channels * self.feature_size ** 2

    def forward(self, images: torch.Tensor):
        """images (B, 3, 64, 64) -> (S0 (B, n, d) at unit scale per element, features (B, C, h, w))."""
        _check_images(images)
        features = self.trunk(images)
        groups = features.flatten(2).view(images.shape[0], self.n, -1)  # (B, n, group_channels * h * w)
        elements = torch.einsum("bnf,nfd->bnd", groups, self.project_weight) + self.project_bias
        return normalise_elements(elements), features


def normalise_elements(elements: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over each element's d features: (B, n, d) -> (B, n, d)."""
    return nn.functional.layer_norm(elements, elements.shape[-1:])


def upsampling_stack(channels: tuple, out_channels: int = 4) -> nn.Sequential:
    """Eq. 4's shared decoder body: transposed convolutions (kernel 4, stride 2) of widths ``channels`` then
    ``out_channels`` (RGB + a logit), ReLU between them; each doubles the resolution. (B, channels[0], h, w) ->
    (B, out_channels, h * 2 ** len(channels), w * 2 ** len(channels))."""
    layers: list[nn.Module] = []
    widths = list(channels) + [out_channels]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SetDecoder(nn.Module):
    """``F`` of Eq. 4: ``(B, n, d) -> Decomposition`` parts, each element decoded on its own by shared layers.

    ``channels`` are the widths of the transposed convolutions; a linear layer maps an element to a
    ``channels[0] x start x start`` map, and every transposed convolution doubles the resolution up to 64 x 64.
    """

    def __init__(self, d: int, channels: tuple = (32, 32, 16), start: int = 8):
        super().__init__()
        self.d = _positive_int(d, "d")
        self.start = _positive_int(start, "start")
        if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty tuple of positive ints, got {channels!r}")
        if start * 2 ** len(channels) != IMAGE_SIZE:
            raise ValueError(f"start * 2 ** len(channels) must be {IMAGE_SIZE}, got start={start}, "
                             f"{len(channels)} transposed convolutions")
        self.channels = tuple(channels)
        self.project = nn.Sequential(nn.Linear(d, channels[0] * start * start), nn.ReLU())
        self.deconv = upsampling_stack(channels)
        with torch.no_grad():  # start the colours near the images' dark mean, so early steps don't saturate them
            self.deconv[-1].bias[:3].fill_(RGB_BIAS_INIT)

    def forward(self, elements: torch.Tensor):
        """elements (B, n, d) -> (reconstruction (B, 3, 64, 64), element images (B, n, 3, 64, 64),
        weights (B, n, 1, 64, 64))."""
        batch, n, _ = elements.shape
        hidden = self.project(elements.reshape(batch * n, self.d))
        decoded = self.deconv(hidden.view(batch * n, self.channels[0], self.start, self.start))
        decoded = decoded.view(batch, n, 4, IMAGE_SIZE, IMAGE_SIZE)
        rgb, logit = torch.sigmoid(decoded[:, :, :3]), decoded[:, :, 3:]
        weights = torch.softmax(logit, dim=1)
        element_images = weights * rgb
        return element_images.sum(dim=1), element_images, weights


class BaselineAutoencoder(nn.Module):
    """Baseline: ``F(G(image))``. ``forward(images (B, 3, 64, 64)) -> Decomposition``."""

    def __init__(self, n: int = 16, d: int = 10, encoder_channels: tuple = (32, 64, 64), group_channels: int = 4,
                 decoder_channels: tuple = (32, 32, 16), decoder_start: int = 8):
        super().__init__()
        self.generator = SetGenerator(n, d, tuple(encoder_channels), group_channels)
        self.decoder = SetDecoder(d, tuple(decoder_channels), decoder_start)

    def make_set(self, images: torch.Tensor):
        """images (B, 3, 64, 64) -> (set to decode (B, n, d), S0 (B, n, d))."""
        initial, _ = self.generator(images)
        return initial, initial

    def forward(self, images: torch.Tensor) -> Decomposition:
        """images (B, 3, 64, 64) -> Decomposition(reconstruction (B, 3, 64, 64), element_images (B, n, 3, 64, 64),
        weights (B, n, 1, 64, 64), set (B, n, d), initial_set (B, n, d))."""
        elements, initial = self.make_set(images)
        reconstruction, element_images, weights = self.decoder(elements)
        return Decomposition(reconstruction, element_images, weights, elements, initial)


class SRNAutoencoder(BaselineAutoencoder):
    """The same generator and decoder with a Set Refiner Network in between.

    ``H_embed`` is a linear map of the flattened feature map to ``e``; ``H_agg`` a ``SetEncoder`` (MLP + FSPool).
    The refined set is re-normalised to unit scale before decoding, like ``S0``.
    """

    def __init__(self, n: int = 16, d: int = 10, encoder_channels: tuple = (32, 64, 64), group_channels: int = 4,
                 decoder_channels: tuple = (32, 32, 16), decoder_start: int = 8, e: int = 100,
                 agg_hidden: int = 512, inner_steps: int = 10, inner_lr: float = 0.1, inner_momentum: float = 0.5,
                 inner_grad_clip: float | None = None):
        super().__init__(n, d, encoder_channels, group_channels, decoder_channels, decoder_start)
        self.embed = nn.Linear(self.generator.feature_dim, _positive_int(e, "e"))
        self.refiner = SetRefiner(SetEncoder(d, e, hidden=agg_hidden), inner_steps, inner_lr, inner_momentum,
                                  inner_grad_clip)

    def make_set(self, images: torch.Tensor, steps: int | None = None):
        """images (B, 3, 64, 64) -> (refined set (B, n, d), S0 (B, n, d)); ``steps`` overrides the inner steps."""
        initial, features = self.generator(images)
        z = self.embed(features.flatten(1))
        return normalise_elements(self.refiner(initial, z, steps=steps)), initial

    def srn_parameters(self) -> list:
        """The parameters the baseline does not have: ``H_embed`` and ``H_agg``."""
        return list(self.embed.parameters()) + list(self.refiner.parameters())


def build_model(kind: str, settings: dict) -> BaselineAutoencoder:
    """``kind`` "baseline" or "srn" from a circles settings dict (see ``srnlib.profiles``)."""
    common = dict(n=settings["n"], d=settings["d"], encoder_channels=tuple(settings["encoder_channels"]),
                  group_channels=settings["group_channels"], decoder_channels=tuple(settings["decoder_channels"]),
                  decoder_start=settings["decoder_start"])
    if kind == "baseline":
        return BaselineAutoencoder(**common)
    if kind == "srn":
        return SRNAutoencoder(**common, e=settings["e"], agg_hidden=settings["agg_hidden"],
                              inner_steps=settings["inner_steps"], inner_lr=settings["inner_lr"],
                              inner_momentum=settings["inner_momentum"], inner_grad_clip=settings["inner_grad_clip"])
    raise ValueError(f"kind must be 'baseline' or 'srn', got {kind!r}")
