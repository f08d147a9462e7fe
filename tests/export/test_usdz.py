"""USDZ through usd-core: stage metadata, mesh, material, packaged texture, no validator errors."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from meshes import box_asset
from meshforge.errors import ExportError
from meshforge.export.registry import save
from meshforge.export.usdz import check_usdz
from meshforge.transforms import pivot

pytest.importorskip("pxr")


def test_usdz_stage(tmp_path: Path) -> None:
    from pxr import Usd, UsdGeom, UsdShade

    asset = box_asset(0.1, 0.2, 0.3, textured=True).transform(pivot())
    (path,) = save(asset, tmp_path / "box.usdz")
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.y
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().GetPath() == "/Root"
    (mesh,) = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    points = np.array(mesh.GetPointsAttr().Get())
    assert len(points) == 8
    assert np.allclose(points, asset.meshes[0].vertices, atol=1e-7)
    assert list(mesh.GetFaceVertexCountsAttr().Get()) == [3] * 12
    st = np.array(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get())
    uv = asset.meshes[0].uv
    assert uv is not None
    assert np.allclose(st, np.column_stack([uv[:, 0], 1 - uv[:, 1]]))
    material, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
    surface = material.ComputeSurfaceSource()[0]
    assert surface.GetIdAttr().Get() == "UsdPreviewSurface"
    assert surface.GetInput("metallic").Get() == 0.0
    assert surface.GetInput("roughness").Get() == pytest.approx(0.8)
    texture = surface.GetInput("diffuseColor").GetConnectedSources()[0][0].source
    file = UsdShade.Shader(texture.GetPrim()).GetInput("file").Get()
    assert file.path == "./textures/m0_BaseColor.jpg"
    assert "box.usdz[" in file.resolvedPath


def test_usdz_package_rules(tmp_path: Path) -> None:
    (path,) = save(box_asset(1, 1, 1, textured=True), tmp_path / "box.usdz")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["model.usdc", "textures/m0_BaseColor.jpg"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        assert archive.read("textures/m0_BaseColor.jpg")[:2] == b"\xff\xd8"
    data = path.read_bytes()
    for info in infos:
        name_len, extra_len = np.frombuffer(data, "<u2", 2, info.header_offset + 26)
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0
    assert check_usdz(path) == []


def test_usdz_without_usd_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pxr.Usd", None)
    with pytest.raises(ExportError, match=r"usd-core.*pip install 'meshforge\[usdz\]'"):
        save(box_asset(1, 1, 1), tmp_path / "box.usdz")
    assert not list(tmp_path.iterdir())
