"""Docker is not on this machine, so the compose file's structure is checked instead."""

from __future__ import annotations

import re
from typing import Any

import yaml

from omni2qbd_shared.config import AppSettings
from tests.conftest import REPO_ROOT


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return loaded


def test_stack_has_broker_database_migration_and_three_services() -> None:
    services = compose()["services"]
    assert set(services) == {
        "rabbitmq",
        "postgres",
        "migrate",
        "fetcher",
        "mapper",
        "gateway",
        "caddy",
    }
    assert "management" in services["rabbitmq"]["image"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["omni2qbd", "migrate"]
    assert services["migrate"]["restart"] == "no"


def test_services_wait_for_healthy_dependencies_and_have_healthchecks() -> None:
    services = compose()["services"]
    for name in ("rabbitmq", "postgres", "fetcher", "mapper", "gateway"):
        assert "test" in services[name]["healthcheck"], name
    for name in ("fetcher", "mapper", "gateway"):
        service = services[name]
        assert service["command"][:3] == ["omni2qbd", "run", name]
        port = service["command"][service["command"].index("--port") + 1]
        assert f"127.0.0.1:{port}/readyz" in service["healthcheck"]["test"][-1]
        depends = service["depends_on"]
        assert depends["rabbitmq"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_configuration_uses_only_documented_variables() -> None:
    known = {f"OMNI2QBD_{name.upper()}" for name in AppSettings.model_fields}
    readme = (REPO_ROOT / "README.md").read_text()
    for name in ("fetcher", "mapper", "gateway", "migrate"):
        environment = compose()["services"][name]["environment"]
        assert environment, name
        for variable in environment:
            assert variable in known, f"{variable} is not a setting"
            assert variable in readme, f"{variable} is not documented in the README"
    assert re.search(
        r"OMNI2QBD_SECRET_KEY: \$\{OMNI2QBD_SECRET_KEY:\?",
        (REPO_ROOT / "docker-compose.yml").read_text(),
    ), "the secret key must be required, never defaulted"


def test_only_the_tls_proxy_is_published_for_the_public_host() -> None:
    """The Web Connector needs HTTPS: Caddy terminates it for OMNI2QBD_PUBLIC_HOST and is the
    only published service (no plain-HTTP gateway, no RabbitMQ management UI)."""
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"caddy"}
    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:")
    assert caddy["command"][:2] == ["caddy", "run"]
    assert "/etc/caddy/Caddyfile" in caddy["command"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["environment"]["OMNI2QBD_PUBLIC_HOST"].startswith("${OMNI2QBD_PUBLIC_HOST:?")
    assert sorted(caddy["ports"]) == ["443:443", "80:80"]
    caddyfile = (REPO_ROOT / "deploy" / "Caddyfile").read_text()
    site = re.search(r"^\{\$OMNI2QBD_PUBLIC_HOST\} \{$(.*?)^\}$", caddyfile, re.S | re.M)
    assert site is not None, "one site block for the public host"
    directives = [line.strip() for line in site.group(1).splitlines()]
    assert "reverse_proxy gateway:8103" in directives
    # probes and metrics stay inside the network
    internal = next(d for d in directives if d.startswith("@internal path "))
    assert {"/livez", "/readyz", "/metrics"} <= set(internal.split()[2:])
    assert "respond @internal 404" in directives
    gateway_environment = services["gateway"]["environment"]
    # Caddy's forwarded client address is trusted, so each Web Connector keeps its own
    # address for the login throttle (the gateway's port is reachable only from Caddy).
    assert gateway_environment["OMNI2QBD_GATEWAY_FORWARDED_ALLOW_IPS"] == "*"
    public_url = gateway_environment["OMNI2QBD_GATEWAY_PUBLIC_URL"]
    assert public_url.startswith("https://${OMNI2QBD_PUBLIC_HOST:?")
