"""Offscreen OpenGL rendering of an Asset: colour, mask, depth and normal passes.

``SceneRenderer(asset)`` uploads the meshes and textures once; ``render(camera, settings)``
draws one view (a turntable draws many from one upload). The colour pass is drawn at
``supersample`` times the size with multisampling and box-filtered down, as the evaluation
protocol's renderer does; opaque and MASK materials first, then BLEND ones back to front without
depth writes. Colours are premultiplied, so the same pixels composite over white, over any
colour or stay transparent. The mask is the anti-aliased coverage of all geometry (MASK
cut-outs respected, glass counted), from its own pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshforge.asset import Asset, Camera, Material, Mesh, Texture
from meshforge.render.gl import shaders
from meshforge.render.gl.context import gl_context
from meshforge.render.gl.shadow import ContactShadow, contact_shadow
from meshforge.render.lights import MAX_LIGHTS, STUDIO, LightRig

FloatArray = NDArray[np.float64]
Float32Array = NDArray[np.float32]

__all__ = ["RenderResult", "RenderSettings", "SceneRenderer", "projection_matrix"]

ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}
_VERTEX_FORMAT = "3f 3f 2f 4f"
_ATTRIBUTES = ("in_position", "in_normal", "in_uv", "in_tangent")


@dataclass(frozen=True)
class RenderSettings:
    """How a view is drawn.

    ``background``: an sRGB colour the image is composited over, or None for a transparent
    image (straight alpha). ``supersample`` x ``supersample`` pixels are drawn per output pixel,
    each with ``samples``-fold multisampling. ``shadow`` adds a soft contact shadow on the ground
    (the plane under the asset's lowest point) with the given strength (0 = none).
    ``passes`` names the extra outputs: ``depth`` and ``normal``. ``cull_back_faces`` skips
    the back faces of single-sided opaque materials, as glTF viewers do (the evaluation
    protocol draws every face: turn it off to match it).
    """

    lights: LightRig = STUDIO
    background: tuple[int, int, int] | None = (255, 255, 255)
    supersample: int = 1
    samples: int = 4
    shadow: float = 0.0
    passes: frozenset[str] = field(default_factory=frozenset)
    cull_back_faces: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.supersample <= 4:
            raise ValueError(f"render: supersample must be 1 to 4, got {self.supersample}")
        if self.samples not in (0, 1, 2, 4, 8, 16):
            raise ValueError(f"render: samples must be 0, 1, 2, 4, 8 or 16, got {self.samples}")
        if not 0.0 <= self.shadow <= 1.0:
            raise ValueError(f"render: shadow strength must be in [0, 1], got {self.shadow}")
        unknown = set(self.passes) - {"depth", "normal"}
        if unknown:
            raise ValueError(f"render: unknown passes {sorted(unknown)}; known: depth, normal")


@dataclass
class RenderResult:
    """One view. ``rgba``: uint8, composited over the background (alpha 255 there) or with
    straight alpha when transparent; ``mask``: coverage in [0, 1]; ``depth``: distance along
    the view axis (inf where nothing is); ``normal``: unit world-space normals facing the
    camera (zero where nothing is)."""

    rgba: NDArray[np.uint8]
    mask: Float32Array
    depth: Float32Array | None = None
    normal: Float32Array | None = None

    @property
    def rgb(self) -> NDArray[np.uint8]:
        return np.ascontiguousarray(self.rgba[..., :3])


def projection_matrix(camera: Camera, near: float, far: float) -> FloatArray:
    """OpenGL clip-from-camera matrix for pinhole intrinsics (pixel centres at +0.5, rows down)."""
    w, h = camera.width, camera.height
    return np.array(
        [
            [2 * camera.fx / w, 0.0, 1 - 2 * camera.cx / w, 0.0],
            [0.0, 2 * camera.fy / h, 2 * camera.cy / h - 1, 0.0],
            [0.0, 0.0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0.0, 0.0, -1.0, 0.0],
        ]
    )


@dataclass
class _Draw:
    """One mesh on the GPU, with its material's uniforms."""

    vao_surface: Any
    vao_geometry: Any
    vao_coverage: Any
    material: Material
    has_normals: bool
    has_tangents: bool
    centroid: FloatArray
    buffers: list[Any]


class SceneRenderer:
    """An asset uploaded to the GPU; ``render`` draws views of it. Use as a context manager
    (or call ``release``) to free the GPU memory."""

    def __init__(self, asset: Asset, anisotropy: float = 1.0) -> None:
        """``anisotropy``: texture filtering across grazing angles (the protocol's renderer
        uses 8; it costs time on a CPU, so previews use 1)."""
        self.ctx = gl_context()
        self.asset = asset
        self.anisotropy = anisotropy
        self.bounds = np.asarray(asset.bounds(), dtype=np.float64)
        self._surface = self.ctx.program(
            vertex_shader=shaders.VERTEX, fragment_shader=shaders.SURFACE
        )
        self._geometry = self.ctx.program(
            vertex_shader=shaders.VERTEX, fragment_shader=shaders.GEOMETRY
        )
        self._coverage_program = self.ctx.program(
            vertex_shader=shaders.VERTEX, fragment_shader=shaders.COVERAGE
        )
        self._textures: dict[int, Any] = {}
        self._draws = [self._upload(mesh) for mesh in asset.meshes if len(mesh.faces)]
        self._shadow: ContactShadow | None = None
        self._framebuffers: dict[tuple[tuple[int, int], int], Any] = {}

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def release(self) -> None:
        for draw in self._draws:
            for obj in (draw.vao_surface, draw.vao_geometry, draw.vao_coverage, *draw.buffers):
                obj.release()
        for texture in self._textures.values():
            texture.release()
        if self._shadow is not None:
            self._shadow.release()
        for fbo in self._framebuffers.values():
            _release_framebuffer(fbo)
        self._framebuffers = {}
        for program in (self._surface, self._geometry, self._coverage_program):
            program.release()
        self._draws, self._textures, self._shadow = [], {}, None

    # -- upload -------------------------------------------------------------------------------

    def _texture(self, texture: Texture) -> Any:
        key = id(texture)
        if key not in self._textures:
            image = np.ascontiguousarray(texture.image)
            if image.ndim == 2:
                image = image[..., None]
            h, w, c = image.shape
            gl_texture = self.ctx.texture((w, h), c, image.astype(np.uint8).tobytes())
            gl_texture.build_mipmaps()
            gl_texture.repeat_x = gl_texture.repeat_y = True
            gl_texture.anisotropy = self.anisotropy
            if c == 1:  # grey: read as grey in every channel
                gl_texture.swizzle = "RRR1"
            elif c == 2:
                gl_texture.swizzle = "RRRG"
            self._textures[key] = gl_texture
        return self._textures[key]

    def _upload(self, mesh: Mesh) -> _Draw:
        from meshforge.export.glb import vertex_tangents

        if not 0 <= mesh.material < len(self.asset.materials):
            raise ValueError(
                f"render: mesh {mesh.name!r} uses material {mesh.material}, "
                f"but the asset has {len(self.asset.materials)}"
            )
        material = self.asset.materials[mesh.material]
        n = len(mesh.vertices)
        normals = mesh.normals if mesh.normals is not None else np.zeros((n, 3))
        uv = mesh.uv if mesh.uv is not None else np.zeros((n, 2))
        tangents: NDArray[Any] = np.zeros((n, 4))
        if material.normal_texture is not None and mesh.uv is not None:
            unit = normals if mesh.normals is not None else _area_normals(mesh)
            tangents = vertex_tangents(mesh.vertices, mesh.faces, mesh.uv, unit)
        data = np.hstack([mesh.vertices, normals, uv, tangents]).astype(np.float32)
        vbo = self.ctx.buffer(data.tobytes())
        ibo = self.ctx.buffer(mesh.faces.astype(np.int32).tobytes())
        content = [(vbo, _VERTEX_FORMAT, *_ATTRIBUTES)]

        def vao(program: Any) -> Any:
            return self.ctx.vertex_array(program, content, ibo, skip_errors=True)

        return _Draw(
            vao_surface=vao(self._surface),
            vao_geometry=vao(self._geometry),
            vao_coverage=vao(self._coverage_program),
            material=material,
            has_normals=mesh.normals is not None,
            has_tangents=bool(np.any(tangents[:, 3] != 0)),
            centroid=mesh.vertices.mean(axis=0),
            buffers=[vbo, ibo],
        )

    # -- drawing ------------------------------------------------------------------------------

    def _clip_planes(self, camera: Camera) -> tuple[float, float]:
        """Near and far planes around the asset's bounding sphere."""
        centre = self.bounds.mean(axis=0)
        radius = max(float(np.linalg.norm(self.bounds[1] - self.bounds[0])) / 2, 1e-6)
        eye = camera.camera_to_world[:3, 3]
        forward = -camera.camera_to_world[:3, 2]
        along = float((centre - eye) @ forward)
        far = max(along + 1.5 * radius, 1e-3)
        near = max(along - 1.5 * radius, far * 1e-4)
        return near, far

    def _set_material(self, program: Any, draw: _Draw, units: dict[str, int]) -> None:
        m = draw.material
        _set(program, "u_base_factor", tuple(float(c) for c in m.base_color_factor))
        _set(program, "u_alpha_mode", ALPHA_MODES[m.alpha_mode])
        _set(program, "u_alpha_cutoff", float(m.alpha_cutoff))
        _set(program, "u_has_normals", draw.has_normals)
        maps = {
            "base": m.base_color_texture,
            "normal": m.normal_texture if draw.has_tangents else None,
            "orm": m.occlusion_roughness_metallic_texture,
        }
        for key, texture in maps.items():
            _set(program, f"u_has_{key}_map", texture is not None)
            if texture is not None and f"u_{key}_map" in program:
                self._texture(texture).use(location=units[key])
                _set(program, f"u_{key}_map", units[key])
        _set(program, "u_metallic", float(m.metallic_factor))
        _set(program, "u_roughness", float(m.roughness_factor))

    def _ordered(self, camera: Camera) -> tuple[list[_Draw], list[_Draw]]:
        eye = camera.camera_to_world[:3, 3]
        solid = [d for d in self._draws if d.material.alpha_mode != "BLEND"]
        glass = [d for d in self._draws if d.material.alpha_mode == "BLEND"]
        glass.sort(key=lambda d: -float(np.linalg.norm(d.centroid - eye)))  # back to front
        return solid, glass

    def _framebuffer(self, size: tuple[int, int], samples: int) -> Any:
        """An RGBA8 + depth framebuffer, kept for the next view of the same size."""
        key = (size, samples)
        if key not in self._framebuffers:
            colour = self.ctx.renderbuffer(size, 4, samples=samples)
            depth = self.ctx.depth_renderbuffer(size, samples=samples)
            fbo = self.ctx.framebuffer(color_attachments=[colour], depth_attachment=depth)
            self._framebuffers[key] = fbo
        return self._framebuffers[key]

    def _read_resolved(self, fbo: Any, size: tuple[int, int], samples: int) -> Float32Array:
        """RGBA as floats in [0, 1], rows top to bottom; multisamples resolved into 8 bits."""
        if samples > 1:
            target = self._framebuffer(size, 0)
            self.ctx.copy_framebuffer(target, fbo)
            data = target.read(components=4, dtype="f1")
        else:
            data = fbo.read(components=4, dtype="f1")
        pixels = np.frombuffer(data, dtype=np.uint8).reshape(size[1], size[0], 4)
        return np.asarray(pixels[::-1], dtype=np.float32) / 255.0

    def _common(self, program: Any, camera: Camera, view: FloatArray, clip: FloatArray) -> None:
        _set_matrix(program, "u_view_projection", clip @ view)
        _set_matrix(program, "u_view", view)
        _set(program, "u_eye", tuple(float(c) for c in camera.camera_to_world[:3, 3]))

    def render(self, camera: Camera, settings: RenderSettings | None = None) -> RenderResult:
        """Draw one view with ``camera`` (its width and height are the output size)."""
        settings = settings or RenderSettings()
        s = settings.supersample
        big = _scaled(camera, s)
        size = (big.width, big.height)
        near, far = self._clip_planes(camera)
        view = np.asarray(np.linalg.inv(camera.camera_to_world), dtype=np.float64)
        clip = projection_matrix(big, near, far)
        samples = settings.samples if settings.samples > 1 else 0
        ctx = self.ctx
        # Built before this view's framebuffer is bound: it draws into its own.
        shadow = self._contact_shadow() if settings.shadow > 0 else None
        fbo = self._framebuffer(size, samples)
        fbo.use()
        ctx.viewport = (0, 0, *size)
        # On an opaque background the colour buffer starts as the background with alpha 0:
        # its RGB is then the final image and its alpha the asset's coverage alone.
        back = settings.background
        ctx.clear(*(np.asarray(back) / 255.0 if back else (0.0, 0.0, 0.0)), 0.0, depth=1.0)
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        program = self._surface
        self._common(program, camera, view, clip)
        self._set_lights(program, settings.lights, view)
        solid, glass = self._ordered(camera)
        units = {"base": 0, "normal": 1, "orm": 2}
        ctx.disable(ctx.BLEND)
        for draw in solid:
            self._set_material(program, draw, units)
            # glTF: a single-sided material's back faces are not drawn (a closed mesh's are
            # hidden anyway, and culling them halves the triangles to rasterise).
            if settings.cull_back_faces and not draw.material.double_sided:
                ctx.enable(ctx.CULL_FACE)
            draw.vao_surface.render()
            ctx.disable(ctx.CULL_FACE)
        if shadow is not None:
            ctx.enable(ctx.BLEND)
            # Over a background the shadow darkens the colour and leaves the coverage alone.
            keep_alpha = (ctx.ZERO, ctx.ONE) if back else (ctx.ONE, ctx.ONE_MINUS_SRC_ALPHA)
            ctx.blend_func = (ctx.ONE, ctx.ONE_MINUS_SRC_ALPHA, *keep_alpha)
            ctx.depth_mask = False
            shadow.draw(view, clip, settings.shadow)
            ctx.depth_mask = True
        if glass:
            ctx.enable(ctx.BLEND)
            ctx.blend_func = (ctx.ONE, ctx.ONE_MINUS_SRC_ALPHA)
            ctx.depth_mask = False
            for draw in glass:
                self._set_material(program, draw, units)
                draw.vao_surface.render()
            ctx.depth_mask = True
        ctx.disable(ctx.BLEND)
        colour = _box_down(self._read_resolved(fbo, size, samples), s)
        if glass or (shadow is not None and not back):
            # Glass is translucent, and on a transparent background the shadow is in the alpha:
            # coverage then needs its own pass.
            draws = solid + glass
            mask = self._coverage(fbo, (camera, view, clip), draws, units, size, samples, s)
        else:
            mask = colour[..., 3]  # opaque and cut-out surfaces only: alpha is the coverage
        result = RenderResult(rgba=_compose(colour, settings.background), mask=mask)
        if settings.passes:
            result.depth, result.normal = self._geometry_passes(camera, view, near, far)
            if "depth" not in settings.passes:
                result.depth = None
            if "normal" not in settings.passes:
                result.normal = None
        return result

    def _coverage(
        self,
        fbo: Any,
        cameras: tuple[Camera, FloatArray, FloatArray],
        draws: list[_Draw],
        units: dict[str, int],
        size: tuple[int, int],
        samples: int,
        s: int,
    ) -> Float32Array:
        """Every surface in white on black, MASK cut-outs respected."""
        fbo.use()
        self.ctx.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._common(self._coverage_program, *cameras)
        for draw in draws:
            self._set_material(self._coverage_program, draw, units)
            draw.vao_coverage.render()
        return _box_down(self._read_resolved(fbo, size, samples), s)[..., 0]

    def _set_lights(self, program: Any, rig: LightRig, view: FloatArray) -> None:
        _set(program, "u_model", 1 if rig.model == "lambert" else 0)
        _set_matrix(program, "u_view_rotation", view[:3, :3])
        count = len(rig.lights)
        _set(program, "u_light_count", count)
        # Uniform arrays are written whole: unused slots stay zero.
        directions = np.zeros((MAX_LIGHTS, 3), dtype="f4")
        radiance = np.zeros((MAX_LIGHTS, 3), dtype="f4")
        for i, light in enumerate(rig.lights):
            directions[i], radiance[i] = light.unit_direction(), light.radiance
        for name, values in (("u_light_direction", directions), ("u_light_radiance", radiance)):
            if name in program:
                program[name].write(values.tobytes())
        _set(program, "u_sky", rig.sky)
        _set(program, "u_ground", rig.ground)
        _set(program, "u_ambient", rig.ambient)
        _set(program, "u_exposure", rig.exposure)

    def _geometry_passes(
        self, camera: Camera, view: FloatArray, near: float, far: float
    ) -> tuple[Float32Array, Float32Array]:
        ctx = self.ctx
        size = (camera.width, camera.height)
        normal_buffer = ctx.renderbuffer(size, 4, dtype="f4")
        depth_buffer = ctx.renderbuffer(size, 1, dtype="f4")
        fbo = ctx.framebuffer(
            color_attachments=[normal_buffer, depth_buffer],
            depth_attachment=ctx.depth_renderbuffer(size),
        )
        fbo.use()
        ctx.viewport = (0, 0, *size)
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        program = self._geometry
        self._common(program, camera, view, projection_matrix(camera, near, far))
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.BLEND)
        units = {"base": 0, "normal": 1, "orm": 2}
        for draw in self._draws:
            self._set_material(program, draw, units)
            draw.vao_geometry.render()
        w, h = size
        normal = np.frombuffer(fbo.read(components=4, attachment=0, dtype="f4"), np.float32)
        depth = np.frombuffer(fbo.read(components=1, attachment=1, dtype="f4"), np.float32)
        normal = normal.reshape(h, w, 4)[::-1]
        depth = depth.reshape(h, w)[::-1].copy()
        covered = normal[..., 3] > 0.5
        depth[~covered] = np.inf
        _release_framebuffer(fbo)
        return depth, np.ascontiguousarray(normal[..., :3])

    def _contact_shadow(self) -> ContactShadow:
        if self._shadow is None:
            buffers = [(d.buffers[0], d.buffers[1]) for d in self._draws]
            self._shadow = contact_shadow(self.ctx, buffers, self.bounds)
        return self._shadow


