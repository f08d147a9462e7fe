"""Run the Khronos glTF Validator (npm ``gltf-validator``, see meshforge.tools) on a GLB or glTF.

A short Node.js script (``node -e``) loads the installed package, calls ``validateBytes`` on the
file (external buffers and images of a .gltf are read from its folder) and prints the JSON
report, which :func:`run_gltf_validator` parses into a :class:`GltfValidation`. A validator that
is not installed, or that could not run, is a result with ``ran=False``: never a pass.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from meshforge import tools
from meshforge.validate.checks import CheckResult

DEFAULT_TIMEOUT_S = 120.0
MAX_ISSUES = 1000
IssueSeverity = Literal["error", "warning", "info", "hint"]
_SEVERITIES: tuple[IssueSeverity, ...] = ("error", "warning", "info", "hint")

# argv: the package folder, the file, the issue limit, glb|gltf. Prints the JSON report; exit 3
# when the validator rejects its input outright.
NODE_SCRIPT = r"""
const fs = require('fs');
const path = require('path');
const [moduleDir, file, maxIssues, format] = process.argv.slice(-4);
const validator = require(moduleDir);
const full = path.resolve(file);
const readExternal = (uri) => new Promise((resolve, reject) => {
  fs.readFile(path.resolve(path.dirname(full), decodeURIComponent(uri)), (err, data) => {
    if (err) { reject(err.toString()); } else { resolve(new Uint8Array(data)); }
  });
});
validator.validateBytes(new Uint8Array(fs.readFileSync(full)), {
  uri: path.basename(full),
  format: format,
  maxIssues: Number(maxIssues),
  writeTimestamp: false,
  externalResourceFunction: readExternal,
}).then((report) => {
  process.stdout.write(JSON.stringify(report));
}, (error) => {
  process.stderr.write(String(error));
  process.exit(3);
});
"""


@dataclass(frozen=True)
class GltfIssue:
    """One message of the validator: its code, severity, text and JSON pointer (or offset)."""

    code: str
    severity: IssueSeverity
    message: str
    pointer: str | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "pointer": self.pointer,
            "offset": self.offset,
        }

    def __str__(self) -> str:
        where = self.pointer or (f"byte {self.offset}" if self.offset is not None else "")
        return f"{self.code}" + (f" at {where}" if where else "") + f": {self.message}"


@dataclass(frozen=True)
class GltfValidation:
    """What the validator said about one file; ``passed`` only when it ran and found 0 errors."""

    file: str
    ran: bool
    num_errors: int = 0
    num_warnings: int = 0
    num_infos: int = 0
    num_hints: int = 0
    issues: tuple[GltfIssue, ...] = ()
    truncated: bool = False
    validator_version: str | None = None
    problem: str | None = field(default=None)

    @property
    def passed(self) -> bool:
        return self.ran and self.num_errors == 0

    def codes(self, severity: IssueSeverity) -> list[str]:
        """The distinct issue codes of one severity, sorted."""
        return sorted({i.code for i in self.issues if i.severity == severity})

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ran": self.ran,
            "passed": self.passed,
            "validator": self.validator_version,
            "errors": self.num_errors,
            "warnings": self.num_warnings,
            "infos": self.num_infos,
            "hints": self.num_hints,
            "truncated": self.truncated,
            "issues": [i.to_dict() for i in self.issues],
            "problem": self.problem,
        }


def run_gltf_validator(
    path: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    prefix: Path | None = None,
) -> GltfValidation:
    """Validate one .glb/.gltf file; never raises for a bad file, a missing validator or node."""
    source = Path(path)
    name = str(source)
    spec = tools.get_tool(tools.GLTF_VALIDATOR)
    if not tools.is_installed(tools.GLTF_VALIDATOR, prefix=prefix):
        found = tools.installed_version(tools.GLTF_VALIDATOR, prefix=prefix)
        state = "not installed" if found is None else f"installed at {found}, not {spec.version}"
        return GltfValidation(
            name, False, problem=f"the Khronos glTF Validator {spec.version} is {state}: "
            f"{tools.INSTALL_HINT}"
        )  # fmt: skip
    if not source.is_file():
        return GltfValidation(name, False, problem=f"{source} is not a file")
    module = tools.tool_path(tools.GLTF_VALIDATOR, prefix=prefix)
    fmt = "gltf" if source.suffix.lower() == ".gltf" else "glb"
    command = [
        *tools.NODE_COMMAND,
        "-e",
        NODE_SCRIPT,
        str(module),
        str(source),
        str(MAX_ISSUES),
        fmt,
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=timeout
        )
    except FileNotFoundError:
        return GltfValidation(
            name, False, problem=f"node ({tools.NODE_COMMAND[0]}) was not found: {tools.NPM_HINT}"
        )
    except subprocess.TimeoutExpired:
        return GltfValidation(
            name, False, problem=f"the glTF Validator did not finish within {timeout:g} s"
        )
    except OSError as exc:
        return GltfValidation(name, False, problem=f"node could not be started: {exc}")
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return GltfValidation(
            name,
            False,
            problem=f"the glTF Validator rejected the file (exit {result.returncode}): "
            + (" | ".join(tail) or "no output"),
        )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return GltfValidation(name, False, problem="the glTF Validator printed no JSON report")
    return parse_report(report, name)


def check_gltf_validator(validation: GltfValidation, *, shown: int = 3) -> CheckResult:
    """Required: the validator ran and found 0 errors; warnings are listed but do not fail."""
    if not validation.ran:
        problem = validation.problem or "the Khronos glTF Validator did not run"
        return CheckResult("gltf_validator", False, "not run", "0 errors", problem)
    measured = {"errors": validation.num_errors, "warnings": validation.num_warnings}
    version = validation.validator_version or "?"
    errors = [i for i in validation.issues if i.severity == "error"]
    warnings = [i for i in validation.issues if i.severity == "warning"]
    if errors or validation.num_errors:
        listed = "; ".join(str(i) for i in errors[:shown])
        more = validation.num_errors - min(len(errors), shown)
        message = (
            f"the Khronos glTF Validator {version} found {validation.num_errors} error(s): "
            f"{listed}" + (f" (+{more} more)" if more > 0 else "")
            + "; fix what these JSON pointers name, or re-export the file"
        )  # fmt: skip
        return CheckResult("gltf_validator", False, measured, "0 errors", message)
    message = f"the Khronos glTF Validator {version} found no errors"
    if warnings:
        codes = ", ".join(validation.codes("warning"))
        message += f"; {validation.num_warnings} warning(s): {codes}"
    return CheckResult("gltf_validator", True, measured, "0 errors", message)


def parse_report(report: dict[str, Any], file: str = "") -> GltfValidation:
    """A GltfValidation from the validator's JSON report (its ``issues`` object)."""
    issues = report.get("issues") or {}
    parsed = []
    for message in issues.get("messages") or []:
        level = message.get("severity", 0)
        offset = message.get("offset")
        parsed.append(
            GltfIssue(
                code=str(message.get("code", "UNKNOWN")),
                severity=_SEVERITIES[level] if level in range(4) else "error",
                message=str(message.get("message", "")),
                pointer=message.get("pointer"),
                offset=offset if isinstance(offset, int) else None,
            )
        )
    return GltfValidation(
        file=file,
        ran=True,
        num_errors=int(issues.get("numErrors", 0)),
        num_warnings=int(issues.get("numWarnings", 0)),
        num_infos=int(issues.get("numInfos", 0)),
        num_hints=int(issues.get("numHints", 0)),
        issues=tuple(parsed),
        truncated=bool(issues.get("truncated", False)),
        validator_version=report.get("validatorVersion"),
    )


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "GltfIssue",
    "GltfValidation",
    "check_gltf_validator",
    "parse_report",
    "run_gltf_validator",
]
