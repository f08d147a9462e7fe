"""The routes of the fake providers (provider_fakes.FakeProviders holds their state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from provider_fakes import KEY, Call, decode_data_url, decode_png

if TYPE_CHECKING:
    from provider_fakes import FakeProviders

MESHY_STATUS = {
    "queued": "PENDING",
    "running": "IN_PROGRESS",
    "success": "SUCCEEDED",
    "failed": "FAILED",
    "cancelled": "CANCELED",
    "expired": "EXPIRED",
}
STREAMED = "stream-"  # /files/stream-NAME serves NAME chunked, without a Content-Length


def build_app(fake: FakeProviders) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record_and_fault(request: Request, call_next: Any) -> Any:
        raw = await request.body()
        kind = request.headers.get("content-type", "")
        body: Any = raw.decode() if kind.startswith("application/json") else len(raw)
        headers = {k.lower(): v for k, v in request.headers.items()}
        fake.calls.append(Call(request.method, request.url.path, headers, body))
        for fault in fake.faults:
            if fault.method == request.method and request.url.path.startswith(fault.path):
                fake.faults.remove(fault)
                return JSONResponse(fault.body, fault.status, headers=fault.headers)
        if not request.url.path.startswith("/files/") and (
            request.headers.get("authorization") != f"Bearer {KEY}"
        ):
            if request.url.path.startswith("/tripo"):
                denied = {"code": 1002, "message": "Authentication failed", "suggestion": ""}
            else:
                denied = {"message": "Invalid API key"}
            return JSONResponse(denied, 401)
        return await call_next(request)

    # ------------------------------------------------------------------ Tripo

    @app.post("/tripo/upload")
    async def tripo_upload(request: Request) -> Any:
        async with request.form() as form:
            part = form.get("file")
            data = await part.read() if not isinstance(part, str | None) else b""
        try:
            fake.images.append(decode_png(data))
        except Exception:
            return JSONResponse({"code": 2003, "message": "the file is not a PNG"}, 400)
        return {"code": 0, "data": {"image_token": f"token-{len(fake.images)}"}}

    @app.post("/tripo/task")
    async def tripo_task(request: Request) -> Any:
        body = await request.json()
        token = (body.get("file") or {}).get("file_token", "")
        text = body.get("type") == "text_to_model" and body.get("prompt")
        image = body.get("type") == "image_to_model" and token == f"token-{len(fake.images)}"
        if not (text or image):
            return JSONResponse({"code": 2002, "message": "invalid task", "suggestion": ""}, 400)
        return {"code": 0, "data": {"task_id": fake.new_task("tripo", body["type"], body)}}

    @app.get("/tripo/task/{task_id}")
    def tripo_status(task_id: str) -> Any:
        if task_id not in fake.tasks:
            return JSONResponse({"code": 2001, "message": "task not found"}, 404)
        word, progress = fake.poll(task_id)
        output: dict[str, str] = {}
        if word == "success":
            output = {
                "model": fake.file_url(textured=False),
                "pbr_model": fake.file_url(),
                "rendered_image": fake.url("/files/render.webp"),
            }
            output = output if fake.tripo_output is None else fake.tripo_output
        data = {
            "task_id": task_id,
            "type": fake.tasks[task_id]["kind"],
            "status": word,
            "progress": round(progress),
            "output": output,
        }
        return {"code": 0, "data": data}

    # ------------------------------------------------------------------ Meshy

    def meshy_task(task_id: str, textured: bool) -> Any:
        if task_id not in fake.tasks:
            return JSONResponse({"message": "Task not found"}, 404)
        word, progress = fake.poll(task_id)
        status = MESHY_STATUS[word]
        task: dict[str, Any] = {
            "id": task_id,
            "status": status,
            "progress": round(progress),
            "model_urls": {},
            "task_error": {"message": ""},
        }
        if status == "SUCCEEDED":
            task["model_urls"] = {"glb": fake.file_url(textured), "usdz": fake.url("/files/x")}
        elif status in ("FAILED", "CANCELED", "EXPIRED"):
            task["task_error"] = {"message": fake.failure_message}
        return task

    @app.post("/meshy/openapi/v2/text-to-3d")
    async def meshy_text(request: Request) -> Any:
        body = await request.json()
        preview = fake.tasks.get(body.get("preview_task_id", ""), {})
        if body.get("mode") == "preview" and body.get("prompt"):
            kind = "preview"
        elif body.get("mode") == "refine" and preview.get("kind") == "preview":
            if preview["polls"] < fake.finish_after:
                return JSONResponse({"message": "The preview task has not succeeded"}, 400)
            kind = "refine"
        else:
            return JSONResponse({"message": "Invalid mode or missing fields"}, 400)
        return {"result": fake.new_task("meshy", kind, body)}

    @app.get("/meshy/openapi/v2/text-to-3d/{task_id}")
    def meshy_text_status(task_id: str) -> Any:
        return meshy_task(task_id, textured=fake.tasks.get(task_id, {}).get("kind") == "refine")

    @app.post("/meshy/openapi/v1/image-to-3d")
    async def meshy_image(request: Request) -> Any:
        body = await request.json()
        try:
            fake.images.append(decode_data_url(body.get("image_url", "")))
        except Exception:
            return JSONResponse({"message": "image_url is not a PNG data URI"}, 400)
        return {"result": fake.new_task("meshy", "image", body)}

    @app.get("/meshy/openapi/v1/image-to-3d/{task_id}")
    def meshy_image_status(task_id: str) -> Any:
        return meshy_task(task_id, textured=True)

    # ------------------------------------------------------------------ model files

    @app.get("/files/{name}")
    def files(name: str) -> Any:
        stored = fake.files.get(name.removeprefix(STREAMED))
        if stored is None:
            return JSONResponse({"message": "no such file"}, 404)
        content_type, data = stored
        if name.startswith(STREAMED):

            def chunks() -> Iterator[bytes]:
                for start in range(0, len(data), 256):
                    yield data[start : start + 256]

            return StreamingResponse(chunks(), media_type=content_type)
        return Response(data, media_type=content_type)

    return app