def _area_normals(mesh: Mesh) -> FloatArray:
    from meshforge.geometry import vertex_normals

    return np.asarray(vertex_normals(mesh.vertices, mesh.faces), dtype=np.float64)


def _scaled(camera: Camera, s: int) -> Camera:
    """The camera at ``s`` times the resolution (same field of view; pixel centres kept)."""
    if s == 1:
        return camera
    from dataclasses import replace

    return replace(
        camera,
        width=camera.width * s,
        height=camera.height * s,
        fx=camera.fx * s,
        fy=camera.fy * s,
        cx=camera.cx * s,
        cy=camera.cy * s,
    )


def _box_down(image: Float32Array, s: int) -> Float32Array:
    if s == 1:
        return image
    h, w = image.shape[0] // s, image.shape[1] // s
    shape = (h, s, w, s, *image.shape[2:])
    return np.asarray(image.reshape(shape).mean(axis=(1, 3)), dtype=np.float32)


def _compose(colour: Float32Array, background: tuple[int, int, int] | None) -> Any:
    """uint8 RGBA from the colour pass: drawn over the background already (alpha 255), or
    premultiplied on transparent black (straight alpha out)."""
    rgb, alpha = colour[..., :3], colour[..., 3:4]
    if background is not None:
        out = rgb
        a = np.ones_like(alpha)
    else:
        out = np.where(alpha > 1e-6, rgb / np.maximum(alpha, 1e-6), 0.0)
        a = alpha
    pixels = np.concatenate([out, a], axis=-1)
    return np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def _set(program: Any, name: str, value: Any) -> None:
    """Set a uniform the linker kept (unused ones are optimised away)."""
    if name in program:
        program[name].value = value


def _set_matrix(program: Any, name: str, matrix: FloatArray) -> None:
    if name in program:
        # GLSL matrices are column-major: write the transpose of the row-major numpy matrix.
        program[name].write(np.ascontiguousarray(matrix.T, dtype="f4").tobytes())


def _release_framebuffer(fbo: Any) -> None:
    for attachment in (*fbo.color_attachments, fbo.depth_attachment):
        if attachment is not None:
            attachment.release()
    fbo.release()
