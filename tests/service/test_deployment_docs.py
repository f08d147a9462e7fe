"""docs/deployment.md's Kubernetes manifests agree with the code: every MESHFORGE_ variable is
a setting, every container command is a meshforge command with options it has, the probes are
routes of the app, and the API's grace period outlasts its drain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from meshforge.cli.app import app
from meshforge.service.routes import ops
from meshforge.service.settings import ServiceSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def manifests() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert blocks, "no yaml block in docs/deployment.md"
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests() if m["kind"] == kind]


def containers() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every Deployment."""
    return [
        (d["spec"]["template"]["spec"], c)
        for d in of_kind("Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


def test_every_variable_is_a_setting_with_a_valid_value() -> None:
    (config,) = of_kind("ConfigMap")
    settings = {f"MESHFORGE_{name.upper()}" for name in ServiceSettings.model_fields}
    documented = set(re.findall(r"MESHFORGE_[A-Z0-9_]+", DOC.read_text()))
    assert documented <= settings, documented - settings
    values = {k.removeprefix("MESHFORGE_").lower(): v for k, v in config["data"].items()}
    parsed = ServiceSettings(**values)  # the ConfigMap's values pass the settings' validation
    assert parsed.workers == 0 and parsed.celery_broker_url


def test_every_command_and_option_exists() -> None:
    cli = get_command(app)
    seen = set()
    for _, container in containers():
        program, subcommand, *args = container["command"]
        assert program == "meshforge"
        command = cli.commands[subcommand]  # type: ignore[attr-defined]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        given = {a for a in args if a.startswith("--")}
        assert given <= options, (subcommand, given - options)
        ctx = command.make_context(subcommand, list(args))  # values parse as the CLI would
        seen.add((subcommand, bool(ctx.params.get("celery"))))
    assert seen == {("serve", False), ("worker", True)}


def test_probes_are_routes_and_the_grace_period_outlasts_the_drain() -> None:
    routes = {getattr(r, "path", None) for r in ops.router.routes}
    (config,) = of_kind("ConfigMap")
    drain = float(config["data"]["MESHFORGE_DRAIN_TIMEOUT_S"])
    probed = 0
    for pod, container in containers():
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in container:
                assert container[probe]["httpGet"]["path"] in routes
                port = container[probe]["httpGet"]["port"]
                assert str(port) in container["command"]  # the port the server listens on
                probed += 1
        if container["command"][1] == "serve":
            assert pod["terminationGracePeriodSeconds"] > drain + 5  # uvicorn's own slack
    assert probed == 2
    (service,) = of_kind("Service")
    api = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == "meshforge-api")
    assert service["spec"]["selector"] == api["spec"]["template"]["metadata"]["labels"]
