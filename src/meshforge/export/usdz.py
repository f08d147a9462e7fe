"""USDZ through usd-core (``pip install 'meshforge[usdz]'``): metres, +Y up, UsdPreviewSurface.

The stage has ``upAxis = "Y"`` and ``metersPerUnit = 1``; its default prim ``/Root`` holds one
Mesh per mesh (points, normals, an ``st`` primvar with t = 1 - v, since USD's t runs up the
image) and one UsdPreviewSurface material per material. Base-colour, normal and ORM textures are
PNG or JPEG files inside the package, which UsdUtils writes uncompressed and 64-byte aligned as
the USDZ rules require. ``pxr`` is imported only when a USDZ is written or checked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from meshforge.asset import Asset, Material, Texture
from meshforge.errors import ExportError
from meshforge.export.images import encode_texture
from meshforge.export.registry import Exporter, write_atomically

USDZ_HINT = "pip install 'meshforge[usdz]'"


def require_pxr() -> None:
    """Raise ExportError with the install hint when usd-core is missing."""
    try:
        import pxr.Usd  # noqa: F401
    except ImportError as exc:
        raise ExportError("USDZ needs usd-core, which is not installed", hint=USDZ_HINT) from exc


def _texture_file(texture: Texture, folder: Path, name: str) -> str:
    data, mime = encode_texture(texture.image)
    relative = f"./textures/{name}{'.png' if mime == 'image/png' else '.jpg'}"
    (folder / relative).parent.mkdir(exist_ok=True)
    (folder / relative).write_bytes(data)
    return relative


def _material(stage: Any, path: str, material: Material, index: int, folder: Path) -> Any:
    from pxr import Gf, Sdf, UsdShade

    usd_material = UsdShade.Material.Define(stage, path)
    surface = UsdShade.Shader.Define(stage, f"{path}/PreviewSurface")
    surface.CreateIdAttr("UsdPreviewSurface")
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(material.metallic_factor)
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(material.roughness_factor)
    r, g, b, alpha = material.base_color_factor
    usd_material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")

    reader: Any = None

    def texture(name: str, tex: Texture, color_space: str) -> Any:
        nonlocal reader
        if reader is None:
            reader = UsdShade.Shader.Define(stage, f"{path}/StReader")
            reader.CreateIdAttr("UsdPrimvarReader_float2")
            reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
            reader.CreateOutput("result", Sdf.ValueTypeNames.Float2)
        shader = UsdShade.Shader.Define(stage, f"{path}/{name}")
        shader.CreateIdAttr("UsdUVTexture")
        relative = _texture_file(tex, folder, f"m{index}_{name}")
        shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(relative)
        shader.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result"
        )
        shader.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set(color_space)
        shader.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
        shader.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
        return shader

    diffuse = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    opacity = surface.CreateInput("opacity", Sdf.ValueTypeNames.Float)
    if material.base_color_texture is not None:
        shader = texture("BaseColor", material.base_color_texture, "sRGB")
        if (r, g, b, alpha) != (1.0, 1.0, 1.0, 1.0):
            shader.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(r, g, b, alpha))
        diffuse.ConnectToSource(shader.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
        has_alpha = material.base_color_texture.image.ndim == 3 and (
            material.base_color_texture.image.shape[2] == 4
        )
        if material.alpha_mode != "OPAQUE" and has_alpha:
            opacity.ConnectToSource(shader.CreateOutput("a", Sdf.ValueTypeNames.Float))
        else:
            opacity.Set(alpha if material.alpha_mode != "OPAQUE" else 1.0)
    else:
        diffuse.Set(Gf.Vec3f(r, g, b))
        opacity.Set(alpha if material.alpha_mode != "OPAQUE" else 1.0)
    if material.alpha_mode == "MASK":
        threshold = surface.CreateInput("opacityThreshold", Sdf.ValueTypeNames.Float)
        threshold.Set(float(material.alpha_cutoff))
    if material.normal_texture is not None:
        shader = texture("Normal", material.normal_texture, "raw")
        shader.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(2, 2, 2, 1))
        shader.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(-1, -1, -1, 0))
        surface.CreateInput("normal", Sdf.ValueTypeNames.Normal3f).ConnectToSource(
            shader.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        )
    if material.occlusion_roughness_metallic_texture is not None:
        shader = texture("ORM", material.occlusion_roughness_metallic_texture, "raw")
        factors = Gf.Vec4f(1.0, material.roughness_factor, material.metallic_factor, 1.0)
        shader.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(factors)
        for channel, name in (("r", "occlusion"), ("g", "roughness"), ("b", "metallic")):
            surface.CreateInput(name, Sdf.ValueTypeNames.Float).ConnectToSource(
                shader.CreateOutput(channel, Sdf.ValueTypeNames.Float)
            )
    return usd_material


def build_stage(asset: Asset, layer_path: Path) -> None:
    """Write the asset as a USD layer at ``layer_path``; textures go to ``textures/`` beside it."""
    require_pxr()
    from pxr import Sdf, Tf, Usd, UsdGeom, UsdShade, Vt

    stage = Usd.Stage.CreateNew(str(layer_path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, "/Root")
    stage.SetDefaultPrim(root.GetPrim())
    folder = layer_path.parent
    materials = [
        _material(stage, f"/Root/Materials/M{i}_{Tf.MakeValidIdentifier(m.name)}", m, i, folder)
        for i, m in enumerate(asset.materials)
    ]
    for index, mesh in enumerate(asset.meshes):
        path = f"/Root/Geometry/Mesh{index}_{Tf.MakeValidIdentifier(mesh.name)}"
        usd_mesh = UsdGeom.Mesh.Define(stage, path)
        points = Vt.Vec3fArray.FromNumpy(mesh.vertices.astype("float32"))
        usd_mesh.CreatePointsAttr(points)
        usd_mesh.CreateExtentAttr(UsdGeom.PointBased.ComputeExtent(points))
        usd_mesh.CreateFaceVertexCountsAttr(Vt.IntArray([3] * len(mesh.faces)))
        usd_mesh.CreateFaceVertexIndicesAttr(
            Vt.IntArray.FromNumpy(mesh.faces.astype("int32").ravel())
        )
        usd_mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        usd_mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
        if mesh.normals is not None:
            usd_mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(mesh.normals.astype("float32")))
            usd_mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        if mesh.uv is not None:
            st = mesh.uv.astype("float32").copy()
            st[:, 1] = 1.0 - st[:, 1]
            primvar = UsdGeom.PrimvarsAPI(usd_mesh).CreatePrimvar(
                "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex
            )
            primvar.Set(Vt.Vec2fArray.FromNumpy(st))
        if materials:
            chosen = asset.materials[min(mesh.material, len(materials) - 1)]
            usd_mesh.CreateDoubleSidedAttr(chosen.double_sided)
            UsdShade.MaterialBindingAPI.Apply(usd_mesh.GetPrim()).Bind(
                materials[min(mesh.material, len(materials) - 1)]
            )
    if asset.size is not None:
        root.GetPrim().SetCustomDataByKey("meshforge:size", asset.size.to_dict())
    stage.GetRootLayer().Save()


def to_usdz(asset: Asset) -> bytes:
    require_pxr()
    from pxr import UsdUtils

    with tempfile.TemporaryDirectory(prefix="meshforge-usdz-") as tmp:
        layer = Path(tmp) / "model.usdc"
        build_stage(asset, layer)
        package = Path(tmp) / "model.usdz"
        if not UsdUtils.CreateNewUsdzPackage(str(layer), str(package)):
            raise ExportError("usd-core could not package the USDZ", stage="export")
        return package.read_bytes()


def write_usdz(asset: Asset, path: Path) -> list[Path]:
    return [write_atomically(path, to_usdz(asset))]


def check_usdz(path: str | Path) -> list[str]:
    """Run usd-core's validators (what ``usdchecker`` runs) and return the errors found."""
    require_pxr()
    from pxr import Usd, UsdValidation

    stage = Usd.Stage.Open(str(path))
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    return [
        f"{e.GetName()}: {e.GetMessage()}"
        for e in errors
        if e.GetType() == UsdValidation.ValidationErrorType.Error
    ]


EXPORTER = Exporter("usdz", ".usdz", write_usdz, "USDZ (usd-core), UsdPreviewSurface, metres, Y up")
