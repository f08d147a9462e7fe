"""HTTP for providers that work as "submit a task, poll it, download the model" (sync httpx).

One ProviderClient serves one task, under one deadline (``task_timeout_s``). API calls carry
the key (``Authorization: Bearer``); a 429, a 5xx or a transport error is retried with
exponential backoff, and a Retry-After header is honoured. Polls wait longer and longer. The
model is downloaded without the key (its URL is a signed link, often on another host, which
must not see the key) and refused beyond ``max_download_bytes``. Every failure is a
ProviderError that says what the provider answered and what to do.

Cancellation: the pipeline cancels a job by raising from its progress callback, which the
polling loop calls on every poll, so a canceled job stops at its next poll. The providers
document no way to cancel a task, so the provider's task itself runs on.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from meshforge.engines.remote.settings import RemoteSettings
from meshforge.errors import DependencyError, ProviderError

if TYPE_CHECKING:
    import httpx

    from meshforge.engines.base import ProgressFn

STAGE = "reconstruct"
GLB_MAGIC = b"glTF"
POLL_GROWTH = 1.5
TaskState = Literal["waiting", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class TaskStatus:
    """One poll of a task, in our terms and in the provider's words."""

    state: TaskState
    percent: float  # the provider's own progress field, 0..100
    word: str  # the provider's status, as it spells it
    message: str = ""  # the provider's reason when the task failed
    body: dict[str, Any] = field(default_factory=dict)  # the provider's task object


def percent(value: Any) -> float:
    """A provider's progress field as 0..100 (0 when missing or not a number)."""
    try:
        return min(max(float(value), 0.0), 100.0)
    except (TypeError, ValueError):
        return 0.0


def body_message(body: Any) -> str:
    """What a provider's error body says: its ``message`` and ``suggestion``, else the body."""
    if isinstance(body, dict):
        parts = [str(body[k]).strip().rstrip(".") for k in ("message", "suggestion") if body.get(k)]
        if parts:
            return "; ".join(parts)[:500]
    return str(body).strip()[:500]


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


