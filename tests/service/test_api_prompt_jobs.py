"""Prompt jobs through the real service (SQLite and PostgreSQL): ``POST /v1/jobs`` with a
prompt and a remote engine is run by a worker process against the fake providers, whose base
URLs reach the worker through the MESHFORGE_ variables."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
import trimesh

from provider_fakes import BOX_EXTENTS, FakeProviders, Fault
from service_harness import Service, start_service, stop_service

PROMPT = "a red ceramic mug"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def prompt_service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_providers: FakeProviders,
) -> Iterator[Service]:
    """A running service whose workers see the fake providers' URLs and key."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("TRIPO_API_KEY", "MESHY_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        running, drop = start_service(
            request.param,
            tmp_path_factory.mktemp(f"prompt-{request.param}"),
            monkeypatch,
            **fake_providers.env(),
        )
        try:
            yield running
        finally:
            stop_service(running, drop)


@pytest.fixture
def fake(fake_providers: FakeProviders) -> FakeProviders:
    fake_providers.reset()
    return fake_providers


def test_a_prompt_job_with_tripo_succeeds_with_a_real_size_glb(
    prompt_service: Service, fake: FakeProviders
) -> None:
    client = prompt_service.client()
    response = client.post(
        "/v1/jobs",
        json={
            "prompt": PROMPT,
            "engine": "tripo",
            "height": 0.3,
            "target_faces": 5000,
            "thumbnail": False,
        },
    )
    assert response.status_code == 202, response.text
    job = prompt_service.wait_for(response.json()["id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["inputs"] == [{"kind": "prompt", "text": PROMPT}]
    assert set(job["timings"]) == {"reconstruct", "scale", "pivot", "export", "total", "job_total"}
    (create,) = fake.called("POST", "/tripo/task")
    sent = json.loads(create.body)
    assert (sent["prompt"], sent["face_limit"]) == (PROMPT, 5000)  # target_faces -> face_limit

    files = {f["kind"]: f for f in job["results"]["files"]}
    assert set(files) == {"glb", "report"}
    mesh = trimesh.load(io.BytesIO(client.get(files["glb"]["url"]).content), file_type="glb")
    low, high = mesh.bounds
    expected = np.array(BOX_EXTENTS) * 0.3 / BOX_EXTENTS[1]
    assert high - low == pytest.approx(expected, abs=1e-6)
    assert low[1] == pytest.approx(0.0, abs=1e-9)
    report = client.get(files["report"]["url"]).json()
    assert report["engine"]["name"] == "tripo"
    assert report["inputs"][0]["text"] == PROMPT


def test_a_provider_refusal_fails_the_job_with_its_message(
    prompt_service: Service, fake: FakeProviders
) -> None:
    fake.faults.append(
        Fault("POST", "/meshy/openapi/v2/text-to-3d", 402, {"message": "No credits"})
    )
    client = prompt_service.client()
    response = client.post("/v1/jobs", json={"prompt": PROMPT, "engine": "meshy"})
    assert response.status_code == 202, response.text
    job = prompt_service.wait_for(response.json()["id"])
    assert job["state"] == "failed"
    assert job["error"] == {
        "code": "provider",
        "stage": "reconstruct",
        "message": "meshy refused the task for lack of credits (No credits)",
        "hint": "Add credits to the meshy account, or set MESHFORGE_MESHY_API_KEY to the key of "
        "an account that has some.",
    }


def test_a_prompt_for_an_engine_without_text_is_refused(prompt_service: Service) -> None:
    client = prompt_service.client()
    response = client.post("/v1/jobs", json={"prompt": PROMPT})
    assert response.status_code == 422
    assert response.json()["code"] == "prompt-not-supported"
    assert response.json()["detail"].endswith("an engine that takes prompts (meshy, tripo)")
    response = client.post(
        "/v1/jobs", json={"prompt": PROMPT, "engine": "tripo", "engine_options": {"seed": 1}}
    )
    assert response.status_code == 422
    assert "seed: Extra inputs are not permitted" in response.json()["detail"]
