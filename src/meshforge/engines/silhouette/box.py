"""Box: a closed cuboid for packaging (cereal and cracker boxes, cartons, electronics boxes).

The box is built in a level camera's frame, its faces parallel to that camera's axes, so it is
upright. When the photo was taken from above (the option's elevation, else the one its sides
converging downwards give: ``rims.taper_elevation``), the engine turns the outline into the view
of a level camera at the same place (``camera.rotate_pixels``), where the upright front face is
a rectangle, builds the box there and turns it back. Its centre sits at the subject's depth
(``distance``) and its front face spans the outline's rectangle on the rays through the
outline's edges, so from the input camera the front face covers the outline (the back, farther
away, hides behind it).

Depth, which one view cannot see: a photo taken from a little above shows the top face as a thin
band above the front, ended by a straight edge across the whole width (``find_top_edge``). If one
is found, the rows of the outline's top, that edge and the outline's bottom, seen by a camera
``elevation`` above the box (given or estimated, else ``BOX_VIEW_ELEVATION_DEG``), fix the
depth (``depth_from_top_band``); the front face then starts at the edge. Otherwise the depth is
``DEPTH_PRIOR`` x the width.

Texture (``pixels``, one per vertex; every face has its own vertices, so faces may differ at the
edges): the front shows its own pixels, the back the same pixels (the front mirrored). Each side
shows the front's outermost column band (as wide as the box is deep, at most 15 % of the width),
read inwards from the edge; top and bottom the top band of the photo when one was found (the
front edge to the outline's top), else the front's outermost row band. The bottom mirrors the top.
Nothing is smeared: every face maps onto a band of the photo with at most a moderate stretch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from meshforge.engines.silhouette.symmetry import RowProfile

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Depth / width when the photo shows no top face. The one carton measured so far, the
# benchmark's cracker box (YCB 003: 0.164 x 0.213 x 0.072 m), is 0.44; the prior is set a little
# below it for slimmer cartons and is to be tuned on more packaging data. (The benchmark's
# BoomBox, 1.02, is a round radio, not a box, and is not picked as one.)
DEPTH_PRIOR = 0.35
# A catalogue shot is taken from a little above; the benchmark's rig uses 10 degrees too.
BOX_VIEW_ELEVATION_DEG = 10.0
# The top face's edge is searched for in the top quarter of the outline, in its middle 80 %
# columns; it must change the luminance by >= 0.05 with the same sign in >= 70 % of them.
TOP_BAND_FRACTION = 0.25
MIN_EDGE_STEP = 0.05
MIN_EDGE_AGREEMENT = 0.7
# Depth ratios outside this range are not believed (a printed stripe, a camera below the top).
MIN_DEPTH_RATIO, MAX_DEPTH_RATIO = 0.08, 1.5
# Side and top bands may stretch the photo's edge band up to this fraction of the front.
EDGE_BAND = 0.15


@dataclass
class BoxMesh:
    """Vertices in the camera's frame (OpenGL: -Z ahead), faces, and the pixel each one shows."""

    vertices: FloatArray
    faces: IntArray
    pixels: FloatArray
    depth_ratio: float
    cells: tuple[int, int, int]


