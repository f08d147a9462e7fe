"""What every check returns and reads: CheckResult, and the texture and material facts that the
texture and material checks take (from the asset itself, or read from a glTF file).

Each check is a plain function that returns one CheckResult: what was measured, the limit it was
held to, and a message that says what to do. Checks never raise on a bad asset: a failing asset
is a result, not an error. Profiles (profiles.py) decide which checks run and how strictly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

MapKind = Literal["base_color", "normal", "orm"]
MAP_KINDS: tuple[MapKind, ...] = ("base_color", "normal", "orm")
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``measured`` and ``limit`` are JSON-ready values."""

    id: str
    passed: bool
    measured: Any
    limit: Any
    message: str
    severity: Severity = "error"

    @property
    def status(self) -> Literal["PASS", "FAIL", "WARN"]:
        """FAIL only for a failed required (error) check; a failed warning check is a WARN."""
        if self.passed:
            return "PASS"
        return "FAIL" if self.severity == "error" else "WARN"

    def with_severity(self, severity: Severity) -> CheckResult:
        return dataclasses.replace(self, severity=severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "passed": self.passed,
            "severity": self.severity,
            "measured": self.measured,
            "limit": self.limit,
            "message": self.message,
        }


@dataclass(frozen=True)
class TextureInfo:
    """One texture as a check sees it: the asset's own or one read from a glTF file."""

    name: str
    width: int
    height: int
    maps: tuple[MapKind, ...]


@dataclass(frozen=True)
class MaterialInfo:
    """Which PBR maps a material has, and any reference that points nowhere."""

    name: str
    maps: tuple[MapKind, ...]
    broken: tuple[str, ...] = ()
    spec_gloss: bool = False


def verdict(
    check_id: str, passed: bool, measured: Any, limit: Any, ok: str, bad: str
) -> CheckResult:
    """A CheckResult with the message that fits the outcome."""
    return CheckResult(check_id, passed, measured, limit, ok if passed else bad)
