"""deploy/ (compose file, Kubernetes manifests, image) against the local prod profile (ops/services.py): the
same services, the same python module each, the same environment, ports, nginx routing and health probes.

Nothing is started but a few throwaway servers on 127.0.0.1 that the health probes of both sides ask, and
`nginx -t` on the deploy nginx configuration. The local profile's service list is built with prod settings
in a temporary folder; where PostgreSQL, Redis and nginx are installed does not matter to it.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from careline.shared.settings import PROJECT_ROOT, Settings, load_settings, parse_env_file
from deploy import healthcheck
from ops import envfile, services as local_services
from ops.infra import nginx, postgres, redis
from ops.processes import Service

DEPLOY = PROJECT_ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX_TEMPLATE = K8S / "config" / "nginx.conf.template"
POSTGRES_INIT = K8S / "config" / "postgres-init.sh"

#: The services that run Careline's own image, and the one-shot migrations.
CARELINE = ("actions", "rasa", "web", "desk", "mail", "worker")
MIGRATE = "migrate"
#: Where the image keeps its state and its model (deploy/Dockerfile).
CONTAINER_VAR = "/var/lib/careline"
CONTAINER_MODEL = "/app/models/current.tar.gz"
WILDCARD = "0.0.0.0"
#: Settings the deployment leaves at Careline's defaults on purpose: the ports (every container listens on
#: the default one, checked below), the number of Rasa servers (replicas) and a knob for demos and tests.
LEFT_AT_DEFAULT = {"CARELINE_ACTIONS_PORT", "CARELINE_DESK_PORT", "CARELINE_MAIL_PORT", "CARELINE_PG_PORT",
                   "CARELINE_RASA_BACKEND_PORT", "CARELINE_RASA_PORT", "CARELINE_RASA_SERVERS",
                   "CARELINE_REDIS_PORT", "CARELINE_WEB_PORT", "CARELINE_FOLLOW_UP_DELAY_S"}
#: Only the deployment needs these: each part has an address of its own there. CARELINE_RASA_URL is where the
#: desk and the worker reach the Rasa servers (nginx), CARELINE_CHAT_URL where browsers reach the chat.
DEPLOY_ONLY = {"CARELINE_RASA_URL", "CARELINE_CHAT_URL"}
#: The mail catcher reads only where to listen and where to keep messages; it gets no secret.
MAIL_ENV = {"CARELINE_HOST", "CARELINE_VAR_DIR"}
#: Deployment secrets beyond the ones `make env` generates (ops/envfile.py): locally the secret nginx and
#: the Rasa servers share is derived from RASA_AUTH_TOKEN (ops/infra/nginx.py forwarded_secret()).
DEPLOY_SECRETS = {"CARELINE_FORWARDED_SECRET"}
PG_PASSWORD = "pg-password-for-the-sync-test"
REDIS_PASSWORD = "redis-password-for-the-sync-test"
SECRET_VALUE = "a-secret-value-of-the-sync-test"
PINNED = re.compile(r"^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$")  # a release, never `latest`


# -- the local prod profile -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Local:
    settings: Settings
    services: Dict[str, Service]   # rasa-1, rasa-2 ... as the supervisor names them
    env: Dict[str, str]            # what the supervisor adds to every process's environment

    def names(self) -> Set[str]:
        """The services, rasa-1..N as one `rasa`."""
        return {re.sub(r"^rasa-\d+$", "rasa", name) for name in self.services}

    @property
    def rasa(self) -> List[Service]:
        return [service for name, service in self.services.items() if re.fullmatch(r"rasa-\d+", name)]


def build_local(root: Path, monkeypatch: pytest.MonkeyPatch, smtp: bool) -> Local:
    """ops/services.py's prod profile for prod settings under `root`; the servers' binaries are not needed."""
    environ = {"CARELINE_PROFILE": "prod", "CARELINE_PG_PASSWORD": PG_PASSWORD, "RASA_AUTH_TOKEN": SECRET_VALUE,
               "CARELINE_REDIS_PASSWORD": REDIS_PASSWORD, "CARELINE_VAR_DIR": str(root / "var")}
    if smtp:
        environ["CARELINE_SMTP_HOST"] = "smtp.example.com"
    settings = load_settings(environ, root=root)
    monkeypatch.setattr(postgres, "find_bin_dir", lambda: Path("/postgres/bin"))
    monkeypatch.setattr(redis, "find_server", lambda: "/redis-server")
    monkeypatch.setattr(nginx, "find_nginx", lambda: "/nginx")
    listed = local_services.services(settings, root / "models" / "careline-test.tar.gz")
    with monkeypatch.context() as patch:
        patch.setattr(os, "environ", {})
        env = dict(local_services.places(settings).env)
    return Local(settings, {service.name: service for service in listed}, env)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Local:
    """Without CARELINE_SMTP_HOST: the local mail catcher runs (deploy/compose.yml + deploy/compose.mail.yml)."""
    return build_local(tmp_path, monkeypatch, smtp=False)


@pytest.fixture
def local_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Local:
    """With a mail server (deploy/compose.yml alone, deploy/k8s)."""
    return build_local(tmp_path, monkeypatch, smtp=True)


def module_and_args(command: List[str]) -> Tuple[str, List[str]]:
    assert command[1] == "-m", command
    return command[2], command[3:]


def local_args(local: Local, service: Service) -> Tuple[str, List[str]]:
    """The supervisor's module and arguments, with this machine's paths and address as the containers have them."""
    module, args = module_and_args(service.command)
    var_dir = str(local.settings.var_dir)
    mapped = []
    for arg in args:
        if arg.endswith(".tar.gz"):
            arg = CONTAINER_MODEL
        elif arg == local.settings.host:
            arg = WILDCARD
        elif arg.startswith(var_dir):
            arg = CONTAINER_VAR + arg[len(var_dir):]
        mapped.append(arg)
    return module, mapped


def expected_env(local: Local, name: str) -> Set[str]:
    """Every variable a Careline process of this service reads or gets from the supervisor."""
    if name == "mail":
        return set(MAIL_ENV)
    read = set(re.findall(r"CARELINE_[A-Z_]+", inspect.getsource(load_settings))) - LEFT_AT_DEFAULT
    service = local.services["rasa-1" if name == "rasa" else name]
    return set(local.env) | set(service.env) | read | set(envfile.PROCESS_SECRETS) | DEPLOY_ONLY


# -- deploy files ---------------------------------------------------------------------------------------------

def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Compose's variable substitution: ${NAME}, ${NAME:-default}, ${NAME:?error}, $$ for a literal $."""
    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        if environ.get(name):
            return environ[name]
        if operator == ":?":
            raise LookupError(f"{name}: {argument}")
        return argument if operator == ":-" else ""

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}", substitute, text.replace("$$", "\0"))
    return text.replace("\0", "$")