def front_rectangle(profile: RowProfile) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) of the outline in framed pixels; sides from the middle rows."""
    n = len(profile.left)
    middle = slice(int(0.1 * n), max(int(0.9 * n), int(0.1 * n) + 1))
    left = float(np.median(profile.left[middle]))
    right = float(np.median(profile.right[middle]))
    return left, right, float(profile.top), float(profile.top + n)


def find_top_edge(rgb: NDArray[np.uint8], rect: tuple[float, float, float, float]) -> float | None:
    """The row of a straight horizontal edge across the top quarter of the box, if any."""
    left, right, top, bottom = rect
    c0, c1 = round(left + 0.1 * (right - left)), round(right - 0.1 * (right - left))
    r0, r1 = round(top) + 3, round(top + TOP_BAND_FRACTION * (bottom - top))
    if c1 - c0 < 8 or r1 - r0 < 3:
        return None
    lum = np.asarray(rgb[r0 - 1 : r1 + 1, c0:c1, :3], dtype=np.float64).mean(axis=2) / 255
    step = lum[2:] - lum[:-2]  # central difference: row r0 + i
    med = np.median(step, axis=1)
    same = (np.sign(step) == np.sign(med)[:, None]) & (np.abs(step) >= 0.5 * np.abs(med)[:, None])
    score = np.where(same.mean(axis=1) >= MIN_EDGE_AGREEMENT, np.abs(med), 0.0)
    best = int(np.argmax(score))
    if score[best] < MIN_EDGE_STEP:
        return None
    # To a fraction of a pixel: the centroid of the step over the neighbouring rows.
    near = np.arange(max(best - 2, 0), min(best + 3, len(med)))
    weight = np.maximum(med[near] * np.sign(med[best]), 0.0)
    return float(r0 + 0.5 + np.dot(near, weight) / weight.sum())


def outline_top(alpha: NDArray[np.floating], rect: tuple[float, float, float, float]) -> float:
    """The outline's top edge to a fraction of a pixel: full rows minus the partial coverage."""
    left, right, top, _ = rect
    c0, c1 = round(left + 0.1 * (right - left)), round(right - 0.1 * (right - left))
    full = round(top) + 2
    above = np.asarray(alpha[max(full - 6, 0) : full, c0:c1], dtype=np.float64)
    return float(full - np.clip(above, 0, 1).mean(axis=1).sum())


def depth_from_top_band(
    rows: tuple[float, float, float],
    *,
    width_px: float,
    focal: float,
    centre_row: float,
    distance: float,
    elevation_deg: float,
) -> float | None:
    """Depth / width of an upright box whose outline top, top-front edge and bottom are ``rows``.

    The camera is ``distance`` from the box's centre, ``elevation_deg`` above it, looking at it.
    In the vertical plane (y up, z towards the camera) the front face is the plane z = D / 2:
    the rays through the edge row and the bottom row meet it at the top and bottom of the front;
    the ray through the outline's top meets the top plane at the back edge, z = -D / 2. D is
    found by bisection; ``None`` when no depth fits (no band, or the camera is below the top).
    """
    r_top, r_edge, r_bottom = rows
    e = math.radians(elevation_deg)
    cam = np.array([distance * math.sin(e), distance * math.cos(e)])
    axis, up = -cam / distance, np.array([math.cos(e), -math.sin(e)])

    def ray(r: float) -> FloatArray:
        return np.asarray(axis - up * (r - centre_row) / focal, dtype=np.float64)

    def residual(d: float) -> float | None:
        z_front = d / 2
        edge, top = ray(r_edge), ray(r_top)
        y_top = cam[0] + (z_front - cam[1]) / edge[1] * edge[0]
        if y_top >= cam[0] or top[0] >= 0:
            return None  # the camera does not see the top face
        z_back = cam[1] + (y_top - cam[0]) / top[0] * top[1]
        return float(z_back + d / 2)

    lo, hi = 1e-4 * distance, 0.9 * distance
    f_lo, f_hi = residual(lo), residual(hi)
    if f_lo is None or f_hi is None or f_lo * f_hi > 0:
        return None
    for _ in range(60):
        mid = (lo + hi) / 2
        f_mid = residual(mid)
        if f_mid is None:
            return None
        if f_mid * f_lo > 0:
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    depth = (lo + hi) / 2
    # The front face's width at its depth along the optical axis.
    bottom = ray(r_bottom)
    y_bottom = cam[0] + (depth / 2 - cam[1]) / bottom[1] * bottom[0]
    along = float(np.dot(np.array([y_bottom, depth / 2]) - cam, axis))
    ratio = depth / (width_px * along / focal)
    return ratio if MIN_DEPTH_RATIO <= ratio <= MAX_DEPTH_RATIO else None


def cell_counts(size_px: tuple[float, float, float], max_faces: int) -> tuple[int, int, int]:
    """Cells along width, height and depth: about square, 4 (nx ny + nx nz + ny nz) faces within
    the budget and at most 4000 (plenty for a texture's perspective; a box needs no more)."""
    w, h, d = (max(s, 1.0) for s in size_px)
    target = min(max_faces, 4000)
    cell = math.sqrt(4 * (w * h + w * d + h * d) / target)
    while True:
        nx, ny, nz = (max(1, math.ceil(s / cell)) for s in (w, h, d))
        if 4 * (nx * ny + nx * nz + ny * nz) <= target or (nx, ny, nz) == (1, 1, 1):
            return nx, ny, nz
        cell *= 1.1