class ProviderClient:
    """One task's HTTP session with a provider; use it as a context manager."""

    def __init__(
        self, provider: str, base_url: str, api_key: str, key_env: str, limits: RemoteSettings
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise DependencyError(
                f"the {provider} engine needs httpx, which is not installed",
                stage=STAGE,
                hint="pip install 'meshforge[remote]'",
            ) from exc
        self.provider = provider
        self.base_url = base_url
        self.key_env = key_env
        self.limits = limits
        self.deadline = time.monotonic() + limits.task_timeout_s
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._http = httpx.Client(timeout=limits.request_timeout_s)

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def call(self, method: str, path: str, *, json: Any = None, files: Any = None) -> Any:
        """The JSON answer of an API call; an error status is a ProviderError."""
        url = self.base_url + path

        def build() -> httpx.Request:
            return self._http.build_request(method, url, headers=self._auth, json=json, files=files)

        response = self._send(build)
        if response.status_code >= 400:
            raise self.refusal(response.status_code, _response_message(response))
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                f"{self.provider} answered {method} {path} with a body that is not JSON "
                f"(HTTP {response.status_code})",
                stage=STAGE,
                hint=f"Check that MESHFORGE_{self.provider.upper()}_BASE_URL points at the "
                "provider's API.",
            ) from exc

    def _send(self, build: Callable[[], httpx.Request], stream: bool = False) -> httpx.Response:
        """Send, retrying 429, 5xx and transport errors; the first other answer."""
        import httpx

        limits = self.limits
        for attempt in range(limits.retries + 1):
            request = build()
            wait: float | None = None
            try:
                response = self._http.send(request, stream=stream, follow_redirects=stream)
            except httpx.TransportError as exc:
                failure = self.unreachable(request, exc)
            except httpx.RequestError as exc:  # e.g. too many redirects: retrying cannot help
                raise self.unreachable(request, exc) from exc
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                if stream:
                    response.read()
                response.close()
                wait = retry_after(response.headers.get("retry-after"))
                failure = self.refusal(
                    response.status_code, _response_message(response), retries=attempt
                )
            if attempt == limits.retries:
                raise failure
            pause = (
                wait
                if wait is not None
                else min(limits.retry_backoff_s * 2**attempt, limits.max_retry_backoff_s)
            )
            if pause > self.remaining():
                raise ProviderError(
                    f"{failure.message}; the next retry, {pause:g} s away, would pass the task "
                    f"time limit of {limits.task_timeout_s:g} s",
                    stage=STAGE,
                    hint=failure.hint,
                )
            time.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def wait(
        self,
        what: str,
        fetch: Callable[[], TaskStatus],
        progress: ProgressFn,
        span: tuple[float, float],
    ) -> TaskStatus:
        """Poll ``fetch`` until the task ends, reporting its progress within ``span`` of the
        engine's stage (never backwards); the final status, or a ProviderError."""
        low, high = span
        shown = low
        interval = self.limits.poll_interval_s
        while True:
            status = fetch()
            shown = max(shown, low + (high - low) * status.percent / 100.0)
            progress(shown, f"{self.provider} {what}: {status.word.lower()} {status.percent:.0f}%")
            if status.state == "succeeded":
                return status
            if status.state == "failed":
                raise ProviderError(
                    f"the {self.provider} {what} failed ({status.word}): "
                    f"{status.message or 'the provider gave no reason'}",
                    stage=STAGE,
                    hint="Change the prompt or the photo, or try again later.",
                )
            remaining = self.remaining()
            if remaining <= 0:
                raise self.timed_out(
                    f"the {self.provider} {what} did not finish "
                    f"(last status {status.word}, {status.percent:.0f}%)"
                )
            time.sleep(min(interval, remaining))
            interval = min(interval * POLL_GROWTH, self.limits.max_poll_interval_s)

    def download(self, url: str, target: Path) -> int:
        """Stream the model at ``url`` into ``target`` (no API key sent); its size in bytes.

        Refused when it is larger than ``max_download_bytes`` (by its Content-Length, else
        while it streams) or when it is not a GLB (binary glTF)."""
        import httpx

        if urlsplit(url).scheme not in ("http", "https"):
            raise ProviderError(
                f"{self.provider} gave a model URL that is not http(s): {url[:100]!r}",
                stage=STAGE,
                hint="Run the job again; report it if it persists.",
            )
        limit = self.limits.max_download_bytes
        response = self._send(lambda: self._http.build_request("GET", url), stream=True)
        size = 0
        try:
            if response.status_code >= 400:
                raise ProviderError(
                    f"downloading the {self.provider} model failed with HTTP "
                    f"{response.status_code}",
                    stage=STAGE,
                    hint="The link may have expired; run the job again.",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self.too_large(int(declared))
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise self.too_large(size, streamed=True)
                    if self.remaining() <= 0:
                        raise self.timed_out(f"the {self.provider} model did not download")
                    out.write(chunk)
        except httpx.TransportError as exc:
            raise self.unreachable(response.request, exc) from exc
        finally:
            response.close()
        with target.open("rb") as handle:
            head = handle.read(16)
        if not head.startswith(GLB_MAGIC):
            kind = response.headers.get("content-type", "no content type")
            raise ProviderError(
                f"the {self.provider} model is not a GLB (binary glTF): its {size} bytes "
                f"({kind}) start with {head!r}",
                stage=STAGE,
                hint="The provider sent something else than a model; run the job again, "
                "and report it if it persists.",
            )
        return size

    def refusal(self, status: int | None, message: str, retries: int = 0) -> ProviderError:
        """The error for a provider's refusal (an HTTP error status, or an error code in an
        answer when ``status`` is None)."""
        said = f" ({message})" if message else ""
        after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
        name = self.provider
        if status == 402 or "credit" in message.lower():
            return ProviderError(
                f"{name} refused the task for lack of credits{said}",
                stage=STAGE,
                hint=f"Add credits to the {name} account, or set {self.key_env} to the key of "
                "an account that has some.",
            )
        if status in (401, 403):
            return ProviderError(
                f"{name} refused the API key (HTTP {status}){said}",
                stage=STAGE,
                hint=f"Check {self.key_env}: it must hold a valid {name} API key.",
            )
        if status == 429:
            return ProviderError(
                f"{name} answered 429 Too Many Requests{after}{said}",
                stage=STAGE,
                hint="Try again later, or run fewer jobs at once.",
            )
        if status is not None and status >= 500:
            return ProviderError(
                f"{name} failed with HTTP {status}{after}{said}",
                stage=STAGE,
                hint="The provider has a problem; try again later.",
            )
        answer = f"HTTP {status}" if status is not None else "an error"
        return ProviderError(
            f"{name} refused the request with {answer}{said}",
            stage=STAGE,
            hint="Check the engine options and the input against the provider's documentation.",
        )

    def unreachable(self, request: httpx.Request, exc: Exception) -> ProviderError:
        host = request.url.host or str(request.url)
        return ProviderError(
            f"cannot reach {self.provider} at {host}: {exc or type(exc).__name__}",
            stage=STAGE,
            hint=f"Check the network, a proxy, or MESHFORGE_{self.provider.upper()}_BASE_URL; "
            "then try again.",
        )

    def timed_out(self, what: str) -> ProviderError:
        return ProviderError(
            f"{what} within the task time limit of {self.limits.task_timeout_s:g} s",
            stage=STAGE,
            hint=f"Raise MESHFORGE_REMOTE_TASK_TIMEOUT_S, or try again when {self.provider} is "
            "less busy.",
        )

    def too_large(self, size: int, streamed: bool = False) -> ProviderError:
        amount = f"at least {size}" if streamed else str(size)
        return ProviderError(
            f"the {self.provider} model has {amount} bytes, over the limit of "
            f"{self.limits.max_download_bytes} bytes; it was not downloaded",
            stage=STAGE,
            hint="Ask for fewer faces (an engine option), or raise "
            "MESHFORGE_REMOTE_MAX_DOWNLOAD_BYTES.",
        )


def _response_message(response: httpx.Response) -> str:
    try:
        return body_message(response.json())
    except ValueError:
        return response.text.strip()[:500]