def compose_required() -> Set[str]:
    """The variables deploy/compose.yml refuses to start without (${NAME:?...})."""
    text = (DEPLOY / "compose.yml").read_text()
    return set(re.findall(r"\$\{([A-Z_]+):\?", text))


def compose_environ() -> Dict[str, str]:
    passwords = {"CARELINE_PG_PASSWORD": PG_PASSWORD, "CARELINE_REDIS_PASSWORD": REDIS_PASSWORD}
    return {name: passwords.get(name, f"{SECRET_VALUE}-{name.lower()}") for name in compose_required()}


def merge_compose(base: Dict[str, Any], override: Dict[str, Any]) -> Dict[str, Any]:
    """`docker compose -f base -f override`: services merged, their environment maps merged key by key."""
    merged = json.loads(json.dumps(base))
    for name, service in override.get("services", {}).items():
        target = merged["services"].setdefault(name, {})
        for key, value in service.items():
            if key == "environment":
                target[key] = {**target.get(key, {}), **value}
            else:
                target[key] = value
    return merged


def load_compose(*files: str) -> Dict[str, Any]:
    environ = compose_environ()
    docs = [yaml.safe_load(interpolate((DEPLOY / name).read_text(), environ)) for name in files]
    result = docs[0]
    for doc in docs[1:]:
        result = merge_compose(result, doc)
    return result


@pytest.fixture(scope="module")
def compose() -> Dict[str, Any]:
    """deploy/compose.yml with the mail catcher (deploy/compose.mail.yml)."""
    return load_compose("compose.yml", "compose.mail.yml")


@pytest.fixture(scope="module")
def compose_alone() -> Dict[str, Any]:
    return load_compose("compose.yml")


@dataclass(frozen=True)
class Kube:
    documents: List[Dict[str, Any]]
    kustomization: Dict[str, Any]
    secrets: Dict[str, Dict[str, str]]     # secret.example.yaml: name -> keys (empty values)
    settings: Dict[str, str]                # settings.env (ConfigMap careline-settings)

    def workloads(self) -> Dict[str, Dict[str, Any]]:
        return {doc["metadata"]["name"]: doc for doc in self.documents
                if doc["kind"] in ("Deployment", "StatefulSet", "Job")}

    def services(self) -> Dict[str, Dict[str, Any]]:
        return {doc["metadata"]["name"]: doc for doc in self.documents if doc["kind"] == "Service"}

    def container(self, name: str) -> Dict[str, Any]:
        containers = pod_spec(self.workloads()[name])["containers"]
        assert len(containers) == 1, f"{name}: one container expected"
        return dict(containers[0])

    def provided(self, container: Dict[str, Any]) -> Set[str]:
        """Every variable the container gets: its env, and the keys of the Secrets and ConfigMaps it takes whole."""
        names = {entry["name"] for entry in container.get("env", [])}
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                names |= set(self.secrets[source["secretRef"]["name"]])
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] == "careline-settings"
                names |= set(self.settings)
        return names


def pod_spec(workload: Dict[str, Any]) -> Dict[str, Any]:
    return dict(workload["spec"]["template"]["spec"])