def build_box(
    rect: tuple[float, float, float, float],
    *,
    outline_top: float,
    depth_ratio: float,
    band: bool,
    focal: float,
    centre: tuple[float, float],
    distance: float,
    max_faces: int,
) -> BoxMesh:
    """The closed cuboid whose front face covers ``rect`` (framed pixels) from the camera.

    ``band``: the photo shows the top face between ``outline_top`` and the rectangle's top.
    """
    left, right, top, bottom = rect
    w_px, h_px = right - left, bottom - top
    d_px = depth_ratio * w_px  # the depth in pixels at the front face's distance
    # The centre sits at ``distance``: the front at distance - D / 2, with D = ratio * width there.
    z_front = distance / (1 + d_px / (2 * focal))
    depth = d_px * z_front / focal
    nx, ny, nz = cell_counts((w_px, h_px, d_px), max_faces)

    cols = np.linspace(left, right, nx + 1)
    rows = np.linspace(top, bottom, ny + 1)
    xs = (cols - centre[0]) / focal * z_front
    ys = -(rows - centre[1]) / focal * z_front
    zs = -(z_front + depth * np.linspace(0.0, 1.0, nz + 1))
    t = np.linspace(0.0, 1.0, nz + 1)
    side_band = min(d_px, EDGE_BAND * w_px)
    top_rows = top - t * (top - outline_top) if band else top + t * min(d_px, EDGE_BAND * h_px)

    parts: list[tuple[FloatArray, FloatArray]] = []
    # Front and back: the photo (the back mirrors the front).
    for z in (zs[0], zs[-1]):
        pts = np.stack(np.broadcast_arrays(xs[:, None], ys[None, :], z), axis=-1)
        pix = np.stack(np.broadcast_arrays(cols[:, None], rows[None, :]), axis=-1)
        parts.append((pts, pix))
    # Left and right: the front's outermost column band, read inwards.
    for x, col, inward in ((xs[0], left, 1.0), (xs[-1], right, -1.0)):
        pts = np.stack(np.broadcast_arrays(x, ys[None, :], zs[:, None]), axis=-1)
        pix = np.stack(np.broadcast_arrays((col + inward * side_band * t)[:, None], rows), axis=-1)
        parts.append((pts, pix))
    # Top and bottom: the top band (or the front's top row band); the bottom mirrors the top.
    for y in (ys[0], ys[-1]):
        pts = np.stack(np.broadcast_arrays(xs[:, None], y, zs[None, :]), axis=-1)
        pix = np.stack(np.broadcast_arrays(cols[:, None], top_rows[None, :]), axis=-1)
        parts.append((pts, pix))

    vertices, faces, pixels = _merge(parts)
    faces = _outward(vertices, faces, np.array([xs.mean(), ys.mean(), zs.mean()]))
    return BoxMesh(
        vertices=vertices,
        faces=faces,
        pixels=pixels,
        depth_ratio=depth_ratio,
        cells=(nx, ny, nz),
    )


def _merge(parts: list[tuple[FloatArray, FloatArray]]) -> tuple[FloatArray, IntArray, FloatArray]:
    """Grids of (a + 1) x (b + 1) points to one mesh: each grid cell becomes two triangles."""
    vertices, faces, pixels = [], [], []
    start = 0
    for pts, pix in parts:
        a, b = pts.shape[0] - 1, pts.shape[1] - 1
        idx = start + np.arange((a + 1) * (b + 1)).reshape(a + 1, b + 1)
        p, q, r, s = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
        faces.append(np.column_stack([p.ravel(), q.ravel(), r.ravel()]))
        faces.append(np.column_stack([p.ravel(), r.ravel(), s.ravel()]))
        vertices.append(pts.reshape(-1, 3))
        pixels.append(pix.reshape(-1, 2))
        start += (a + 1) * (b + 1)
    return (
        np.vstack(vertices).astype(np.float64),
        np.vstack(faces).astype(np.int64),
        np.vstack(pixels).astype(np.float64),
    )


def _outward(vertices: FloatArray, faces: IntArray, centre: FloatArray) -> IntArray:
    """Wind every triangle so that its normal points away from the (convex) box's centre."""
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    inward = np.einsum("ij,ij->i", normal, tri.mean(axis=1) - centre) < 0
    out = faces.copy()
    out[inward] = out[inward][:, ::-1]
    return out
