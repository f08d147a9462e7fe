"""The remote engines' shared client (engines/remote/client.py, settings.py, engine.py) against
the fake providers: progress, retries, time and size limits, and every error it names."""

from __future__ import annotations

import email.utils
import json
import subprocess
import sys
import time

import pytest

from meshforge.engines.base import GenerationRequest, create_engine, get_engine_class
from meshforge.engines.remote.client import retry_after
from meshforge.errors import EngineError, ProviderError, RecipeError
from meshforge.transforms.base import StageReport
from provider_fakes import KEY, FakeProviders, Fault, run_engine
from service_harness import free_port

TASK = "/tripo/task"


@pytest.mark.parametrize(
    ("engine", "capabilities", "options", "bad"),
    [
        (
            "tripo",
            (True, False, True, True, True),
            {"model_version", "texture", "pbr", "face_limit", "negative_prompt"},
            {"face_limit": 0},
        ),
        (
            "meshy",
            (True, False, True, True, False),
            {"ai_model", "art_style", "should_remesh", "target_polycount", "refine"},
            {"target_polycount": 50},
        ),
    ],
)
def test_capabilities_and_options(
    engine: str, capabilities: tuple[bool, ...], options: set[str], bad: dict[str, int]
) -> None:
    cls = get_engine_class(engine)
    caps = cls.capabilities
    assert (caps.image, caps.images, caps.text, caps.textured, caps.pbr) == capabilities
    assert set(cls.options_model.model_fields) == options
    assert all(f.description for f in cls.options_model.model_fields.values())
    with pytest.raises(RecipeError, match="colour: Extra inputs are not permitted"):
        create_engine(engine, {"colour": "red"})
    with pytest.raises(
        RecipeError, match=f"invalid options for engine '{engine}': {next(iter(bad))}"
    ):
        create_engine(engine, bad)


def test_progress_follows_the_providers_progress_field(providers: FakeProviders) -> None:
    providers.finish_after = 4  # polls answer 0 (queued), 25, 50, then 100 (success)
    run = run_engine("tripo")
    fractions = [f for f, _ in run.progress]
    # The task fills 0.05..0.9 of the engine's stage, then the download and loading follow.
    assert fractions == pytest.approx([0.05, 0.2625, 0.475, 0.9, 0.9, 1.0])
    messages = [m for _, m in run.progress]
    assert [m.rsplit(" ", 1)[-1] for m in messages[:4]] == ["0%", "25%", "50%", "100%"]
    assert messages[0].endswith(": queued 0%") and messages[3].endswith(": success 100%")
    assert len(providers.called("GET", "/tripo/task/tripo-text_to_model-0")) == 4