@pytest.fixture(scope="module")
def kube() -> Kube:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    documents = [doc for name in kustomization["resources"]
                 for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    secrets = {doc["metadata"]["name"]: dict(doc["stringData"])
               for doc in yaml.safe_load_all((K8S / "secret.example.yaml").read_text())}
    generated = {item["name"]: item for item in kustomization["configMapGenerator"]}
    settings = parse_env_file((K8S / generated["careline-settings"]["envs"][0]).read_text())
    return Kube(documents, kustomization, secrets, settings)


def env_value(container: Dict[str, Any], name: str) -> str:
    for entry in container.get("env", []):
        if entry["name"] == name and "value" in entry:
            return str(entry["value"])
    raise AssertionError(f"{container['name']}: no value for {name}")


def secret_ref(container: Dict[str, Any], name: str) -> Tuple[str, str]:
    for entry in container.get("env", []):
        if entry["name"] == name:
            ref = entry["valueFrom"]["secretKeyRef"]
            return ref["name"], ref["key"]
    raise AssertionError(f"{container['name']}: {name} does not come from a Secret")


def dockerfile_env() -> Dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    found: Dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            found.update(pair.split("=", 1) for pair in line[4:].split())  # type: ignore[misc]
    return found


# -- services and commands ------------------------------------------------------------------------------------

def test_the_same_services_as_the_local_prod_profile(local: Local, local_smtp: Local, compose: Dict[str, Any],
                                                     compose_alone: Dict[str, Any], kube: Kube) -> None:
    assert local.names() == {"postgres", "redis", "actions", "rasa", "nginx", "web", "desk", "mail", "worker"}
    assert local_smtp.names() == local.names() - {"mail"}
    assert set(compose["services"]) - {MIGRATE} == local.names()
    assert set(compose_alone["services"]) - {MIGRATE} == local_smtp.names()
    assert set(kube.workloads()) - {MIGRATE} == local_smtp.names()
    servers = local.settings.rasa_servers
    assert servers == len(local.rasa) == 2
    assert compose["services"]["rasa"]["deploy"]["replicas"] == servers
    assert kube.workloads()["rasa"]["spec"]["replicas"] == servers
    for name, workload in kube.workloads().items():
        if name != "rasa" and workload["kind"] != "Job":
            assert workload["spec"]["replicas"] == 1, name
    assert {kube.workloads()[name]["kind"] for name in ("postgres", "redis")} == {"StatefulSet"}


def test_each_careline_service_runs_the_supervisors_module(local: Local, compose: Dict[str, Any],
                                                           kube: Kube) -> None:
    for name in CARELINE:
        service = local.services["rasa-1" if name == "rasa" else name]
        expected = local_args(local, service)
        command = compose["services"][name]["command"]
        assert command[0] == "python" and module_and_args(command) == expected, name
        if name != "mail":
            command = kube.container(name)["command"]
            assert command[0] == "python" and module_and_args(command) == expected, name
    # the local Rasa servers differ in their port alone; every container serves the first one's
    commands = [local_args(local, service) for service in local.rasa]
    assert all(module == commands[0][0] and args[:-1] == commands[0][1][:-1] for module, args in commands)
    assert commands[0][1][-2:] == ["--port", str(local.settings.rasa_backend_ports[0])]


def test_migrations_and_seed_run_once_before_the_others(compose: Dict[str, Any], kube: Kube) -> None:
    seed = inspect.getsource(local_services._seed)
    assert '"-m", "careline.demo"' in seed, "ops/services.py seeds with another module: change deploy/ too"
    assert compose["services"][MIGRATE]["command"] == ["python", "-m", "careline.demo"]
    assert compose["services"][MIGRATE]["restart"] == "no"
    assert compose["services"][MIGRATE]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("actions", "rasa", "web", "desk", "worker"):
        assert compose["services"][name]["depends_on"][MIGRATE]["condition"] == "service_completed_successfully"
    job = kube.workloads()[MIGRATE]
    assert job["kind"] == "Job" and kube.container(MIGRATE)["command"] == ["python", "-m", "careline.demo"]
    assert pod_spec(job)["restartPolicy"] == "OnFailure"


# -- environment --------------------------------------------------------------------------------------------

def test_every_variable_reaches_the_same_services(local: Local, compose: Dict[str, Any], kube: Kube) -> None:
    image = set(dockerfile_env())
    for name in CARELINE:
        expected = expected_env(local, name)
        missing = expected - set(compose["services"][name]["environment"]) - image
        assert not missing, f"deploy/compose.yml: {name} lacks {sorted(missing)}"
        if name != "mail":
            missing = expected - kube.provided(kube.container(name)) - image
            assert not missing, f"deploy/k8s: {name} lacks {sorted(missing)}"
    missing = expected_env(local, "actions") - kube.provided(kube.container(MIGRATE)) - image
    assert not missing, f"deploy/k8s: the migration job lacks {sorted(missing)}"


def test_addresses_point_at_the_same_services_and_ports(local: Local, compose: Dict[str, Any], kube: Kube) -> None:
    settings = local.settings
    process = settings.process_env()

    def moved(url: str, host: str) -> str:
        parts = urlsplit(url)
        return parts._replace(netloc=f"{host}:{parts.port}").geturl()

    for name in ("actions", "rasa", "web", "desk", "worker", MIGRATE):
        environment = compose["services"][name]["environment"]
        container = kube.container(name)
        values = [(key, str(environment[key]), env_value(container, key)) for key in (
            "CARELINE_PROFILE", "RASA_TELEMETRY_ENABLED", "CARELINE_VAR_DIR", "CARELINE_ACTIONS_URL",
            "CARELINE_TRACKER_DB_URL", "CARELINE_STORE_DB_URL", "CARELINE_REDIS_URL", "CARELINE_HOST",
            "CARELINE_RASA_URL")]
        for key, in_compose, in_kube in values:
            if key in ("CARELINE_TRACKER_DB_URL", "CARELINE_STORE_DB_URL"):
                local_url = make_url(process[key])
                pairs = ((make_url(in_compose), PG_PASSWORD), (make_url(in_kube), "$(CARELINE_PG_PASSWORD)"))
                for url, password in pairs:
                    assert (url.drivername, url.username, url.port, url.database) == (
                        local_url.drivername, local_url.username, local_url.port, local_url.database), key
                    assert url.host == "postgres" and url.password == password, key
            elif key == "CARELINE_REDIS_URL":
                local_url = urlsplit(process[key])
                for url, password in ((urlsplit(in_compose), REDIS_PASSWORD),
                                      (urlsplit(in_kube), "$(CARELINE_REDIS_PASSWORD)")):
                    assert (url.scheme, url.hostname, url.port, url.path) == ("redis", "redis", local_url.port,
                                                                              local_url.path)
                    assert (url.username, url.password) == ("", password)
                assert local_url.password == REDIS_PASSWORD
            else:
                want = {"CARELINE_VAR_DIR": CONTAINER_VAR, "CARELINE_HOST": WILDCARD,
                        "CARELINE_ACTIONS_URL": moved(process["CARELINE_ACTIONS_URL"], "actions"),
                        "CARELINE_RASA_URL": moved(settings.rasa_url, "nginx")}.get(key, process.get(key))
                assert in_compose == in_kube == want, (name, key)
    assert dockerfile_env()["CARELINE_VAR_DIR"] == CONTAINER_VAR
    # the Rasa servers believe nginx's Forwarded header with the secret nginx sends
    assert set(nginx.backend_env(settings)) == {"SANIC_FORWARDED_SECRET"}
    secret = compose["services"]["nginx"]["environment"]["CARELINE_FORWARDED_SECRET"]
    assert compose["services"]["rasa"]["environment"]["SANIC_FORWARDED_SECRET"] == secret
    shared = ("careline-secrets", "CARELINE_FORWARDED_SECRET")
    assert secret_ref(kube.container("rasa"), "SANIC_FORWARDED_SECRET") == shared
    assert secret_ref(kube.container("nginx"), "CARELINE_FORWARDED_SECRET") == shared
    # with deploy/compose.mail.yml every process mails the catcher, as mail_catcher_env() sets it up
    catcher = local_services.mail_catcher_env(settings)
    for name in ("actions", "rasa", "web", "desk", "worker", MIGRATE):
        environment = compose["services"][name]["environment"]
        assert {key: str(environment[key]) for key in catcher} == {
            **catcher, "CARELINE_SMTP_HOST": "mail"}, name


def test_secrets_come_only_from_the_environment(compose_alone: Dict[str, Any], kube: Kube) -> None:
    secrets = set(envfile.PROCESS_SECRETS) | DEPLOY_SECRETS | {"CARELINE_REST_TOKEN", "CARELINE_FB_APP_SECRET",
                                                        "CARELINE_FB_VERIFY_TOKEN", "CARELINE_FB_PAGE_TOKEN",
                                                        "CARELINE_SMTP_PASSWORD"}
    assert secrets <= set(kube.secrets["careline-secrets"])
    assert set(kube.secrets["careline-postgres"]) == {"POSTGRES_PASSWORD"}
    assert all(value == "" for keys in kube.secrets.values() for value in keys.values()), \
        "secret.example.yaml is a template: its values stay empty"
    assert not secrets & set(kube.settings), "settings.env is for what is not secret"
    raw = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    for key in secrets & set(raw["x-careline-env"]):
        assert re.fullmatch(r"\$\{" + key + r"(:\?[^}]*|:-)\}", raw["x-careline-env"][key]), key
    for key in set(envfile.GENERATED) | DEPLOY_SECRETS | {"CARELINE_PG_ADMIN_PASSWORD"}:
        assert key in compose_required(), f"deploy/compose.yml must refuse to start without {key}"
    # in Kubernetes every secret is a Secret's key, never a literal
    for doc in kube.documents:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            for container in pod_spec(doc)["containers"]:
                for entry in container.get("env", []):
                    if entry["name"] in secrets | {"POSTGRES_PASSWORD", "SANIC_FORWARDED_SECRET"}:
                        assert "valueFrom" in entry, (doc["metadata"]["name"], entry["name"])
    # only the postgres server gets the superuser's password
    for doc in kube.documents:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            uses = json.dumps(pod_spec(doc)).count('"careline-postgres"')
            assert uses == (1 if doc["metadata"]["name"] == "postgres" else 0), doc["metadata"]["name"]
    admin = compose_environ()["CARELINE_PG_ADMIN_PASSWORD"]
    assert admin in json.dumps(compose_alone["services"]["postgres"])
    for name, service in compose_alone["services"].items():
        assert name == "postgres" or admin not in json.dumps(service), name


# -- ports -----------------------------------------------------------------------------------------------------

def test_ports_are_the_settings_defaults(local: Local, compose: Dict[str, Any], kube: Kube) -> None:
    settings = local.settings
    ports = {"actions": settings.actions_port, "rasa": settings.rasa_backend_ports[0], "web": settings.web_port,
             "desk": settings.desk_port, "mail": settings.mail_port, "nginx": settings.rasa_port,
             "postgres": settings.pg_port, "redis": settings.redis_port}
    assert {name: local.services["rasa-1" if name == "rasa" else name].port for name in ports} == ports
    assert ports == {"actions": 5055, "rasa": 5006, "web": 8080, "desk": 5080, "mail": 8025, "nginx": 5005,
                     "postgres": 5440, "redis": 6390}
    for name in ("web", "desk", "nginx"):
        published = [str(entry).rsplit(":", 2)[-2:] for entry in compose["services"][name]["ports"]]
        assert published == [[str(ports[name]), str(ports[name])]], name
    for name in ("actions", "rasa", "mail", "postgres", "redis"):
        assert "ports" not in compose["services"][name], f"{name} is reached inside the network only"
    assert compose["services"]["postgres"]["environment"]["PGPORT"] == str(ports["postgres"])
    assert f"--port {ports['redis']}" in " ".join(compose["services"]["redis"]["command"])
    assert compose["services"]["nginx"]["environment"]["CARELINE_RASA_BACKEND"] == f"rasa:{ports['rasa']}"
    for name, port in ports.items():
        if name == "mail":
            continue
        container = kube.container(name)
        assert [entry["containerPort"] for entry in container["ports"]] == [port], name
        assert [entry["port"] for entry in kube.services()[name]["spec"]["ports"]] == [port], name
    assert env_value(kube.container("postgres"), "PGPORT") == str(ports["postgres"])
    assert f"--port {ports['redis']}" in " ".join(kube.container("redis")["command"])
    assert env_value(kube.container("nginx"), "CARELINE_RASA_BACKEND") == \
        f"rasa.$(POD_NAMESPACE).svc.cluster.local:{ports['rasa']}"
    assert kube.services()["rasa"]["spec"]["clusterIP"] == "None", "nginx must see every Rasa server's address"


# -- the servers' configuration -------------------------------------------------------------------------------

def test_postgres_and_redis_are_configured_as_locally(local: Local, compose: Dict[str, Any], kube: Kube) -> None:
    settings = local.settings
    options = local.services["postgres"].command
    local_options = {options[index + 1] for index, arg in enumerate(options) if arg == "-c"}
    local_options = {option for option in local_options
                     if not option.startswith(("listen_addresses=", "unix_socket_directories="))}
    for command in (compose["services"]["postgres"]["command"], kube.container("postgres")["args"]):
        assert command[0] == "postgres"
        assert {command[index + 1] for index, arg in enumerate(command) if arg == "-c"} == local_options
    # the role and the databases the local URLs name, made as ops/infra/postgres.py bootstrap() makes them
    init = POSTGRES_INIT.read_text()
    for database, role, _ in postgres.databases(settings):
        assert f"CREATE DATABASE {database} OWNER {role} ENCODING 'UTF8';" in init
        assert re.search(rf"CREATE ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEROLE\b", init)
    assert os.access(POSTGRES_INIT, os.X_OK), "the postgres image runs only executable init scripts"
    assert "./k8s/config/postgres-init.sh:/docker-entrypoint-initdb.d/10-careline.sh:ro" in \
        compose["services"]["postgres"]["volumes"]
    # Redis: the settings of ops/infra/redis.py's configuration, plus a password
    wanted = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in redis.config_text(settings).splitlines()
              if line and not line.startswith("#")}
    for command in (compose["services"]["redis"]["command"], kube.container("redis")["command"]):
        assert command[:2] == ["sh", "-c"]
        args = shlex.split(command[2].replace('"$CARELINE_REDIS_PASSWORD"', "PASSWORD"))
        assert args[:2] == ["exec", "redis-server"]
        given = dict(zip((name[2:] for name in args[2::2]), args[3::2]))
        for key in ("port", "protected-mode", "appendonly", "maxmemory", "maxmemory-policy"):
            assert given[key] == wanted[key], key
        assert given["save"] == "" and wanted["save"] == '""'
        assert given["requirepass"] == "PASSWORD" and wanted["requirepass"] == REDIS_PASSWORD
        assert given["bind"] == WILDCARD
        assert set(given) == set(wanted) - {"daemonize", "dir", "logfile"}, "a setting of redis.conf is missing"


