"""The whole life of one job on each backend: submit, follow, succeed, download."""

from __future__ import annotations

from service_harness import Service, product_png


def test_a_photo_becomes_a_stored_asset(service: Service) -> None:
    client = service.client()
    response = client.post(
        "/v1/jobs",
        files={"image": ("bottle.png", product_png(), "image/png")},
        data={"formats": "glb,stl", "height": "0.3", "metadata": '{"sku": "A-1"}'},
    )
    assert response.status_code == 202, response.text
    job = service.wait_for(response.json()["id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["metadata"] == {"sku": "A-1"}
    kinds = {f["kind"] for f in job["results"]["files"]}
    assert {"glb", "stl", "thumbnail", "report"} <= kinds
    glb = next(f for f in job["results"]["files"] if f["kind"] == "glb")
    body = client.get(glb["url"]).content
    assert body[:4] == b"glTF" and len(body) == glb["bytes"]