def test_429_waits_as_long_as_retry_after_says(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backoff alone would wait 0.01 s: a second's gap can only come from Retry-After.
    providers.faults.append(
        Fault("POST", TASK, 429, {"code": 2000, "message": "rate limited"}, {"Retry-After": "1"})
    )
    run_engine("tripo")
    first, second = providers.called("POST", TASK)
    assert 1.0 <= second.at - first.at < 3.0
    assert json.loads(second.body)["prompt"] == "a red ceramic mug"


def test_a_retry_after_beyond_the_deadline_fails_at_once(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHFORGE_REMOTE_TASK_TIMEOUT_S", "5")
    providers.faults.append(
        Fault("POST", TASK, 429, {"message": "slow down"}, {"Retry-After": "60"})
    )
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert time.monotonic() - started < 2
    assert caught.value.message == (
        "tripo answered 429 Too Many Requests (slow down); the next retry, 60 s away, "
        "would pass the task time limit of 5 s"
    )
    assert len(providers.called("POST", TASK)) == 1


def test_a_progress_callback_that_raises_stops_the_task(providers: FakeProviders) -> None:
    """The pipeline cancels a job by raising from its progress callback (the service's worker
    does so once a cancel is asked for): polling stops there and nothing is downloaded."""

    class CanceledError(Exception):
        pass

    calls: list[float] = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise CanceledError()

    providers.finish_after = 5
    engine = create_engine("tripo")
    with pytest.raises(CanceledError):
        engine.generate(GenerationRequest(prompt="a mug"), StageReport(stage="x"), progress)
    assert len(providers.called("GET", "/tripo/task/tripo-text_to_model-0")) == 2
    assert not [c for c in providers.calls if c.path.startswith("/files/")]


def test_5xx_answers_are_retried_until_one_succeeds(providers: FakeProviders) -> None:
    providers.faults += [
        Fault("POST", TASK, 500, {"code": 1000, "message": "server error"}),
        Fault("GET", TASK + "/", 503, {"message": "unavailable"}),
        Fault("GET", TASK + "/", 502, {"message": "bad gateway"}),
    ]
    run = run_engine("tripo")
    assert len(providers.called("POST", TASK)) == 2
    assert len([c for c in providers.calls if c.path.startswith(TASK + "/")]) == 3 + 2
    assert run.asset.face_count == 12


def test_a_5xx_that_persists_fails_after_the_retries(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHFORGE_REMOTE_RETRIES", "2")
    providers.faults += [Fault("POST", TASK, 503, {"message": "overloaded"}) for _ in range(5)]
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert str(caught.value).startswith(
        "reconstruct: tripo failed with HTTP 503 after 2 retries (overloaded)."
    )
    assert len(providers.called("POST", TASK)) == 3


def test_an_unreachable_provider_is_retried_then_named(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHFORGE_TRIPO_BASE_URL", f"http://127.0.0.1:{free_port()}/tripo")
    monkeypatch.setenv("MESHFORGE_REMOTE_RETRIES", "2")
    monkeypatch.setenv("MESHFORGE_REMOTE_RETRY_BACKOFF_S", "0.2")
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert time.monotonic() - started >= 0.2 + 0.4  # two retries: 0.2 s, then 0.4 s
    assert caught.value.message.startswith("cannot reach tripo at 127.0.0.1")
    assert "MESHFORGE_TRIPO_BASE_URL" in (caught.value.hint or "")


def test_a_refused_key_names_the_variable_and_is_not_retried(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHFORGE_TRIPO_API_KEY", "not-the-key")
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    error = caught.value
    assert error.message == "tripo refused the API key (HTTP 401) (Authentication failed)"
    assert error.hint == "Check MESHFORGE_TRIPO_API_KEY: it must hold a valid tripo API key."
    assert isinstance(error, EngineError) and error.exit_code == 5 and error.code == "provider"
    assert len(providers.calls) == 1


def test_no_key_fails_before_any_request(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MESHFORGE_MESHY_API_KEY")
    with pytest.raises(ProviderError) as caught:
        run_engine("meshy")
    assert str(caught.value) == (
        "reconstruct: the meshy engine needs an API key, and neither MESHFORGE_MESHY_API_KEY "
        "nor MESHY_API_KEY is set. Set MESHFORGE_MESHY_API_KEY to your meshy API key (on every "
        "machine that runs jobs)."
    )
    assert providers.calls == []


def test_the_providers_own_key_variable_is_the_fallback(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MESHFORGE_TRIPO_API_KEY")
    monkeypatch.setenv("TRIPO_API_KEY", KEY)
    run_engine("tripo")
    # With both set, meshforge's own variable wins.
    monkeypatch.setenv("TRIPO_API_KEY", "another-key")
    monkeypatch.setenv("MESHFORGE_TRIPO_API_KEY", KEY)
    run_engine("tripo")
    sent = {c.headers.get("authorization") for c in providers.calls if c.path.startswith("/tripo")}
    assert sent == {f"Bearer {KEY}"}


def test_a_task_that_never_finishes_times_out(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    providers.finish_after = 0
    monkeypatch.setenv("MESHFORGE_REMOTE_TASK_TIMEOUT_S", "0.5")
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert 0.5 <= time.monotonic() - started < 2.5
    assert caught.value.message == (
        "the tripo task tripo-text_to_model-0 did not finish (last status running, 50%) within "
        "the task time limit of 0.5 s"
    )
    assert "MESHFORGE_REMOTE_TASK_TIMEOUT_S" in (caught.value.hint or "")
    assert len(providers.called("GET", "/tripo/task/tripo-text_to_model-0")) >= 5


@pytest.mark.parametrize(
    ("model_file", "said"),
    [("model.glb", r"has \d+ bytes"), ("stream-model.glb", "has at least 1024 bytes")],
    ids=["content-length", "streamed"],
)
def test_a_model_over_the_size_limit_is_refused(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch, model_file: str, said: str
) -> None:
    size = len(providers.files["model.glb"][1])
    assert size > 1024
    monkeypatch.setenv("MESHFORGE_REMOTE_MAX_DOWNLOAD_BYTES", "1000")
    providers.model_file = model_file
    with pytest.raises(ProviderError, match=said) as caught:
        run_engine("tripo")
    assert caught.value.message.endswith("over the limit of 1000 bytes; it was not downloaded")
    if model_file == "model.glb":
        assert f"has {size} bytes" in caught.value.message
    assert "MESHFORGE_REMOTE_MAX_DOWNLOAD_BYTES" in (caught.value.hint or "")
    # Within the limit, the same file is taken.
    monkeypatch.setenv("MESHFORGE_REMOTE_MAX_DOWNLOAD_BYTES", str(size))
    assert run_engine("tripo").report.details["model_bytes"] == size


def test_a_download_that_is_not_a_glb_is_refused(providers: FakeProviders) -> None:
    providers.model_file = "page.html"
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert caught.value.message.startswith("the tripo model is not a GLB (binary glTF): ")
    page = providers.files["page.html"][1]
    assert caught.value.message.endswith(
        f"its {len(page)} bytes (text/html; charset=utf-8) start with {page[:16]!r}"
    )


def test_the_download_carries_no_api_key(providers: FakeProviders) -> None:
    run = run_engine("tripo")
    (download,) = [c for c in providers.calls if c.path.startswith("/files/")]
    assert "authorization" not in download.headers
    assert all(
        c.headers["authorization"] == f"Bearer {KEY}"
        for c in providers.calls
        if c.path.startswith("/tripo")
    )
    # The report names the host, never the (signed) URL.
    assert run.report.details["model_host"] == "127.0.0.1"
    assert "/files/" not in json.dumps(run.report.to_dict())


def test_invalid_settings_are_named(
    providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHFORGE_REMOTE_TASK_TIMEOUT_S", "-1")
    with pytest.raises(ProviderError, match="invalid settings: task_timeout_s: Input should be"):
        run_engine("tripo")
    monkeypatch.setenv("MESHFORGE_REMOTE_TASK_TIMEOUT_S", "5")
    monkeypatch.setenv("MESHFORGE_TRIPO_BASE_URL", "ftp://example.invalid")
    with pytest.raises(ProviderError) as caught:
        run_engine("tripo")
    assert caught.value.message == (
        "invalid settings: MESHFORGE_TRIPO_BASE_URL: Value error, 'ftp://example.invalid' is "
        "not an http(s) URL"
    )
    assert providers.calls == []


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = retry_after(later)
    assert waited is not None and 28 <= waited <= 30


def test_listing_and_loading_the_remote_engines_imports_no_http_client() -> None:
    code = (
        "import sys, meshforge\n"
        "from meshforge.engines.base import engine_names, get_engine_class\n"
        "assert {'tripo', 'meshy'} <= set(engine_names())\n"
        "get_engine_class('tripo'); get_engine_class('meshy')\n"
        "print('httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