# -- nginx ------------------------------------------------------------------------------------------------------

@dataclass
class Directive:
    name: str
    args: List[str]
    block: Optional[List[Directive]] = None

    def find(self, name: str) -> List[Directive]:
        return [child for child in self.block or [] if child.name == name]


def parse_nginx(text: str) -> List[Directive]:
    """nginx.conf's directives and blocks (quoted arguments unquoted, comments dropped)."""
    tokens: List[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char == "#":
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
        elif char in "{};":
            tokens.append(char)
            index += 1
        elif char in "\"'":
            end = index + 1
            while text[end] != char:
                end += 2 if text[end] == "\\" else 1
            tokens.append(text[index + 1:end])
            index = end + 1
        else:
            match = re.compile(r"[^\s{};]+").match(text, index)
            assert match is not None
            tokens.append(match.group())
            index = match.end()

    def block(position: int) -> Tuple[List[Directive], int]:
        found: List[Directive] = []
        words: List[str] = []
        while position < len(tokens):
            token = tokens[position]
            if token == ";":
                found.append(Directive(words[0], words[1:]))
                words = []
            elif token == "{":
                children, position = block(position + 1)
                found.append(Directive(words[0], words[1:], children))
                words = []
            elif token == "}":
                return found, position
            else:
                words.append(token)
            position += 1
        return found, position

    return block(0)[0]


#: What differs between this machine and the nginx image by nature: where the pid file, the logs and the
#: temporary files live, the workers' account, `daemon off` (the image's command says it) and the DNS
#: servers the image asks for the Rasa servers' addresses. Everything else must be the same.
PLACES = {"pid", "user", "daemon", "access_log", "resolver", "client_body_temp_path", "proxy_temp_path",
          "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"}

Summary = Tuple[Tuple[str, Tuple[str, ...], Any], ...]


def summarize(directives: List[Directive], secret: str) -> Summary:
    """Every directive and block, with the Forwarded secret, file paths and the servers' addresses abstracted.
    An upstream's servers are one line per Rasa server locally and one name for them all in the image: what
    counts is their parameters."""
    entries = set()
    for node in directives:
        if node.name in PLACES:
            continue
        args = [arg.replace(secret, "SECRET") for arg in node.args]
        if node.name in ("load_module", "js_import"):
            args[-1] = Path(args[-1]).name
        elif node.name == "listen":
            args = [args[0].rsplit(":", 1)[-1], *args[1:]]
        elif node.name == "server" and node.block is None:
            args = [arg for arg in args[1:] if arg != "resolve"]
        entries.add((node.name, tuple(args), None if node.block is None else summarize(node.block, secret)))
    return tuple(sorted(entries, key=repr))


def render_template(environ: Mapping[str, str]) -> str:
    """What the nginx image's entrypoint makes of the template (envsubst of the filtered variables)."""
    return re.sub(r"\$\{((?:CARELINE_|NGINX_LOCAL_RESOLVERS)[A-Z_]*)\}", lambda match: environ[match.group(1)],
                  NGINX_TEMPLATE.read_text())


def _block(directives: List[Directive], *path: str) -> Directive:
    node = Directive("", [], directives)
    for step in path:
        name, _, args = step.partition(" ")
        node = next(child for child in node.find(name) if " ".join(child.args) == args)
    return node


def test_nginx_routes_like_the_local_proxy(local: Local, compose: Dict[str, Any], kube: Kube) -> None:
    settings = local.settings
    secret = nginx.forwarded_secret(settings)
    ours = parse_nginx(nginx.config_text(settings))
    theirs = parse_nginx(render_template({"CARELINE_FORWARDED_SECRET": secret, "NGINX_LOCAL_RESOLVERS": "127.0.0.11",
                                          "CARELINE_RASA_BACKEND": "rasa:5006"}))
    assert summarize(theirs, secret) == summarize(ours, secret)
    # what the routing is, so that equal means right
    for config in (ours, theirs):
        assert _block(config, "http", "upstream rasa_sticky").find("ip_hash")
        assert _block(config, "http", "upstream rasa_by_sender").find("hash")[0].args == ["$careline_sender",
                                                                                       "consistent"]
        assert _block(config, "http", "upstream rasa").find("least_conn")
        server = _block(config, "http", "server")
        assert server.find("proxy_next_upstream")[0].args == ["error", "timeout"]
        assert server.find("proxy_next_upstream_tries")[0].args == [str(settings.rasa_servers)]
        assert server.find("listen")[0].args[0].endswith(str(settings.rasa_port))
        assert _block(config, "http", "server", "location /socket.io/").find("proxy_pass")[0].args == \
            ["http://rasa_sticky"]
        assert _block(config, "http", "server", "location ~ ^/webhooks/rest/webhook/?$").find("js_content")
        assert _block(config, "http", "server", "location /").find("proxy_pass")[0].args == ["http://rasa"]
        assert _block(config, "http", "server", f"location = {nginx.HEALTH_PATH}")
    # the image's access log: the same format (paths without the query string and its token)
    assert _block(theirs, "http").find("access_log")[0].args == ["/dev/stdout", "careline"]
    assert [child.args[-1] for child in _block(ours, "http").find("access_log")] == ["careline"]
    # every Rasa server, as they come and go
    for name in ("rasa_sticky", "rasa_by_sender", "rasa"):
        assert [child.args for child in _block(theirs, "http", f"upstream {name}").find("server")] == \
            [["rasa:5006", "resolve", "max_fails=1", "fail_timeout=5s"]]
    assert _block(theirs, "http").find("resolver")[0].args[0] == "127.0.0.11"
    # the REST routing script is the one ops/infra/nginx.py renders too, where the template imports it
    assert nginx.ROUTING_JS_FILE == K8S / "config" / "routing.js" and "function bySender(r)" in nginx.routing_js()
    assert _block(theirs, "http").find("js_import")[0].args == ["careline", "from", "/etc/nginx/careline/routing.js"]
    # both deployments render these files, with every variable the template needs
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", NGINX_TEMPLATE.read_text()))
    assert needed == {"CARELINE_FORWARDED_SECRET", "CARELINE_RASA_BACKEND", "NGINX_LOCAL_RESOLVERS"}
    image_env = {"NGINX_ENTRYPOINT_LOCAL_RESOLVERS": "1", "NGINX_ENVSUBST_FILTER": "^(CARELINE_|NGINX_LOCAL_RESOLVERS)",
                 "NGINX_ENVSUBST_TEMPLATE_DIR": "/etc/nginx/careline", "NGINX_ENVSUBST_OUTPUT_DIR": "/etc/nginx"}
    environment = compose["services"]["nginx"]["environment"]
    container = kube.container("nginx")
    for key, value in image_env.items():
        assert environment[key] == env_value(container, key) == value, key
    assert needed - {"NGINX_LOCAL_RESOLVERS"} <= set(environment)
    assert needed - {"NGINX_LOCAL_RESOLVERS"} <= {entry["name"] for entry in container["env"]}
    assert all(re.search(image_env["NGINX_ENVSUBST_FILTER"], name) for name in needed)
    assert sorted(compose["services"]["nginx"]["volumes"]) == [
        "./k8s/config/nginx.conf.template:/etc/nginx/careline/nginx.conf.template:ro",
        "./k8s/config/routing.js:/etc/nginx/careline/routing.js:ro"]
    generated = {item["name"]: item for item in kube.kustomization["configMapGenerator"]}
    assert generated["careline-nginx"]["files"] == ["config/nginx.conf.template", "config/routing.js"]
    assert pod_spec(kube.workloads()["nginx"])["volumes"] == [{"name": "config",
                                                              "configMap": {"name": "careline-nginx"}}]
    assert container["volumeMounts"] == [{"name": "config", "mountPath": "/etc/nginx/careline", "readOnly": True}]
    assert "command" not in container and "command" not in compose["services"]["nginx"], \
        "the image's own command: its entrypoint renders the template"


def _nginx_version(binary: str) -> Tuple[int, ...]:
    output = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", output)
    assert found, output
    return tuple(int(part) for part in found.groups())


def test_the_nginx_template_is_valid_nginx(tmp_path: Path) -> None:
    """`nginx -t` on the rendered template, with this machine's module path, files and account."""
    binary = nginx.find_nginx()  # `make nginx` installs nginx and its JavaScript module (make test needs them)
    text = render_template({"CARELINE_FORWARDED_SECRET": "s3cret", "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
                            "CARELINE_RASA_BACKEND": "127.0.0.1:5006"})
    (tmp_path / "routing.js").write_text((K8S / "config" / "routing.js").read_text())
    text = text.replace("load_module modules/ngx_http_js_module.so;", f"load_module {nginx.find_js_module()};")
    text = text.replace("/etc/nginx/careline/routing.js", str(tmp_path / "routing.js"))
    text = text.replace("pid /var/run/nginx.pid;", f"pid {tmp_path}/nginx.pid;").replace("user nginx;", "")
    if _nginx_version(binary) < (1, 27, 3):  # `resolve` in an upstream: open-source nginx 1.27.3 (the image has 1.28)
        text = text.replace(" resolve ", " ")
    (tmp_path / "nginx.conf").write_text(text)
    result = subprocess.run([binary, "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


# -- health -----------------------------------------------------------------------------------------------------

def test_health_checks_run_the_probes(local: Local, compose: Dict[str, Any], kube: Kube) -> None:
    for name in CARELINE:
        assert compose["services"][name]["healthcheck"]["test"] == ["CMD", "python", "-m", "deploy.healthcheck", name]
        if name == "mail":
            continue
        container = kube.container(name)
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[kind]["exec"]["command"] == ["python", "-m", "deploy.healthcheck", name], (name, kind)
    assert set(healthcheck.probes(local.settings)) == set(CARELINE)
    health_url = f"http://127.0.0.1:{local.settings.rasa_port}{nginx.HEALTH_PATH}"
    assert compose["services"]["nginx"]["healthcheck"]["test"] == ["CMD", "curl", "-fsS", health_url]
    for kind in ("readinessProbe", "livenessProbe"):
        assert kube.container("nginx")[kind]["httpGet"] == {"path": nginx.HEALTH_PATH, "port": "http"}
    for command in (compose["services"]["postgres"]["healthcheck"]["test"][1:],
                    kube.container("postgres")["readinessProbe"]["exec"]["command"]):
        assert command[0] == "pg_isready" and f"--port={local.settings.pg_port}" in command
        assert "--host=127.0.0.1" in command, "the TCP port answers only once the init scripts are done"
    for command in (compose["services"]["redis"]["healthcheck"]["test"][1],
                    kube.container("redis")["readinessProbe"]["exec"]["command"][2]):
        assert f"redis-cli -p {local.settings.redis_port} ping" in command and "PONG" in command


class Recorder:
    """A real HTTP server that notes each request line and answers 200 with the body it is given."""

    def __init__(self) -> None:
        self.requests: List[str] = []
        self.body = b""
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                recorder.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(recorder.body)))
                self.end_headers()
                self.wfile.write(recorder.body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ask(self, probe: Callable[[], bool], body: bytes) -> Tuple[bool, List[str]]:
        self.body, self.requests = body, []
        return probe(), self.requests


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_container_probes_ask_what_the_supervisor_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       recorder: Recorder) -> None:
    """deploy/healthcheck.py and ops/services.py against the same real servers: same requests, same verdicts."""
    port = str(recorder.port)
    mail_port = _free_port()
    environ = {"CARELINE_PROFILE": "prod", "CARELINE_PG_PASSWORD": PG_PASSWORD, "RASA_AUTH_TOKEN": SECRET_VALUE,
               "CARELINE_REDIS_PASSWORD": REDIS_PASSWORD, "CARELINE_VAR_DIR": str(tmp_path / "var"),
               "CARELINE_ACTIONS_PORT": port, "CARELINE_WEB_PORT": port,
               "CARELINE_DESK_PORT": port, "CARELINE_RASA_BACKEND_PORT": port, "CARELINE_MAIL_PORT": str(mail_port)}
    monkeypatch.setattr(postgres, "find_bin_dir", lambda: Path("/postgres/bin"))
    monkeypatch.setattr(redis, "find_server", lambda: "/redis-server")
    monkeypatch.setattr(nginx, "find_nginx", lambda: "/nginx")
    settings = load_settings(environ, root=tmp_path)
    supervisor = {service.name: service.probe for service in local_services.services(settings, tmp_path / "m.tar.gz")}
    # in a container the servers listen on every interface and the probe asks 127.0.0.1
    container = healthcheck.probes(load_settings({**environ, "CARELINE_HOST": WILDCARD}, root=tmp_path))
    bodies = [b'{"status": "ok", "model_id": "20261203-careline"}', b"{}", b'{"status": "starting", "model_id": null}']
    asked = {}
    for name in ("actions", "rasa", "web", "desk"):
        for body in bodies:
            ours = recorder.ask(supervisor["rasa-1" if name == "rasa" else name], body)
            theirs = recorder.ask(container[name], body)
            assert theirs == ours, (name, body)
        asked[name] = ours[1]
    assert asked == {"actions": ["/health"], "rasa": [f"/status?token={SECRET_VALUE}"], "web": ["/health"],
                     "desk": ["/health"]}
    # the worker's heartbeat file
    heartbeat = settings.worker_heartbeat
    assert container["worker"]() is supervisor["worker"]() is False
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    heartbeat.touch()
    assert container["worker"]() is supervisor["worker"]() is True
    os.utime(heartbeat, (time.time() - 60, time.time() - 60))
    assert container["worker"]() is supervisor["worker"]() is False
    # the mail catcher, a real SMTP server
    assert container["mail"]() is supervisor["mail"]() is False
    from aiosmtpd.controller import Controller

    smtp = Controller(object(), hostname="127.0.0.1", port=mail_port)
    smtp.start()
    try:
        assert container["mail"]() is supervisor["mail"]() is True
    finally:
        smtp.stop()


def test_the_healthcheck_command_exits_as_the_probe_says(tmp_path: Path, recorder: Recorder) -> None:
    environ = dict(os.environ, CARELINE_PROFILE="prod", CARELINE_PG_PASSWORD=PG_PASSWORD, RASA_AUTH_TOKEN=SECRET_VALUE,
                   CARELINE_REDIS_PASSWORD=REDIS_PASSWORD, CARELINE_VAR_DIR=str(tmp_path / "var"),
                   CARELINE_HOST=WILDCARD, CARELINE_WEB_PORT=str(recorder.port))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deploy.healthcheck", *args], cwd=PROJECT_ROOT, env=environ,
                              capture_output=True, text=True, timeout=60)

    recorder.body = b'{"status": "ok"}'
    assert run("web").returncode == 0
    recorder.body = b"{}"
    failed = run("web")
    assert failed.returncode == 1 and "web is not healthy" in failed.stderr
    unknown = run("nginx")
    assert unknown.returncode == 2 and "actions, rasa, web, desk, mail, worker" in unknown.stderr


