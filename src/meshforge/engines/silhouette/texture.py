"""The base-colour texture: the framed photo, with the subject's colours bled past its edge.

Bleeding matters because bilinear filtering and mip-mapping near the outline would otherwise mix
in the background (a white halo around the rim).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from meshforge.image.distance import nearest_source


def bleed_subject_colours(rgba: NDArray[np.uint8], threshold: int = 128) -> NDArray[np.uint8]:
    """RGB where every background pixel takes the colour of the nearest subject pixel."""
    rgb = rgba[..., :3]
    background = rgba[..., 3] < threshold
    if not background.any() or background.all():
        return np.ascontiguousarray(rgb)
    iy, ix = nearest_source(~background)
    return np.ascontiguousarray(rgb[iy, ix])
