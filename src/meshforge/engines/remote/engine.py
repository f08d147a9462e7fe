"""What the provider engines share: settings, the task's HTTP session, the download of the
provider's GLB and its loading into an Asset.

A provider module says how to submit its task and read its status (``run_task``); everything
else is here, so that every provider's model reaches the pipeline the same way: an Asset read
by meshforge's own loader, then scaled, pivoted, exported and validated like any engine's.

Frame: both providers document glTF output (+Y up, metres by the glTF specification, the
front towards +Z), which is the engine contract's canonical frame, so the model is kept as
loaded. A provider with another documented frame would rotate its Asset here.
"""

from __future__ import annotations

import abc
import dataclasses
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from meshforge.asset import Asset, Provenance
from meshforge.engines.base import Capabilities, GenerationRequest, ProgressFn
from meshforge.engines.remote.client import STAGE, ProviderClient, TaskStatus
from meshforge.engines.remote.settings import (
    ProviderSettings,
    RemoteSettings,
    key_variables,
    read_settings,
)
from meshforge.errors import EngineError, InputError, ProviderError, RecipeError
from meshforge.recipe import Options

if TYPE_CHECKING:
    from meshforge.image.frame import FramedImage
    from meshforge.transforms.base import StageReport

# The engine stage's progress: the provider's task(s) fill TASK_SPAN; the download follows.
TASK_SPAN = (0.05, 0.9)


def subject_png(framed: FramedImage) -> bytes:
    """The framed subject as an RGBA PNG (transparent around the subject)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(framed.pixels, "RGBA").save(out, "PNG")
    return out.getvalue()


class RemoteEngine(abc.ABC):
    """Base of the provider engines; subclasses set the class variables and ``run_task``."""

    name: ClassVar[str]
    version: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    options_model: ClassVar[type[Options]]
    settings_model: ClassVar[type[ProviderSettings]]
    face_budget_option: ClassVar[str | None] = None  # a provider with one names it

    def __init__(self, options: Options | None = None) -> None:
        self.options = options if options is not None else self.options_model()

    def generate(
        self, request: GenerationRequest, report: StageReport, progress: ProgressFn
    ) -> Asset:
        if request.prompt is None and request.image is None:
            raise EngineError(
                f"the {self.name} engine got neither a prompt nor a photo",
                stage=STAGE,
                hint="Give a photo or a prompt.",
            )
        with self.connect() as client:
            url = self.run_task(client, request, report, progress)
            progress(TASK_SPAN[1], f"{self.name}: downloading the model")
            asset = self.fetch(client, url, report)
        progress(1.0, f"{self.name}: model loaded")
        return asset

    def connect(self) -> ProviderClient:
        """A session for one task; no API key is an error before any request is sent."""
        settings = read_settings(self.settings_model)
        main, fallback = key_variables(self.name)
        if not settings.key:
            raise ProviderError(
                f"the {self.name} engine needs an API key, and neither {main} nor {fallback} "
                "is set",
                stage=STAGE,
                hint=f"Set {main} to your {self.name} API key (on every machine that runs jobs).",
            )
        return ProviderClient(
            self.name, settings.base_url, settings.key, main, read_settings(RemoteSettings)
        )

    @abc.abstractmethod
    def run_task(
        self,
        client: ProviderClient,
        request: GenerationRequest,
        report: StageReport,
        progress: ProgressFn,
    ) -> str:
        """Submit the provider's task(s) and follow them to the end; the model's URL."""

    def follow(
        self,
        client: ProviderClient,
        what: str,
        path: str,
        parse: Callable[[Any], TaskStatus],
        progress: ProgressFn,
        span: tuple[float, float] = TASK_SPAN,
    ) -> TaskStatus:
        """Poll ``GET path`` (read by ``parse``) until the task ends."""
        return client.wait(what, lambda: parse(client.call("GET", path)), progress, span)

    def text_only(self, option: str) -> RecipeError:
        """The error for an option of text prompts given with a photo."""
        return RecipeError(
            f"the {self.name} option {option} applies to text prompts only",
            stage="engine",
            hint=f"Remove {option} when you give a photo.",
        )

    def no_task_id(self, answer: Any) -> ProviderError:
        return ProviderError(
            f"{self.name} accepted the task but gave no task id (answer: {str(answer)[:200]})",
            stage=STAGE,
            hint=f"Check that MESHFORGE_{self.name.upper()}_BASE_URL points at the provider's "
            "API; run the job again.",
        )

    def no_model(self, task: str, fields: dict[str, Any]) -> ProviderError:
        return ProviderError(
            f"the {self.name} task {task} succeeded but names no model URL (its output has: "
            f"{', '.join(sorted(fields)) or 'nothing'})",
            stage=STAGE,
            hint="Run the job again; report it if it persists.",
        )

    def fetch(self, client: ProviderClient, url: str, report: StageReport) -> Asset:
        """Download the GLB at ``url`` and load it (meshforge.load) as this engine's Asset."""
        from meshforge.loading import load_asset

        with tempfile.TemporaryDirectory(prefix="meshforge-remote-") as folder:
            path = Path(folder) / "model.glb"
            size = client.download(url, path)
            try:
                asset = load_asset(path)
            except InputError as exc:
                raise ProviderError(
                    f"the {self.name} model cannot be read: {exc.message}",
                    stage=STAGE,
                    hint="Run the job again; report it if it persists.",
                ) from exc
        # The host only: the URL itself is a signed link that must not end up in reports.
        report.note("model_host", urlsplit(url).hostname or "")
        report.note("model_bytes", size)
        report.change("faces", 0, asset.face_count)
        provenance = Provenance(
            engine=self.name,
            engine_version=self.version,
            engine_options=self.options.model_dump(mode="json"),
        )
        return dataclasses.replace(asset, provenance=provenance)
