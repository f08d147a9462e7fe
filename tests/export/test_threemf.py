"""3MF: package parts, millimetres with Z up, one object per mesh, display colours."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from meshes import box_asset
from meshforge.asset import Material
from meshforge.export.registry import save
from meshforge.transforms import pivot

CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def read_model(path: Path) -> ElementTree.Element:
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "3D/3dmodel.model",
            "[Content_Types].xml",
            "_rels/.rels",
        ]
        types = ElementTree.fromstring(archive.read("[Content_Types].xml"))
        defaults = {d.get("Extension"): d.get("ContentType") for d in types.iter(f"{TYPES}Default")}
        assert defaults == {
            "rels": "application/vnd.openxmlformats-package.relationships+xml",
            "model": "application/vnd.ms-package.3dmanufacturing-3dmodel+xml",
        }
        (rel,) = ElementTree.fromstring(archive.read("_rels/.rels")).iter(f"{RELS}Relationship")
        assert rel.get("Target") == "/3D/3dmodel.model"
        assert rel.get("Type") == "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
        return ElementTree.fromstring(archive.read("3D/3dmodel.model"))


def test_3mf_millimetres_z_up(tmp_path: Path) -> None:
    asset = box_asset(0.1, 0.2, 0.3, textured=True).transform(pivot())
    (path,) = save(asset, tmp_path / "box.3mf")
    model = read_model(path)
    assert model.get("unit") == "millimeter"
    (obj,) = model.iter(f"{CORE}object")
    assert obj.get("type") == "model"
    vertices = np.array([[float(v.get(k)) for k in "xyz"] for v in obj.iter(f"{CORE}vertex")])
    assert len(vertices) == 8
    assert np.allclose(vertices.min(axis=0), [-50, -150, 0], atol=1e-4)
    assert np.allclose(vertices.max(axis=0), [50, 150, 200], atol=1e-4)
    triangles = np.array(
        [[int(t.get(k)) for k in ("v1", "v2", "v3")] for t in obj.iter(f"{CORE}triangle")]
    )
    assert np.array_equal(triangles, asset.meshes[0].faces)
    (item,) = model.iter(f"{CORE}item")
    assert item.get("objectid") == obj.get("id")
    # A quarter of the texture is red: the display colour is its mean.
    (base,) = model.iter(f"{CORE}base")
    assert base.get("displaycolor") == "#400000FF"
    assert obj.get("pid") == "1" and obj.get("pindex") == "0"


def test_3mf_one_object_per_mesh_and_colours(tmp_path: Path) -> None:
    asset = box_asset(1, 1, 1)
    second = dataclasses.replace(asset.meshes[0], name="lid", material=1)
    # A triangle that repeats a vertex is left out, as the spec requires.
    second.faces = np.vstack([second.faces, [[0, 0, 1]]])
    asset.meshes.append(second)
    asset.materials = [Material(base_color_factor=(1.0, 0.0, 0.0, 1.0)), Material()]
    (path,) = save(asset, tmp_path / "two.3mf")
    model = read_model(path)
    objects = list(model.iter(f"{CORE}object"))
    assert [o.get("name") for o in objects] == ["mesh", "lid"]
    assert [len(list(o.iter(f"{CORE}triangle"))) for o in objects] == [12, 12]
    assert [o.get("pindex") for o in objects] == ["0", "1"]
    assert [b.get("displaycolor") for b in model.iter(f"{CORE}base")] == ["#FF0000FF", "#FFFFFFFF"]
    assert len(list(model.iter(f"{CORE}item"))) == 2
