"""The exception tree of meshforge.

Every error the library raises on purpose is a :class:`MeshforgeError`. Its message starts with
the stage that failed, says what was wrong and what to do about it. The CLI maps each branch to an
exit code (``exit_code``); the REST service maps it to an RFC 9457 problem response.

::

    MeshforgeError                      exit 1
    ├── InputError                      exit 2   the user's input cannot be used as it is
    │   ├── ImageError                           a photo cannot be read
    │   │   ├── EmptyFileError                   zero bytes
    │   │   ├── NotAnImageError                  not a format we read
    │   │   ├── TruncatedImageError              the file ends early
    │   │   ├── ImageTooLargeError               > 40 megapixels or a decompression bomb
    │   │   └── ImageTooSmallError               shorter side < 128 px
    │   └── RecipeError                          options or a job description are invalid
    ├── SegmentationError               exit 3   the subject cannot be separated
    │   └── NoForegroundError                    nothing in the photo looks like a subject
    ├── DependencyError                 exit 4   an optional part is not installed
    │   └── ModelNotInstalledError               a model file is missing (meshforge models install)
    ├── ModelInstallError               exit 4   downloading or checking a model failed
    ├── EngineError                     exit 5   reconstruction or generation failed
    │   └── ProviderError                        a remote provider refused or failed the task
    ├── TransformError                  exit 6   a post-processing step failed
    └── ExportError                     exit 7   writing an output file failed
"""

from __future__ import annotations


class MeshforgeError(Exception):
    """Base of every error meshforge raises on purpose.

    ``stage`` names the step that failed (``load``, ``segment``, ``decimate`` ...); ``hint`` says
    what the user can do. ``str(error)`` is ``"stage: message. hint"``.
    """

    exit_code = 1
    default_stage = "meshforge"

    def __init__(self, message: str, *, stage: str | None = None, hint: str | None = None) -> None:
        self.stage = stage or self.default_stage
        self.message = message.rstrip(".")
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.stage}: {self.message}."
        return f"{text} {self.hint}" if self.hint else text

    @property
    def code(self) -> str:
        """A stable, kebab-case identifier for the error class (used in reports and the API)."""
        name = type(self).__name__.removesuffix("Error")
        return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-") or "error"


class InputError(MeshforgeError):
    exit_code = 2
    default_stage = "input"


class ImageError(InputError):
    default_stage = "load"


class EmptyFileError(ImageError):
    pass


class NotAnImageError(ImageError):
    pass


class TruncatedImageError(ImageError):
    pass


class ImageTooLargeError(ImageError):
    pass


class ImageTooSmallError(ImageError):
    pass


class RecipeError(InputError):
    default_stage = "recipe"


class SegmentationError(MeshforgeError):
    exit_code = 3
    default_stage = "segment"


class NoForegroundError(SegmentationError):
    pass


class DependencyError(MeshforgeError):
    exit_code = 4


class ModelNotInstalledError(DependencyError):
    default_stage = "models"


class ModelInstallError(MeshforgeError):
    exit_code = 4
    default_stage = "models"


class EngineError(MeshforgeError):
    exit_code = 5
    default_stage = "engine"


class ProviderError(EngineError):
    """A remote generation provider (``engines/remote/``) refused the request or failed the
    task: no or a bad API key, no credits, a failed or timed-out task, an unusable model."""


class TransformError(MeshforgeError):
    exit_code = 6
    default_stage = "transform"


class ExportError(MeshforgeError):
    exit_code = 7
    default_stage = "export"


__all__ = [
    "DependencyError",
    "EmptyFileError",
    "EngineError",
    "ExportError",
    "ImageError",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "InputError",
    "MeshforgeError",
    "ModelInstallError",
    "ModelNotInstalledError",
    "NoForegroundError",
    "NotAnImageError",
    "ProviderError",
    "RecipeError",
    "SegmentationError",
    "TransformError",
    "TruncatedImageError",
]