# -- Kubernetes, structurally --------------------------------------------------------------------------------

def test_kubernetes_manifests_are_well_formed(kube: Kube) -> None:
    listed = set(kube.kustomization["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk, "kustomization.yaml lists every manifest (the Secret template stays out)"
    assert kube.kustomization["namespace"] == "careline"
    assert [image["name"] for image in kube.kustomization["images"]] == ["careline"]
    for item in kube.kustomization["configMapGenerator"]:
        for entry in item.get("files", []) + item.get("envs", []):
            assert (K8S / entry.split("=", 1)[-1]).is_file(), entry
    generated = {item["name"] for item in kube.kustomization["configMapGenerator"]}
    for doc in kube.documents + [doc for doc in yaml.safe_load_all((K8S / "secret.example.yaml").read_text())]:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc
    workloads = kube.workloads()
    for name, workload in workloads.items():
        spec = pod_spec(workload)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if workload["kind"] != "Job":
            assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, container["name"]
            assert PINNED.match(container["image"]) or container["image"] == "careline", container["image"]
            if workload["kind"] != "Job" and container in spec["containers"]:
                assert "readinessProbe" in container and "livenessProbe" in container, name
            for source in container.get("envFrom", []):
                assert source.get("secretRef", {}).get("name", "careline-secrets") in kube.secrets
                assert source.get("configMapRef", {}).get("name", "careline-settings") in generated
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in kube.secrets[ref["name"]], (name, ref)
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in generated, (name, volume)
        # fits a 2-core node with room for the system; the whole application fits two of them
        cpu = sum(_cpu(container["resources"]["requests"]["cpu"]) for container in spec["containers"])
        assert cpu <= 1.0, name
        assert all(_cpu(container["resources"]["limits"]["cpu"]) <= 1.5 for container in spec["containers"]), name
    total = sum(_cpu(container["resources"]["requests"]["cpu"]) * (workload["spec"].get("replicas") or 1)
                for workload in workloads.values() for container in pod_spec(workload)["containers"])
    assert total <= 3.0, f"the requests add up to {total} CPUs"
    # every Service selects one workload and reaches a port its container opens
    for name, service in kube.services().items():
        selector = service["spec"]["selector"].items()
        selected = [workload for workload in workloads.values()
                    if selector <= workload["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, name
        ports = {port["name"]: port["containerPort"] for container in pod_spec(selected[0])["containers"]
                 for port in container.get("ports", [])}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in ports or target in ports.values(), (name, target)
            assert ports.get(target, target) == port["port"], name
    assert workloads["rasa"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def _cpu(value: Any) -> float:
    text = str(value)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_images_are_pinned_and_the_same_in_both(compose: Dict[str, Any], kube: Kube) -> None:
    for name in ("postgres", "redis", "nginx"):
        image = compose["services"][name]["image"]
        assert PINNED.match(image), image
        assert kube.container(name)["image"] == image, name
    assert all(container["image"] == compose["services"]["postgres"]["image"]
               for workload in kube.workloads().values() for container in pod_spec(workload).get("initContainers", []))
    for name in CARELINE + (MIGRATE,):
        assert compose["services"][name]["image"] == "careline:latest"
        assert compose["services"][name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def test_the_image_installs_what_make_setup_does_and_bakes_the_model_in() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.10\.\d+-slim-bookworm$", text, re.M)
    assert "pip install -r requirements.txt" in text and "pip check" in text
    assert "python -m ops.encoder_setup" in text
    assert "python -m ops.train --print-path" in text and 'ln -s "$name" models/current.tar.gz' in text
    assert CONTAINER_MODEL == "/app/models/current.tar.gz" and "WORKDIR /app" in text
    assert re.search(r"^USER 10001", text, re.M), "the processes do not run as root"
    env = dockerfile_env()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", {})
        settings = load_settings({"CARELINE_VAR_DIR": "/tmp/var"}, root=Path("/nonexistent"))
        supervisor = dict(local_services.places(settings).env)
    # what the supervisor gives every process and is the same everywhere (not an address, secret or setting)
    fixed = set(supervisor) - set(settings.process_env()) - set(local_services.mail_catcher_env(settings)) \
        - {"SANIC_HOST", "RASA_AUTH_TOKEN"}
    assert fixed and {key: env.get(key) for key in fixed} == {key: supervisor[key] for key in fixed}
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for private in (".env", "var/", ".venv/", ".git/"):
        assert private in ignored, f"{private} must stay out of the image"
