"""Figure 4 of the paper: what do the RN's set elements contain? Reconstruct the image from a frozen set generator.

For a trained RN or RN+SRN, the perceptual stage (conv stem, plus the refiner for RN+SRN) is frozen and its set
of 25 elements is decoded back into the image by the Circles-style decoder of Section 2.2 (Eq. 4): every element
is decoded *on its own* by the same transposed convolutions into an RGB image and a logit per pixel, a softmax
over the elements turns the logits into weights, and the reconstruction is the weighted sum. Only the decoder
trains, so both models get exactly the same number of trainable parameters. An element that holds one whole
object can draw it; an object split over several elements has to be drawn by several, and since they are decoded
independently the decoder cannot tell which one is the real object (the paper's "hallucinated" shapes).

Shapes: images (N, 3, 75, 75) in [0, 1]; sets (N, 25, 26); decoded element images (N, 25, 3, 75, 75).
Settings (``cfg``): ``recon_images`` (training images for the decoder; the paper overfits 10,000), ``recon_epochs``,
``recon_channels`` (widths of the transposed convolutions), ``recon_lr``, ``recon_batch_size``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.utils.data import TensorDataset

from .._checks import check_ints, check_positive
from ..circles.models import mix_elements, upsampling_stack
from ..train import checkpoint_path, fit, seed_everything
from .data import IMAGE_SIZE, SortOfClevrDataset, labels_to_images
from .models import ELEMENT_DIM, GRID, RelationNetwork

DECODED_SIZE = GRID * 16  # 5 -> 10 -> 20 -> 40 -> 80 px, cropped to 75
_CROP = (DECODED_SIZE - IMAGE_SIZE) // 2
WHITE_BIAS_INIT = 2.0


class Decoded(NamedTuple):
    reconstruction: torch.Tensor  # (B, 3, 75, 75): sum over elements of weights * rgb
    element_images: torch.Tensor  # (B, n, 3, 75, 75): weights * rgb, each element's share of the reconstruction
    weights: torch.Tensor  # (B, n, 1, 75, 75): softmax over the elements
    ink: torch.Tensor  # (B, n, 3, 75, 75): weights * (1 - rgb), what each element draws on the white page;
    #                    the reconstruction is 1 - ink.sum(1) (the weights sum to 1)


class ImageDecoder(nn.Module):
    """Eq. 4's decoder for 75x75 images: elements (B, n, d) -> ``Decoded``.

    Each element is layer-normalised (no learned parameters, so the RN's and the SRN's sets are read at the same
    scale), mapped by a linear layer to a ``channels[0] x 5 x 5`` map and up-sampled by four transposed
    convolutions to 80 x 80 (cropped to 75 x 75) with 3 colour channels and 1 logit.
    """

    def __init__(self, d: int = ELEMENT_DIM, channels: tuple = (32, 32, 16, 16)):
        super().__init__()
        d = check_positive(d, "d", integer=True)
        if not isinstance(channels, (list, tuple)) or len(channels) != 4:
            raise ValueError(f"channels must be 4 positive ints (one per transposed convolution), got {channels!r}")
        channels = check_ints(channels, "channels", 1)
        self.d, self.channels = d, channels
        self.project = nn.Sequential(nn.Linear(d, channels[0] * GRID * GRID), nn.ReLU())
        self.deconv = upsampling_stack(self.channels)
        with torch.no_grad():  # start every element near the white background (sigmoid(2) = 0.88)
            self.deconv[-1].bias[:3].fill_(WHITE_BIAS_INIT)

    def forward(self, elements: torch.Tensor) -> Decoded:
        if not torch.is_tensor(elements) or elements.dim() != 3 or elements.shape[-1] != self.d:
            shape = tuple(elements.shape) if torch.is_tensor(elements) else type(elements).__name__
            raise ValueError(f"elements must have shape (batch, n, {self.d}), got {shape}")
        batch, n, _ = elements.shape
        hidden = self.project(nn.functional.layer_norm(elements, (self.d,)).reshape(batch * n, self.d))
        decoded = self.deconv(hidden.view(batch * n, self.channels[0], GRID, GRID))
        decoded = decoded[..., _CROP:_CROP + IMAGE_SIZE, _CROP:_CROP + IMAGE_SIZE]
        decoded = decoded.reshape(batch, n, 4, IMAGE_SIZE, IMAGE_SIZE)
        reconstruction, element_images, weights = mix_elements(decoded, "logit")
        return Decoded(reconstruction, element_images, weights, weights - element_images)  # ink: weights * (1 - rgb)


def _check_model(model) -> None:
    if not isinstance(model, RelationNetwork):
        raise TypeError(f"model must be a trained RelationNetwork (rn or rn_srn), got {type(model).__name__}")


@torch.no_grad()
def generator_sets(model: RelationNetwork, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """The frozen set generator's sets: images (N, 3, 75, 75) -> (N, 25, D) (D = 26 for the paper's cells), in eval
    mode and without gradients (for RN+SRN the refined set, as its relational head sees it). The model's parameters
    are not touched."""
    _check_model(model)
    if not torch.is_tensor(images) or images.dim() != 4 or tuple(images.shape[1:]) != (3, IMAGE_SIZE, IMAGE_SIZE):
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise ValueError(f"images must have shape (N, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got {shape}")
    check_positive(batch_size, "batch_size", integer=True)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sets = torch.cat([model.object_set(images[i:i + batch_size].to(device)).cpu()
                      for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return sets


def reconstruction_images(cfg) -> torch.Tensor:
    """The ``recon_images`` training images the decoders overfit, as in the paper (the Sort-of-CLEVR training set's
    first images): (N, 3, 75, 75)."""
    data = SortOfClevrDataset(cfg["train_images"], seed=0, questions_per_image=cfg["questions_per_image"])
    return labels_to_images(data.labels[:cfg["recon_images"]])


def _reconstruction_step(decoder: ImageDecoder, batch) -> dict:
    sets, images = batch
    error = (decoder(sets).reconstruction - images).square()
    return {"loss": error.mean(), "squared_error": error.sum(dim=(1, 2, 3)).mean()}


def train_decoder(model: RelationNetwork, kind: str, cfg, seed: int = 0, retrain: bool = False,
                  images: torch.Tensor | None = None):
    """Freeze ``model``'s set generator, and train an ``ImageDecoder`` to reconstruct ``images`` (default
    ``reconstruction_images(cfg)``) from its sets with Adam ``recon_lr`` for ``recon_epochs`` (mean squared error).

    Cached like the models (the checkpoint is keyed by ``kind``, profile, seed and settings). -> (decoder, history);
    ``history[-1]["train_squared_error"]`` is the last epoch's squared error per image (summed over pixels and
    colours, the paper's measure).
    """
    _check_model(model)
    images = reconstruction_images(cfg) if images is None else images
    sets = generator_sets(model, images)
    seed_everything(seed)
    decoder = ImageDecoder(sets.shape[-1], tuple(cfg["recon_channels"]))
    optimizer = torch.optim.Adam(decoder.parameters(), lr=cfg["recon_lr"])
    history = fit(decoder, optimizer, TensorDataset(sets, images), _reconstruction_step, epochs=cfg["recon_epochs"],
                  batch_size=cfg["recon_batch_size"], seed=seed,
                  checkpoint=checkpoint_path("sortofclevr", cfg["profile"], seed, cfg, f"decoder_{kind}"),
                  retrain=retrain, desc=f"decoder {kind}", settings=cfg)
    return decoder, history


@torch.no_grad()
def decode(model: RelationNetwork, decoder: ImageDecoder, images: torch.Tensor) -> Decoded:
    """Images (B, 3, 75, 75) -> the decoder's reconstruction of ``model``'s sets (eval mode), on the CPU."""
    decoder.eval()
    decoded = decoder(generator_sets(model, images).to(next(decoder.parameters()).device))
    return Decoded(*(part.cpu() for part in decoded))


@torch.no_grad()
def reconstruction_error(model: RelationNetwork, decoder: ImageDecoder, images: torch.Tensor,
                         batch_size: int = 64) -> float:
    """Mean over ``images`` (N, 3, 75, 75) of each image's squared error, summed over its pixels and colours."""
    errors = [(decode(model, decoder, images[i:i + batch_size]).reconstruction - images[i:i + batch_size])
              .square().sum(dim=(1, 2, 3)) for i in range(0, len(images), batch_size)]
    return float(torch.cat(errors).mean())


def top_elements(ink: torch.Tensor, k: int = 9) -> torch.Tensor:
    """Indices of each image's ``k`` elements with the largest l1 norm (the paper's ranking), taken of what each
    element draws on the white background (``Decoded.ink``; the raw ``weights * rgb`` of a white page would rank
    the background first): ink (B, n, 3, H, W) -> (B, k), largest first."""
    if not torch.is_tensor(ink) or ink.dim() != 5:
        raise ValueError("ink must have shape (batch, n, 3, H, W)")
    check_positive(k, "k", integer=True)
    if k > ink.shape[1]:
        raise ValueError(f"k = {k} is more than the {ink.shape[1]} elements")
    return ink.abs().sum(dim=(2, 3, 4)).topk(k, dim=1).indices
