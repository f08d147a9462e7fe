"""3MF (3D Manufacturing Format, core specification 1.x) for slicers: millimetres, +Z up.

A zip with ``[Content_Types].xml``, ``_rels/.rels`` and ``3D/3dmodel.model``: one mesh object
per mesh, placed by one build item each, and one ``basematerials`` group holding each material's
display colour (its base-colour factor times the texture's mean colour, in sRGB).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from meshforge import __version__
from meshforge.asset import Asset, Material
from meshforge.export.registry import Exporter, write_atomically
from meshforge.export.stl import Y_UP_TO_Z_UP_MM

CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
MODEL_PATH = "3D/3dmodel.model"
MODEL_TYPE = "application/vnd.ms-package.3dmanufacturing-3dmodel+xml"
RELS_TYPE = "application/vnd.openxmlformats-package.relationships+xml"
MODEL_REL = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"

CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
 <Default Extension="rels" ContentType="{RELS_TYPE}"/>
 <Default Extension="model" ContentType="{MODEL_TYPE}"/>
</Types>
"""
RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
 <Relationship Target="/{MODEL_PATH}" Id="rel0" Type="{MODEL_REL}"/>
</Relationships>
"""


def display_color(material: Material) -> str:
    """``#RRGGBBAA`` in sRGB: the linear base-colour factor times the texture's mean colour."""
    factor = np.asarray(material.base_color_factor, dtype=np.float64)
    rgb = np.where(
        factor[:3] <= 0.0031308, factor[:3] * 12.92, 1.055 * factor[:3] ** (1 / 2.4) - 0.055
    )
    alpha = factor[3]
    if material.base_color_texture is not None:
        image = material.base_color_texture.image.reshape(
            -1, material.base_color_texture.image.shape[-1]
        )
        mean = image.mean(axis=0) / 255.0
        rgb = rgb * mean[:3]
        if len(mean) == 4:
            alpha *= mean[3]
    values = np.clip(np.round(np.append(rgb, alpha) * 255), 0, 255).astype(int)
    return "#" + "".join(f"{v:02X}" for v in values)


def model_xml(asset: Asset) -> str:
    """The ``3D/3dmodel.model`` document."""
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<model unit="millimeter" xml:lang="en-US" xmlns="{CORE_NS}">\n')
    out.write(f' <metadata name="Application">meshforge {__version__}</metadata>\n <resources>\n')
    materials = asset.materials
    if materials:
        out.write('  <basematerials id="1">\n')
        for material in materials:
            name, color = quoteattr(material.name), display_color(material)
            out.write(f'   <base name={name} displaycolor="{color}"/>\n')
        out.write("  </basematerials>\n")
    ids: list[int] = []
    for index, mesh in enumerate(asset.meshes):
        faces = mesh.faces
        # The spec forbids triangles that repeat a vertex.
        faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])]
        faces = faces[faces[:, 0] != faces[:, 2]]
        if not len(faces):
            continue
        object_id = index + 2
        ids.append(object_id)
        props = ""
        if materials:
            props = f' pid="1" pindex="{min(mesh.material, len(materials) - 1)}"'
        out.write(f'  <object id="{object_id}" type="model" name={quoteattr(mesh.name)}{props}>\n')
        out.write("   <mesh>\n    <vertices>\n")
        np.savetxt(
            out,
            mesh.vertices @ Y_UP_TO_Z_UP_MM.T,
            fmt='     <vertex x="%.5f" y="%.5f" z="%.5f"/>',
        )
        out.write("    </vertices>\n    <triangles>\n")
        np.savetxt(out, faces, fmt='     <triangle v1="%d" v2="%d" v3="%d"/>')
        out.write("    </triangles>\n   </mesh>\n  </object>\n")
    out.write(" </resources>\n <build>\n")
    for object_id in ids:
        out.write(f'  <item objectid="{object_id}"/>\n')
    out.write(" </build>\n</model>\n")
    return out.getvalue()


def to_3mf(asset: Asset) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr(MODEL_PATH, model_xml(asset))
    return buffer.getvalue()


def write_3mf(asset: Asset, path: Path) -> list[Path]:
    return [write_atomically(path, to_3mf(asset))]


EXPORTER = Exporter("3mf", ".3mf", write_3mf, "3MF in millimetres, Z up, one object per mesh")
