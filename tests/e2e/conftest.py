"""Start the real system with `make up` in an isolated var/ folder and on free ports.

Starting the system (seed, action server, Rasa with the model, shop page, desk, outbox) is the
slow part of these tests, so one system serves every test of a session that can share it:
`system` is that shared system unless a module asks for another one. Tests on it stay
independent: each uses new senders, web sessions and desk logins, `say` names each sender a
client of its own, and a test that changes a customer's money or orders works on its own copy
of a demo customer (`tests/e2e/customers.py`).

Systems with another configuration or lifecycle, each started once per session:
- `limits_system`: a low per-address limit, for the tests that spend a client's budget on
  purpose (the address limits, the identity lock, the ticket flood: they lock things "for
  everyone" that the shared system's other tests need).
- `lifecycle_system`: for tests that restart the servers or swap the model under them (and follow-ups,
  which it schedules seconds after their case).
- a module-level `SYSTEM_ENV` dict gives that module (and any with the same dict) a system with
  those variables, e.g. REST switched off.
The systems the collected tests need start in the background once the first end-to-end test
asks for one, and all of them are stopped together at the end, also when a test fails.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import pytest
import requests

from careline.shared.settings import PROJECT_ROOT, load_settings
from tests.e2e.desk_client import SourceAddress
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.helpdesk import FakeHelpdesk
from tests.fakes.smtp import FakeSmtp
from tests.fakes.warehouse import FakeWarehouse

MAKE_TIMEOUT_S = 900
DOWN_TIMEOUT_S = 120

# Messenger is configured on the shared system; the fake Graph API receives what the bot sends.
MESSENGER_APP_SECRET = "test-app-secret-" + uuid.uuid4().hex
MESSENGER_VERIFY_TOKEN = "test-verify-" + uuid.uuid4().hex
MESSENGER_PAGE_TOKEN = "test-page-token-" + uuid.uuid4().hex


_PORTS_GIVEN: set = set()
_PORTS_LOCK = threading.Lock()


def free_port() -> int:
    """A free port on 127.0.0.1, never one this session handed out already (systems start side by side)."""
    with _PORTS_LOCK:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            if port not in _PORTS_GIVEN:
                _PORTS_GIVEN.add(port)
                return port


@dataclass
class RunningSystem:
    env: Dict[str, str]
    var_dir: Path
    rasa_url: str
    token: str
    helpdesk: FakeHelpdesk
    rest_token: str = ""
    #: Name every REST customer of `say` as a client of their own (X-Careline-Client), so that the
    #: failed identity checks and handoffs counted per client in one test never add up with another's.
    clients_per_sender: bool = False
    #: The system's mail server and warehouse (local fakes: CARELINE_SMTP_*, CARELINE_WAREHOUSE_URL).
    smtp: Optional[FakeSmtp] = None
    warehouse: Optional[FakeWarehouse] = None

    @property
    def rest_headers(self) -> Dict[str, str]:
        """What a trusted integration sends to the REST channel (CARELINE_REST_TOKEN)."""
        return {"Authorization": f"Bearer {self.rest_token}"}

    def make(self, *targets: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["make", "--no-print-directory", *targets], cwd=PROJECT_ROOT, env=self.env,
            capture_output=True, text=True, timeout=MAKE_TIMEOUT_S,
        )
        assert result.returncode == 0, f"make {' '.join(targets)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def say(self, sender: str, text: str, client: str = "") -> List[str]:
        """Send one message over the REST channel; return the bot's texts.

        `client` is the end customer's address an integration may name (X-Careline-Client).
        """
        if not client and self.clients_per_sender:
            client = f"customer-{sender}"
        headers = {**self.rest_headers, **({"X-Careline-Client": client} if client else {})}
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text}, headers=headers, timeout=60,
        )
        response.raise_for_status()
        return [message.get("text", "") for message in response.json()]

    def stop(self) -> None:
        subprocess.run(["make", "--no-print-directory", "down"], cwd=PROJECT_ROOT, env=self.env,
                       capture_output=True, timeout=DOWN_TIMEOUT_S)


def _make_up(var_dir: Path, helpdesk: FakeHelpdesk, extra_env: Mapping[str, str],
             clients_per_sender: bool = False, smtp: Optional[FakeSmtp] = None,
             warehouse: Optional[FakeWarehouse] = None) -> RunningSystem:
    """`make up` on free ports with the var/ folder `var_dir`; stops what it started if that fails."""
    env = dict(
        os.environ,
        CARELINE_VAR_DIR=str(var_dir),
        CARELINE_RASA_PORT=str(free_port()),
        CARELINE_ACTIONS_PORT=str(free_port()),
        CARELINE_WEB_PORT=str(free_port()),
        CARELINE_DESK_PORT=str(free_port()),
        CARELINE_HELPDESK_URL=helpdesk.url,
        CARELINE_RATE_PER_ADDRESS="100000",  # every test talks from 127.0.0.1
        CARELINE_REST_TOKEN=secrets.token_urlsafe(32),  # REST is for integrations holding this
        CARELINE_MAIL_PORT=str(free_port()),  # the local mail catcher's, should a system run one
    )
    env.update(smtp.env if smtp else {})
    env.update({"CARELINE_WAREHOUSE_URL": warehouse.url} if warehouse else {})
    env.update(extra_env)
    for key in ("CARELINE_TRACKER_DB_URL", "CARELINE_STORE_DB_URL"):
        env.pop(key, None)
    settings = load_settings(environ=env)
    running = RunningSystem(env=env, var_dir=var_dir, rasa_url=settings.rasa_url, token="", helpdesk=helpdesk,
                            rest_token=settings.rest_token, clients_per_sender=clients_per_sender, smtp=smtp,
                            warehouse=warehouse)
    try:
        running.make("up")
    except BaseException:
        running.stop()
        raise
    running.token = load_settings(environ=env).auth_token
    return running


@dataclass(frozen=True)
class SystemSpec:
    """Which system: its name, the variables it adds, and how `say` names its clients."""

    name: str
    env: Tuple[Tuple[str, str], ...] = ()
    clients_per_sender: bool = False

    @staticmethod
    def of(name: str, env: Mapping[str, str], clients_per_sender: bool = False) -> SystemSpec:
        return SystemSpec(name, tuple(sorted(env.items())), clients_per_sender)


# The shared system: Messenger on (its fake Graph API's address is added when it starts).
SHARED = SystemSpec.of("shared", {
    "CARELINE_FB_APP_SECRET": MESSENGER_APP_SECRET,
    "CARELINE_FB_VERIFY_TOKEN": MESSENGER_VERIFY_TOKEN,
    "CARELINE_FB_PAGE_TOKEN": MESSENGER_PAGE_TOKEN,
}, clients_per_sender=True)
# 60 messages (and reads) a minute per address, a burst of 30: tests that spend it talk from a
# loopback address of their own (`loopback_session`), the attacks from 127.0.0.1 stay below it.
LIMITS = SystemSpec.of("limits", {"CARELINE_RATE_PER_ADDRESS": "60"})
# Follow-ups due 12 s after their case (and once a conversation is quiet that long): soon enough to
# watch one arrive, late enough to stop the system in between (tests/e2e/test_followups.py).
LIFECYCLE = SystemSpec.of("lifecycle", {"CARELINE_FOLLOW_UP_DELAY_S": "12"})


def _spec_of_module(module: object) -> SystemSpec:
    """The system `system` stands for in a module: its own with a module-level SYSTEM_ENV, else the shared one."""
    own_env: Optional[Mapping[str, str]] = getattr(module, "SYSTEM_ENV", None)
    return SHARED if own_env is None else SystemSpec.of("own", own_env)


def _specs_needed(items: Iterable[pytest.Item]) -> List[SystemSpec]:
    """The systems the collected tests will ask for, in the order they first will."""
    needed: List[SystemSpec] = []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        module = getattr(item, "module", None)
        specs = [spec for name, spec in (("shared_system", SHARED), ("limits_system", LIMITS),
                                         ("lifecycle_system", LIFECYCLE)) if name in names]
        if "system" in names and "system" not in vars(module or object):  # not overridden by the module
            specs.append(_spec_of_module(module))
        needed.extend(spec for spec in specs if spec not in needed)
    return needed


class Systems:
    """The session's systems: started in the background (two at a time) as soon as the first end-to-end
    test needs one, in the order the tests will need them, and all stopped together at the end."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, graph_api: FakeGraphAPI) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._graph_api = graph_api
        self._starting: Dict[SystemSpec, Future] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="careline-system")

    def _start(self, spec: SystemSpec, var_dir: Path) -> RunningSystem:
        env = dict(spec.env)
        if spec == SHARED:
            env["CARELINE_FB_GRAPH_URL"] = self._graph_api.url
        helpdesk = FakeHelpdesk().__enter__()
        smtp, warehouse = FakeSmtp().start(), FakeWarehouse().__enter__()
        try:
            return _make_up(var_dir, helpdesk, env, spec.clients_per_sender, smtp, warehouse)
        except BaseException:
            helpdesk.__exit__(None, None, None)
            smtp.stop()
            warehouse.__exit__(None, None, None)
            raise

    def prepare(self, specs: Iterable[SystemSpec]) -> None:
        """Start these systems in the background (those not started yet)."""
        with self._lock:
            for spec in specs:
                if spec not in self._starting:  # the folder is made here: mktemp is not for threads
                    self._starting[spec] = self._pool.submit(self._start, spec, self._tmp_path_factory.mktemp("var"))

    def get(self, spec: SystemSpec) -> RunningSystem:
        """The running system of `spec`, once it is healthy (started now if nobody asked for it yet)."""
        self.prepare([spec])
        return self._starting[spec].result()

    def stop_all(self) -> None:
        """`make down` for every system at once (stopping mostly waits for processes to exit)."""
        self._pool.shutdown(wait=True, cancel_futures=True)  # a start under way finishes, then stops
        running = [future.result() for future in self._starting.values()
                   if not future.cancelled() and future.exception() is None]
        stoppers = [threading.Thread(target=each.stop) for each in running]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(DOWN_TIMEOUT_S + 10)
        for each in running:
            each.helpdesk.__exit__(None, None, None)
            if each.smtp:
                each.smtp.stop()
            if each.warehouse:
                each.warehouse.__exit__(None, None, None)
        self._starting.clear()


