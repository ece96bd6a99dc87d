"""Drawing Sort-of-CLEVR object tables as images.

    images      float32 torch tensor (n, 3, 75, 75) in [0, 1] (colours / 255); ``render_labels`` gives the uint8
                label map (n, 75, 75) with 0 = background and 1 + colour index on an object's pixels.
                A square covers the pixels with |column - x| <= 5 and |row - y| <= 5 (11x11 px); a circle those with
                (column - x)^2 + (row - y)^2 <= 25. Centres are rounded to the nearest pixel before drawing, so a
                rotated object looks exactly like a training object.

Changing how objects are drawn changes the cached label maps: bump ``data.GENERATOR_VERSION`` so old caches are never
reused.
"""
from __future__ import annotations

import torch

from .scene import COLOURS_RGB, HALF_SIZE, IMAGE_SIZE, N_OBJECTS, check_objects

BACKGROUND_RGB = (255, 255, 255)

# label map value -> RGB in [0, 1]: 0 is the background, 1 + k is colour k
PALETTE = torch.tensor((BACKGROUND_RGB,) + COLOURS_RGB, dtype=torch.float32) / 255.0


# -------------------------------------------------------------------------------------------------------- rendering
def _stencils() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel offsets of the 11x11 box around a centre, ``(121,)`` each for x and y, and which of them each shape
    covers, ``(2, 121)`` bool: row 0 the square (all), row 1 the circle (dx^2 + dy^2 <= 25)."""
    steps = torch.arange(-HALF_SIZE, HALF_SIZE + 1)
    offset_y, offset_x = (grid.reshape(-1) for grid in torch.meshgrid(steps, steps, indexing="ij"))
    covers = torch.stack([torch.ones_like(offset_x, dtype=torch.bool),
                          offset_x.square() + offset_y.square() <= HALF_SIZE ** 2])
    return offset_x, offset_y, covers


_OFFSET_X, _OFFSET_Y, _COVERS = _stencils()


def render_labels(objects) -> torch.Tensor:
    """Object tables ``(n, 6, 4)`` -> uint8 label maps ``(n, 75, 75)``: 0 background, 1 + colour on object pixels.

    Every object's centre (rounded to the nearest pixel, halves up) is broadcast against the offsets of its shape's
    11x11 stencil, and all covered pixels of the batch are written in one scatter (no loop over pixels or
    objects). Where objects overlap (only in hand-made or rotated tables) the higher colour index is drawn; pixels
    outside the image are dropped.
    """
    table = check_objects(objects)
    if table.ndim != 3:
        raise ValueError(f"objects must have shape (n, 6, 4), got {table.shape}")
    table = torch.from_numpy(table)
    n = len(table)
    centre = torch.floor(table[..., 1:3] + 0.5).long()  # (n, 6, 2) pixel centres
    column = centre[..., 0:1] + _OFFSET_X  # (n, 6, 121)
    row = centre[..., 1:2] + _OFFSET_Y
    drawn = _COVERS[table[..., 3].long()] & (column >= 0) & (column < IMAGE_SIZE) & (row >= 0) & (row < IMAGE_SIZE)
    pixel = (torch.arange(n).view(n, 1, 1) * IMAGE_SIZE + row) * IMAGE_SIZE + column
    label = (table[..., 0].long() + 1).to(torch.uint8).unsqueeze(-1).expand_as(drawn)
    labels = torch.zeros(n * IMAGE_SIZE * IMAGE_SIZE, dtype=torch.uint8)
    labels.scatter_reduce_(0, pixel[drawn], label[drawn], reduce="amax")
    return labels.view(n, IMAGE_SIZE, IMAGE_SIZE)


def labels_to_images(labels: torch.Tensor) -> torch.Tensor:
    """uint8 label maps ``(..., H, W)`` -> float32 RGB images ``(..., 3, H, W)`` in [0, 1] (PALETTE colours)."""
    if not torch.is_tensor(labels) or labels.dtype != torch.uint8:
        raise TypeError("labels must be a uint8 torch.Tensor (from render_labels)")
    if labels.dim() < 2 or (labels.numel() and int(labels.max()) > N_OBJECTS):
        raise ValueError(f"labels must have shape (..., H, W) with values 0..{N_OBJECTS}, got {tuple(labels.shape)}")
    *batch, height, width = labels.shape
    flat = labels.reshape(-1, height * width)
    images = torch.ones(flat.shape[0], 3, height * width)  # white background, then only the object pixels
    image_index, pixel = torch.nonzero(flat, as_tuple=True)
    images[image_index, :, pixel] = PALETTE[flat[image_index, pixel].long()]
    return images.view(*batch, 3, height, width)


def render(objects) -> torch.Tensor:
    """Object tables ``(n, 6, 4)`` (or one table ``(6, 4)``) -> float32 RGB images ``(n, 3, 75, 75)`` (or
    ``(3, 75, 75)``) in [0, 1], white background. See ``render_labels`` for how objects are drawn."""
    table = check_objects(objects)
    if table.ndim == 2:
        return labels_to_images(render_labels(table[None]))[0]
    return labels_to_images(render_labels(table))

