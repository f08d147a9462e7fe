"""Run one claimed job: fetch its stored inputs, run the pipeline (and the profile), store every
output, then record the asset, its version, its files and the webhook in one transaction.

The final write only lands while this worker still owns the running job, so a job that was
given to another worker after this one went silent is never recorded twice.
"""

from __future__ import annotations

import logging
import mimetypes
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from meshforge.catalog.db import Catalog
from meshforge.catalog.models import (
    ApiKey,
    Asset,
    AssetFile,
    AssetVersion,
    Job,
    WebhookDelivery,
    new_id,
    now,
)
from meshforge.errors import MeshforgeError
from meshforge.pipeline import ProgressEvent
from meshforge.service.schemas import JobOptions
from meshforge.storage.blobs import BlobStore

log = logging.getLogger("meshforge.worker")
PROGRESS_EVERY_S = 0.1
CONTENT_TYPES = {
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".usdz": "model/vnd.usdz+zip",
    ".stl": "model/stl",
    ".obj": "model/obj",
    ".ply": "application/ply",
    ".3mf": "model/3mf",
    ".json": "application/json",
    ".webp": "image/webp",
}


class JobCanceledError(Exception):
    """Raised from the progress callback once a cancel was asked for."""


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def build_recipe_data(
    options: JobOptions, source: dict[str, Any], out_dir: Path, name: str
) -> dict[str, Any]:
    """The recipe of a job whose input is ``source`` (``{"path": ...}`` or ``{"prompt": ...}``)."""
    engine_options = dict(options.engine_options)
    from meshforge.engines.base import get_engine_class

    # An engine registered from outside may not declare one: it then gets no budget option.
    budget = getattr(get_engine_class(options.engine), "face_budget_option", None)
    if options.target_faces is not None and options.profile is None and budget is not None:
        engine_options.setdefault(budget, options.target_faces)
    return {
        "input": source,
        "segment": {"segmenter": options.segmenter},
        "frame": {"foreground_ratio": options.foreground_ratio},
        "engine": {"name": options.engine, "options": engine_options},
        "size": {"height": options.height, "width": options.width, "depth": options.depth},
        "output": {
            "directory": out_dir,
            "name": name,
            "formats": list(options.formats),
            "thumbnail": options.thumbnail,
            "turntable": options.turntable,
        },
    }


def _profile_with_budgets(options: JobOptions) -> Any:
    """The chosen profile, with the job's face and texture budgets written into its steps."""
    from meshforge.validate.profiles import TransformSpec, load_profile

    assert options.profile is not None
    profile = load_profile(options.profile)
    steps = []
    for spec in profile.transforms:
        opts = dict(spec.options)
        if spec.name == "decimate" and options.target_faces is not None:
            opts["target_faces"] = options.target_faces
        if spec.name in ("bake",) and options.texture_size is not None:
            opts["size"] = options.texture_size
        if spec.name == "unwrap" and options.texture_size is not None:
            opts["resolution"] = options.texture_size
        if spec.name == "resize" and options.texture_size is not None:
            opts["max_size"] = options.texture_size
        steps.append(TransformSpec(name=spec.name, options=opts))
    return profile.model_copy(update={"transforms": tuple(steps)})


def run_pipeline(
    options: JobOptions,
    source: dict[str, Any],
    out_dir: Path,
    name: str,
    on_progress: Callable[..., None],
) -> dict[str, Any]:
    """Generate, apply the profile or the texture budget, save; the report document."""
    from meshforge.pipeline import apply_profile_to_result, resave, run
    from meshforge.recipe import build_recipe

    recipe = build_recipe(build_recipe_data(options, source, out_dir, name))
    result = run(recipe, on_progress=on_progress)
    if options.profile is not None:
        apply_profile_to_result(result, _profile_with_budgets(options))
    elif options.texture_size is not None:
        from meshforge.transforms.chain import build_chain

        resave(
            result,
            result.asset.transform(*build_chain([("resize", {"max_size": options.texture_size})])),
        )
    return result.report