@pytest.fixture(scope="session")
def graph_api() -> Iterator[FakeGraphAPI]:
    """The fake Graph API the shared system's Messenger channel sends to."""
    with FakeGraphAPI(MESSENGER_PAGE_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="session")
def systems(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            graph_api: FakeGraphAPI) -> Iterator[Systems]:
    pool = Systems(tmp_path_factory, graph_api)
    try:
        # Train once (when the data changed) before systems start side by side, then start them all.
        subprocess.run(["make", "--no-print-directory", "train"], cwd=PROJECT_ROOT, capture_output=True,
                       timeout=MAKE_TIMEOUT_S)
        pool.prepare(_specs_needed(request.session.items))
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def shared_system(systems: Systems) -> RunningSystem:
    """The whole system (actions, Rasa, shop page, desk, helpdesk outbox) with Messenger, shared by the session."""
    return systems.get(SHARED)


@pytest.fixture(scope="session")
def limits_system(systems: Systems) -> RunningSystem:
    """A system of its own for the tests that spend per-client budgets (rate limits, identity locks,
    the ticket flood) on purpose: those budgets, and the locks "for everyone", are what the shared
    system's other tests need."""
    return systems.get(LIMITS)


@pytest.fixture(scope="session")
def lifecycle_system(systems: Systems) -> RunningSystem:
    """A system of its own for the tests that restart its servers or load another model into them:
    the shared system's tests should not find their servers restarting or serving a swapped model."""
    return systems.get(LIFECYCLE)


@pytest.fixture(scope="module")
def system(request: pytest.FixtureRequest, systems: Systems) -> RunningSystem:
    """The shared system, or a system of the module's own configuration when it sets a module-level
    `SYSTEM_ENV` dict (modules with the same SYSTEM_ENV share one)."""
    return systems.get(_spec_of_module(request.module))


def loopback_session() -> requests.Session:
    """HTTP from a loopback address of its own (127.x.y.z): the servers see a client no other test is."""
    session = requests.Session()
    address = f"127.{secrets.randbelow(200) + 50}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 2}"
    session.mount("http://", SourceAddress(address))
    return session


def until_refused(send: Callable[[], requests.Response], per_minute: float,
                  burst: int) -> Tuple[List[requests.Response], int]:
    """Call `send` until an answer is 429, or until clearly more calls passed than a limit of `per_minute`
    with `burst` allows; return the answers and how many calls the limit let through again meanwhile."""
    answers: List[requests.Response] = []
    started = time.monotonic()

    def refilled() -> int:
        return int((time.monotonic() - started) * per_minute / 60)

    while not answers or answers[-1].status_code != 429:
        if len(answers) > burst + refilled() + 5:
            break
        answers.append(send())
    return answers, refilled()
