"""Set auto-encoders for the Circles Dataset: the baseline set generator and the same generator + SRN.

Shapes (B = batch, n = set size, d = element size, e = embedding size, C = n * group_channels):

    image (B, 3, 64, 64)
      -> CNN trunk (batch-normalised) -> feature map (B, C, h, w)
      -> split the channels into n groups, project each group (group_channels * h * w) to d with one shared
         linear map -> S0 (B, n, d)
      SRN only:  S = SRN(S0, flattened feature map): z = H_embed(features) (B, e), S0 refined   (Algorithm 1)
      -> decoder F (Eq. 4): every element on its own through shared transposed convolutions (B * n, 3, 64, 64)
      -> softmax over the n elements weights the sigmoid images; reconstruction (B, 3, 64, 64) = the weighted sum

The baseline and the SRN model share every module except the SRN (``H_embed`` and ``H_agg``), so their trainable
parameters differ exactly by those two; both are built from a ``srnlib.config.CirclesConfig`` (``build_model``). The
architecture follows the authors' Circles code (CUAI/BetterSetRepresentations): batch normalisation in the encoder
and the decoder, one projection shared by all channel groups (their 1x1 ``Conv1d``) and raw (unnormalised) elements.
``attention="rgb"`` is Eq. 4 as the paper writes it and the authors coded it, ``I_i = TransposeConv(S_i)``, ``Y =
sum_i softmax_i(I) * sigmoid(I_i)``: the softmax over the elements is taken of the RGB outputs themselves, per
channel, so an element both colours a pixel and claims it with the same number. ``attention="logit"`` is a common
variant (not the paper's): a fourth output channel is a mask logit.
"""
from __future__ import annotations

from typing import NamedTuple

import dataclasses

import torch
from torch import nn

from .._checks import check_int, check_ints
from ..config import CirclesConfig
from ..refine import SRN, Refinement

IMAGE_SIZE = 64
ATTENTIONS = ("rgb", "logit")
RGB_BIAS_INIT = -2.0  # attention="logit": sigmoid(-2) = 0.12, the initial colour of every element


class Decomposition(NamedTuple):
    """What the set auto-encoders return."""

    reconstruction: torch.Tensor  # (B, 3, 64, 64): sum over elements of weights * rgb (clamped to [0, 1] for "rgb")
    element_images: torch.Tensor  # (B, n, 3, 64, 64): weights * rgb, each element's share of the reconstruction
    weights: torch.Tensor  # (B, n, 3, 64, 64) for "rgb" (one per channel), (B, n, 1, 64, 64) for "logit"
    set: torch.Tensor  # (B, n, d): the set that was decoded (S0 for the baseline, the refined S for SRN)
    initial_set: torch.Tensor  # (B, n, d): S0 from the generator


def _positive_int(value, name: str) -> int:
    return check_int(value, name, 1)


def _check_channels(channels, name: str) -> tuple:
    if not isinstance(channels, (list, tuple)) or not channels:
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {channels!r}")
    return check_ints(channels, name, 1)


def _check_attention(attention) -> None:
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")


def _check_elements(elements, d: int) -> None:
    if not torch.is_tensor(elements) or elements.dim() != 3 or elements.shape[-1] != d:
        shape = tuple(elements.shape) if torch.is_tensor(elements) else type(elements).__name__
        raise ValueError(f"elements must have shape (B, n, {d}), got {shape}")