class JobRun:
    """One claimed job in this worker; ``cancel`` is set by the heartbeat when asked."""

    def __init__(self, catalog: Catalog, store: BlobStore, job_id: str, worker_id: str) -> None:
        self.catalog = catalog
        self.store = store
        self.job_id = job_id
        self.worker_id = worker_id
        self.cancel = threading.Event()
        self._last_progress = 0.0
        self._last_stage: str | None = None
        self._work: str | None = None

    def _owned(self) -> Any:
        return (
            (Job.id == self.job_id) & (Job.worker_id == self.worker_id) & (Job.state == "running")
        )

    def on_progress(self, event: ProgressEvent) -> None:
        """Record progress; raise JobCanceledError once a cancel was asked for (the API's
        promise is that a running job stops at its next progress step, not at the next
        heartbeat, which can be seconds away)."""
        if self.cancel.is_set():
            raise JobCanceledError()
        moment = time.monotonic()
        if event.stage == self._last_stage and moment - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress, self._last_stage = moment, event.stage
        with self.catalog.session() as session:
            session.execute(
                update(Job)
                .where(self._owned())
                .values(progress=round(event.fraction, 4), stage=event.stage, heartbeat_at=now())
            )
            if session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                self.cancel.set()
        if self.cancel.is_set():
            raise JobCanceledError()

    def execute(self) -> str:
        """Run the job to its end; the state it ended in (or "lost" when no longer ours)."""
        with self.catalog.session() as session:
            job = session.get(Job, self.job_id)
            if job is None or job.worker_id != self.worker_id or job.state != "running":
                return "lost"
            options = JobOptions.model_validate(job.options)
            inputs = list(job.inputs)
        started = time.perf_counter()
        log.info("job started", extra={"job_id": self.job_id})
        try:
            with tempfile.TemporaryDirectory(prefix="meshforge-job-") as tmp:
                work = Path(tmp)
                self._work = str(work)
                source = self._recipe_input(inputs[0], work / "in")
                asset_id = new_id("ast")
                name = options.name or asset_id
                report = run_pipeline(options, source, work / "out", name, self.on_progress)
                if self.cancel.is_set():
                    raise JobCanceledError()
                files = self._store_outputs(work / "out", asset_id)
                warnings = [self._scrub_warning(w) for w in report.get("warnings", [])]
                if len(inputs) > 1:
                    warnings.append(
                        {
                            "stage": "engine",
                            "code": "extra-images",
                            "message": f"engine {options.engine} uses one photo; "
                            f"{len(inputs) - 1} more were stored but not used",
                        }
                    )
                timings = dict(report.get("timings", {}))
                timings["job_total"] = round(time.perf_counter() - started, 4)
                return self._succeed(asset_id, name, files, report, warnings, timings)
        except JobCanceledError:
            return self._end("canceled", None)
        except MeshforgeError as error:
            log.info("job failed", extra={"job_id": self.job_id, "error": error.code})
            problem = {
                "code": error.code,
                "stage": error.stage,
                "message": self._scrub(error.message),
            }
            return self._end("failed", problem | {"hint": error.hint or ""})
        except Exception as error:  # a bug must fail the job, not the worker
            log.exception("job crashed", extra={"job_id": self.job_id})
            return self._end(
                "failed",
                {
                    "code": "internal",
                    "stage": "worker",
                    "message": self._scrub(repr(error)),
                    "hint": "",
                },
            )

    def _recipe_input(self, stored: dict[str, Any], folder: Path) -> dict[str, Any]:
        """The recipe's input for a stored job input: a prompt as it is, an upload fetched
        from the blob store into ``folder``."""
        if stored.get("kind") == "prompt":
            return {"prompt": stored["text"]}
        photo = folder / Path(stored["filename"]).name
        folder.mkdir(exist_ok=True)
        photo.write_bytes(self.store.read_bytes(stored["storage_key"]))
        return {"path": photo}

    def _scrub(self, text: str) -> str:
        """A message that names files by their names, not by this worker's temporary folder
        (the API must not show server paths, and a path would differ on every run)."""
        if self._work is None:
            return text
        for prefix in (f"{self._work}/in/", f"{self._work}/out/", f"{self._work}/"):
            text = text.replace(prefix, "")
        return text.replace(self._work, "")

    def _scrub_warning(self, warning: Any) -> Any:
        if isinstance(warning, dict) and isinstance(warning.get("message"), str):
            return {**warning, "message": self._scrub(warning["message"])}
        return warning

    def _store_outputs(self, out_dir: Path, asset_id: str) -> list[dict[str, Any]]:
        files = []
        for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(out_dir).as_posix()
            key = f"assets/{asset_id}/v1/{rel}"
            blob = self.store.put_file(key, path)
            kind = path.suffix.lstrip(".").lower()
            if rel.endswith(".report.json"):
                kind = "report"
            elif "_turntable" in path.stem:
                kind = "turntable"
            elif kind in ("png", "webp") and "_" not in path.stem.removeprefix(asset_id):
                kind = "thumbnail"
            files.append(
                {
                    "name": rel,
                    "kind": kind,
                    "key": key,
                    "bytes": blob.bytes,
                    "sha256": blob.sha256,
                    "content_type": content_type(rel),
                }
            )
        return files

    def _succeed(
        self,
        asset_id: str,
        name: str,
        files: list[dict[str, Any]],
        report: dict[str, Any],
        warnings: list[Any],
        timings: dict[str, Any],
    ) -> str:
        """Record the result, only while this worker owns the job and no cancel was asked for.

        The state change is one conditional UPDATE, so it is atomic on SQLite too (where a
        SELECT ... FOR UPDATE locks nothing): a cancel or a re-queue that lands first wins.
        """
        with self.catalog.session() as session:
            won = session.execute(
                update(Job)
                .where(self._owned(), Job.cancel_requested.is_not(True))
                .values(
                    state="succeeded",
                    progress=1.0,
                    stage=None,
                    asset_id=asset_id,
                    asset_version=1,
                    warnings=warnings,
                    timings=timings,
                    finished_at=now(),
                )
                .execution_options(synchronize_session=False)
            )
            job = session.get(Job, self.job_id) if getattr(won, "rowcount", 0) == 1 else None
            if job is not None:
                version_id = new_id("ver")
                session.add(Asset(id=asset_id, key_id=job.key_id, name=name, latest_version=1))
                session.flush()
                session.add(
                    AssetVersion(
                        id=version_id,
                        asset_id=asset_id,
                        version=1,
                        job_id=job.id,
                        lineage={
                            "job_id": job.id,
                            "inputs": [lineage_input(i) for i in job.inputs],
                            "options": job.options,
                            "engine": report.get("engine"),
                            "stages": [
                                {"stage": s.get("stage"), "version": s.get("version")}
                                for s in report.get("stages", [])
                                if isinstance(s, dict)
                            ],
                        },
                    )
                )
                session.flush()
                for entry in files:
                    session.add(
                        AssetFile(
                            id=new_id("fil"),
                            version_id=version_id,
                            kind=entry["kind"],
                            name=entry["name"],
                            content_type=entry["content_type"],
                            bytes=entry["bytes"],
                            sha256=entry["sha256"],
                            storage_key=entry["key"],
                        )
                    )
                queue_webhook(session, job, "job.succeeded")
        if job is None:
            # Canceled, or another worker owns the job now: leave no orphan blobs.
            for entry in files:
                self.store.delete(entry["key"])
            return self._end("canceled", None)
        log.info("job succeeded", extra={"job_id": self.job_id, "asset_id": asset_id})
        return "succeeded"

    def _end(self, state: str, error: dict[str, Any] | None) -> str:
        """End the job in ``state`` while this worker owns it; "lost" when it does not."""
        with self.catalog.session() as session:
            ended = session.execute(
                update(Job)
                .where(self._owned())
                .values(state=state, error=error, finished_at=now())
                .execution_options(synchronize_session=False)
            )
            if getattr(ended, "rowcount", 0) != 1:
                return "lost"
            job = session.get(Job, self.job_id)
            assert job is not None
            queue_webhook(session, job, f"job.{state}")
        return state


def lineage_input(stored: dict[str, Any]) -> dict[str, Any]:
    """A job input as its lineage records it: an upload by id and digest, a prompt by text."""
    if stored.get("kind") == "prompt":
        return {"prompt": stored.get("text")}
    return {"upload_id": stored.get("upload_id"), "sha256": stored.get("sha256")}


def job_event_payload(job: Job, event: str) -> dict[str, Any]:
    return {
        "type": event,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {
            "id": job.id,
            "state": job.state,
            "asset_id": job.asset_id,
            "asset_version": job.asset_version,
            "error": job.error,
            "metadata": job.metadata_,
        },
    }


def queue_webhook(session: Any, job: Job, event: str) -> None:
    """Record the job's webhook for the dispatcher, in the caller's transaction."""
    if not job.webhook_url:
        return
    key = session.get(ApiKey, job.key_id) if job.key_id else None
    session.add(
        WebhookDelivery(
            id=new_id("msg"),
            job_id=job.id,
            key_id=key.id if key is not None else None,
            event=event,
            url=job.webhook_url,
            payload=job_event_payload(job, event),
            next_attempt_at=now(),
        )
    )
