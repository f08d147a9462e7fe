"""Light rigs of the renderer, as data.

Lights are directional and fixed to the camera (x right, y up, z towards the viewer), as in a
photo studio where the lights move with the camera: every view of a turntable is lit alike.
``studio`` is a soft key, fill and rim set-up over a sky-to-ground ambient for metallic-roughness
materials; ``protocol`` is the Lambert model of the evaluation protocol (shared/eval/PROTOCOL.md
section 3: ambient 0.4 and three lights), for renders that compare pixel for pixel with its views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from meshforge.render.shading import AMBIENT, LIGHT_DIRECTIONS, LIGHT_INTENSITIES

__all__ = ["LIGHT_RIGS", "Light", "LightRig", "light_rig"]

MAX_LIGHTS = 8  # as many as the surface shader takes


@dataclass(frozen=True)
class Light:
    """A directional light: the direction towards it (camera space) and its linear radiance."""

    direction: tuple[float, float, float]
    radiance: tuple[float, float, float]

    def unit_direction(self) -> tuple[float, float, float]:
        d = np.asarray(self.direction, dtype=np.float64)
        x, y, z = (float(c) for c in d / np.linalg.norm(d))
        return x, y, z


@dataclass(frozen=True)
class LightRig:
    """Lights, ambient and exposure; ``model`` picks the shading (``pbr`` or ``lambert``)."""

    name: str
    model: Literal["pbr", "lambert"]
    lights: tuple[Light, ...]
    sky: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ground: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ambient: float = 0.0
    exposure: float = 1.0
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if len(self.lights) > MAX_LIGHTS:
            raise ValueError(f"light rig {self.name!r}: at most {MAX_LIGHTS} lights")


STUDIO = LightRig(
    name="studio",
    model="pbr",
    lights=(
        Light((-0.55, 0.55, 0.65), (2.6, 2.55, 2.45)),  # key: front left, above, slightly warm
        Light((0.75, 0.15, 0.65), (0.9, 0.92, 0.97)),  # fill: front right, low, slightly cool
        Light((0.2, 0.6, -0.8), (1.6, 1.6, 1.6)),  # rim: behind and above, outlines the edges
    ),
    sky=(0.62, 0.63, 0.66),
    ground=(0.28, 0.27, 0.26),
    exposure=1.0,
    description="soft key, fill and rim lights over a sky-to-ground ambient",
)

PROTOCOL = LightRig(
    name="protocol",
    model="lambert",
    lights=tuple(
        Light(
            (float(d[0]), float(d[1]), float(d[2])),
            (float(i), float(i), float(i)),
        )
        for d, i in zip(LIGHT_DIRECTIONS, LIGHT_INTENSITIES, strict=True)
    ),
    ambient=AMBIENT,
    description="the evaluation protocol's Lambert lights (PROTOCOL.md section 3)",
)

LIGHT_RIGS = {rig.name: rig for rig in (STUDIO, PROTOCOL)}


def light_rig(name: str) -> LightRig:
    """The rig called ``name``; a clear error lists the others."""
    try:
        return LIGHT_RIGS[name]
    except KeyError:
        known = ", ".join(sorted(LIGHT_RIGS))
        raise ValueError(f"unknown light rig {name!r}; known: {known}") from None