def _check_images(images) -> None:
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a torch.Tensor (B, 3, 64, 64), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1:] != (3, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must have shape (B, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")


class SetGenerator(nn.Module):
    """The baseline ``G``: CNN -> feature map whose channels are split into ``n`` groups -> ``n`` elements.

    ``forward(images (B, 3, 64, 64)) -> (S0 (B, n, d), feature map (B, n * group_channels, h, w))``.
    Every convolution but the first is batch-normalised; one linear map, shared by all groups, turns each group
    into an element (the authors' 1x1 ``Conv1d``), so the groups differ only by where they sit in the feature map.
    """

    def __init__(self, n: int, d: int, channels: tuple = (32, 64, 64), group_channels: int = 4):
        super().__init__()
        self.n, self.d = _positive_int(n, "n"), _positive_int(d, "d")
        self.group_channels = _positive_int(group_channels, "group_channels")
        channels = _check_channels(channels, "channels")
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, stride=2, padding=1), nn.ReLU()]
        for a, b in zip(channels[:-1], channels[1:]):  # each layer halves the resolution
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        layers += [nn.Conv2d(channels[-1], n * group_channels, 3, padding=1, bias=False),
                   nn.BatchNorm2d(n * group_channels), nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.feature_size = IMAGE_SIZE // 2 ** len(channels)
        self.project = nn.Linear(group_channels * self.feature_size ** 2, d)

    @property
    def feature_dim(self) -> int:
        """Size of the flattened feature map, the input of ``H_embed``."""
        return self.n * self.group_channels * self.feature_size ** 2

    def forward(self, images: torch.Tensor):
        """images (B, 3, 64, 64) -> (S0 (B, n, d), features (B, C, h, w))."""
        _check_images(images)
        features = self.trunk(images)
        groups = features.flatten(2).view(images.shape[0], self.n, -1)  # (B, n, group_channels * h * w)
        return self.project(groups), features


def upsampling_stack(channels: tuple, out_channels: int = 4, batch_norm: bool = False) -> nn.Sequential:
    """Eq. 4's shared decoder body: transposed convolutions (kernel 4, stride 2) of widths ``channels`` then
    ``out_channels``, ReLU (after batch normalisation if ``batch_norm``) between them; each doubles the resolution.
    (B, channels[0], h, w) -> (B, out_channels, h * 2 ** len(channels), w * 2 ** len(channels))."""
    layers: list[nn.Module] = []
    widths = list(channels) + [out_channels]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        last = i == len(widths) - 2
        layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=last or not batch_norm))
        if not last:
            layers += [nn.BatchNorm2d(b), nn.ReLU()] if batch_norm else [nn.ReLU()]
    return nn.Sequential(*layers)


class SetDecoder(nn.Module):
    """``F`` of Eq. 4: ``(B, n, d) -> Decomposition`` parts, each element decoded on its own by shared layers.

    ``channels`` are the widths of the transposed convolutions; a linear layer (batch-normalised) maps an element
    to a ``channels[0] x start x start`` map, and every transposed convolution doubles the resolution up to 64 x 64.
    ``attention`` is "rgb" (Eq. 4 and the authors' code: softmax over elements of the RGB outputs, per channel, and
    the sum clamped to [0, 1]) or "logit" (a variant: a fourth output channel is the logit of the softmax).
    """

    def __init__(self, d: int, channels: tuple = (32, 32, 16), start: int = 8, attention: str = "rgb"):
        super().__init__()
        self.d = _positive_int(d, "d")
        self.start = _positive_int(start, "start")
        self.channels = _check_channels(channels, "channels")
        if start * 2 ** len(channels) != IMAGE_SIZE:
            raise ValueError(f"start * 2 ** len(channels) must be {IMAGE_SIZE}, got start={start}, "
                             f"{len(channels)} transposed convolutions")
        _check_attention(attention)
        self.attention = attention
        hidden = channels[0] * start * start
        self.project = nn.Sequential(nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.deconv = upsampling_stack(self.channels, 3 if attention == "rgb" else 4, batch_norm=True)
        if attention == "logit":  # start the colours near the images' dark mean, so early steps don't saturate them
            with torch.no_grad():
                self.deconv[-1].bias[:3].fill_(RGB_BIAS_INIT)

    def forward(self, elements: torch.Tensor):
        """elements (B, n, d) -> (reconstruction (B, 3, 64, 64), element images (B, n, 3, 64, 64),
        weights (B, n, 3 or 1, 64, 64))."""
        _check_elements(elements, self.d)
        batch, n, _ = elements.shape
        hidden = self.project(elements.reshape(batch * n, self.d))
        decoded = self.deconv(hidden.view(batch * n, self.channels[0], self.start, self.start))
        return mix_elements(decoded.view(batch, n, -1, IMAGE_SIZE, IMAGE_SIZE), self.attention)


class BroadcastDecoder(nn.Module):
    """A spatial broadcast decoder (Watters et al. 2019, as in Slot Attention): ``(B, n, d) -> Decomposition`` parts.

    Not the paper's decoder: a variant for CPU budgets. Every element is broadcast to every pixel and decoded there
    together with the pixel's coordinates by a per-pixel MLP (1 x 1 convolutions)::

        h(p) = relu(A s + P(p)),  P(p) = a learned linear map of (x, y, x^2 + y^2) of pixel p in [-1, 1]^2
        out(p) = W2 relu(W1 h(p))                 -> 3 (attention "rgb") or 4 ("logit") channels per pixel

    With the squared radius among the coordinate features, a circle's inside ``(x - a)^2 + (y - b)^2 < r^2`` is one
    linear function of them, so drawing a circle at any place is easy to learn and the training budget goes into
    *which* element draws *which* circle, the question Table 1 asks. The mixture over elements is Eq. 4's
    (``mix_elements``), as in ``SetDecoder``.
    """

    def __init__(self, d: int, hidden: int = 32, attention: str = "rgb"):
        super().__init__()
        self.d, self.hidden = _positive_int(d, "d"), _positive_int(hidden, "hidden")
        _check_attention(attention)
        self.attention = attention
        self.element = nn.Linear(d, hidden)
        self.position = nn.Linear(3, hidden, bias=False)
        out = 3 if attention == "rgb" else 4
        self.pixel_mlp = nn.Sequential(nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, out, 1))
        axis = torch.linspace(-1, 1, IMAGE_SIZE)
        y, x = torch.meshgrid(axis, axis, indexing="ij")
        self.register_buffer("coordinates", torch.stack([x, y, x * x + y * y]), persistent=False)  # (3, 64, 64)
        if attention == "logit":
            with torch.no_grad():
                self.pixel_mlp[-1].bias[:3].fill_(RGB_BIAS_INIT)

    def forward(self, elements: torch.Tensor):
        """elements (B, n, d) -> (reconstruction (B, 3, 64, 64), element images (B, n, 3, 64, 64),
        weights (B, n, 3 or 1, 64, 64))."""
        _check_elements(elements, self.d)
        batch, n, _ = elements.shape
        position = self.position(self.coordinates.flatten(1).T).T.view(1, self.hidden, IMAGE_SIZE, IMAGE_SIZE)
        hidden = torch.relu(self.element(elements.reshape(batch * n, self.d))[:, :, None, None] + position)
        decoded = self.pixel_mlp(hidden)
        return mix_elements(decoded.view(batch, n, -1, IMAGE_SIZE, IMAGE_SIZE), self.attention)


DECODERS = ("deconv", "broadcast")


def mix_elements(decoded: torch.Tensor, attention: str = "rgb"):
    """Eq. 4's mixture of the decoded elements: decoded (B, n, 3 or 4, H, W) -> (reconstruction (B, 3, H, W),
    element images (B, n, 3, H, W), weights (B, n, 3 or 1, H, W)), the weights a softmax over the n elements.

    "rgb" (Eq. 4): the weights are the softmax of the 3 outputs themselves, per channel, the element images
    ``weights * sigmoid(outputs)`` and the reconstruction their sum, clamped to [0, 1] as in the authors' code.
    "logit": channel 4 is the logit of one weight per pixel, shared by the sigmoid RGB of channels 1-3.
    """
    _check_attention(attention)
    channels = 3 if attention == "rgb" else 4
    if not torch.is_tensor(decoded) or decoded.dim() != 5 or decoded.shape[2] != channels:
        shape = tuple(decoded.shape) if torch.is_tensor(decoded) else type(decoded).__name__
        raise ValueError(f"decoded must have shape (B, n, {channels}, H, W) for attention={attention!r}, got {shape}")
    if attention == "rgb":
        weights = torch.softmax(decoded, dim=1)
        element_images = weights * torch.sigmoid(decoded)
        return element_images.sum(dim=1).clamp(0, 1), element_images, weights
    weights = torch.softmax(decoded[:, :, 3:], dim=1)
    element_images = weights * torch.sigmoid(decoded[:, :, :3])
    return element_images.sum(dim=1), element_images, weights


class BaselineAutoencoder(nn.Module):
    """Baseline: ``F(G(image))``, built from a ``CirclesConfig``. ``forward(images (B, 3, 64, 64)) -> Decomposition``."""

    def __init__(self, config: CirclesConfig):
        super().__init__()
        if not isinstance(config, CirclesConfig):
            raise TypeError(f"config must be a CirclesConfig (CirclesConfig.from_settings(cfg) for a settings dict), "
                            f"got {type(config).__name__}")
        self.generator = SetGenerator(config.n, config.d, config.encoder_channels, config.group_channels)
        if config.decoder == "deconv":  # Eq. 4's transposed convolutions, the paper's and the authors' decoder
            self.decoder = SetDecoder(config.d, config.decoder_channels, config.decoder_start, config.attention)
        elif config.decoder == "broadcast":  # a CPU variant: decoder_channels[0] is the per-pixel MLP's width
            width = _check_channels(config.decoder_channels, "decoder_channels")[0]
            self.decoder = BroadcastDecoder(config.d, width, config.attention)
        else:
            raise ValueError(f"decoder must be one of {DECODERS}, got {config.decoder!r}")

    def make_set(self, images: torch.Tensor, inner_steps: int | None = None):
        """images (B, 3, 64, 64) -> (set to decode (B, n, d), S0 (B, n, d)); the baseline decodes S0 itself."""
        if inner_steps is not None:
            raise ValueError("the baseline has no refiner: inner_steps must be None")
        initial, _ = self.generator(images)
        return initial, initial

    def forward(self, images: torch.Tensor, inner_steps: int | None = None) -> Decomposition:
        """images (B, 3, 64, 64) -> Decomposition(reconstruction (B, 3, 64, 64), element_images (B, n, 3, 64, 64),
        weights (B, n, 3 or 1, 64, 64), set (B, n, d), initial_set (B, n, d)). ``inner_steps``: the SRN's for this
        call (SRN only)."""
        elements, initial = self.make_set(images, inner_steps)
        reconstruction, element_images, weights = self.decoder(elements)
        return Decomposition(reconstruction, element_images, weights, elements, initial)


class SRNAutoencoder(BaselineAutoencoder):
    """The same generator and decoder with a Set Refiner Network in between: ``refiner``, an ``SRN`` whose
    ``H_embed`` is a linear map of the flattened feature map to ``e`` (``refiner.embed_dim``) and whose ``H_agg`` is
    a ``SetEncoder`` (MLP + FSPool). Its number of inner steps is the one training ends with (``more_steps`` when
    the training reaches ``more_steps_epoch``, else ``refiner.steps``); training passes each epoch's per call.

    ``s0_gradient``: whether the outer loss trains the set head through ``S0``. True lets the generator learn a good
    ``S0`` directly (and the model can then skip the loop); False is the authors' released training: their DSPN
    wraps ``S0`` in a fresh ``nn.Parameter`` inside ``higher.innerloop_ctx``, which copies it off the tape, so the
    set head stays at its random initialisation while ``H_embed``, the trunk (through ``z``) and ``H_agg`` learn,
    and the decoded set is whatever the inner loop finds.
    """

    def __init__(self, config: CirclesConfig):
        super().__init__(config)
        if not isinstance(config.s0_gradient, bool):
            raise TypeError(f"s0_gradient must be a bool, got {config.s0_gradient!r}")
        self.s0_gradient = config.s0_gradient
        steps = config.inner_steps_at(config.epochs - 1)
        self.refiner = SRN(self.generator.feature_dim, config.d, dataclasses.replace(config.refiner, steps=steps))

    def refine(self, images: torch.Tensor, inner_steps: int | None = None,
               return_trajectory: bool = False) -> torch.Tensor | Refinement:
        """images (B, 3, 64, 64) -> the refined set (B, n, d), or with ``return_trajectory`` its ``Refinement``
        (S0 .. S_r and the inner losses). ``inner_steps`` overrides the SRN's number of steps for this call."""
        return self._refine(*self.generator(images), inner_steps, return_trajectory)

    def make_set(self, images: torch.Tensor, inner_steps: int | None = None):
        """images (B, 3, 64, 64) -> (refined set (B, n, d), S0 (B, n, d))."""
        initial, features = self.generator(images)
        return self._refine(initial, features, inner_steps, False), initial

    def _refine(self, initial, features, inner_steps, return_trajectory):
        start = initial if self.s0_gradient else initial.detach()
        return self.refiner(start, features.flatten(1), steps=inner_steps, return_trajectory=return_trajectory)

    def srn_parameters(self) -> list:
        """The parameters the baseline does not have: ``H_embed`` and ``H_agg``."""
        return list(self.refiner.parameters())


def build_model(kind: str, config: CirclesConfig) -> BaselineAutoencoder:
    """``kind`` "baseline" or "srn" from a ``CirclesConfig`` (``CirclesConfig.from_settings(cfg)``)."""
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {tuple(MODELS)}, got {kind!r}")
    return MODELS[kind](config)


MODELS = {"baseline": BaselineAutoencoder, "srn": SRNAutoencoder}
