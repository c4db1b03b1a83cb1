"""nginx in front of the Rasa servers (prod profile, or more than one Rasa server): Debian's package,
its configuration rendered to var/nginx/nginx.conf at every start, its pid file, access log and
temporary folders under var/nginx, its errors on stderr (var/log/nginx.log).

It listens on CARELINE_RASA_PORT (where customers, Messenger and the desk reach Rasa) and proxies:
- `/socket.io/` (the website widget) with `ip_hash`: the widget may fall back to long-polling, whose
  requests must all reach the server that holds the session; websocket upgrade headers passed on.
- the REST webhook by conversation: a little njs (nginx's JavaScript module, Debian's
  libnginx-mod-http-js) reads the message's `sender` and one conversation's messages go to one server
  (`hash ... consistent`), where they are handled in the order they arrived (channels.guard.ArrivalOrder):
  twenty messages a customer sends at once are answered in the order sent, whichever server is busier.
- everything else (Messenger webhook, the HTTP API) to the server with the fewest open
  requests (`least_conn`). A request goes to the other server only when its server could not be
  reached or did not answer in time (`error timeout`), never after a POST was sent to a server that
  then failed (no `non_idempotent`): a message is never processed twice.
- The client's address travels in `Forwarded: for=...;secret=...` (RFC 7239). The Rasa servers trust
  it only with the secret (Sanic's FORWARDED_SECRET, given to them as SANIC_FORWARDED_SECRET), so a
  program that talks to a backend port directly cannot claim another address; Sanic then reports it
  as `request.remote_addr` (`request.ip` stays the socket's peer: nginx). X-Real-IP and
  X-Forwarded-For carry the same address for logs and other readers; a client's own are replaced.
- Bodies up to 1 MB (Rasa's own limit), kept in memory, and responses are never buffered to disk:
  under root the workers run as an unprivileged account that cannot read var/.
The access log holds each request's path without its query string (the HTTP API's token travels as
`?token=`) and the backend that served it.
"""
from __future__ import annotations

import grp
import hashlib
import hmac
import pwd
from pathlib import Path
from typing import Callable, List, Optional

from careline.shared.settings import PROJECT_ROOT, Settings
from ops.infra import ServerMissing, find_program, running_as_root

HEALTH_PATH = "/.careline-proxy-health"
#: What a REST caller gets when the Rasa server holding its message died before answering (nginx's own 502
#: page otherwise): the REST channel's JSON error form, 503 with Retry-After; the message is not replayed.
REST_UNAVAILABLE = ('{"error": "unavailable", "detail": "the Rasa server that had this message stopped before it '
                    'answered; send the message again", "messages": []}')
READ_TIMEOUT_S = 120
WORKER_ACCOUNTS = ("www-data", "nobody")  # Debian's nginx account, else nobody


#: nginx's JavaScript module (Debian: libnginx-mod-http-js), which routes the REST webhook by conversation.
JS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
#: Reads a REST message's sender (the body is in memory: client_body_buffer_size = client_max_body_size)
#: and hands the request to the upstream hashed by it; a body without one is spread by request id.
#: One script for the local prod profile and for deploy/ (compose and Kubernetes mount the same file).
ROUTING_JS_FILE = PROJECT_ROOT / "deploy" / "k8s" / "config" / "routing.js"


def routing_js() -> str:
    return ROUTING_JS_FILE.read_text()


def find_js_module() -> Path:
    if not JS_MODULE.exists():
        raise ServerMissing("nginx's JavaScript module is not installed; `make nginx` installs Debian's "
                            "libnginx-mod-http-js package")
    return JS_MODULE


def find_nginx() -> str:
    found = find_program("nginx")
    if not found:
        raise ServerMissing("nginx is not installed; `make nginx` installs Debian's nginx package")
    return found


def folder(settings: Settings) -> Path:
    return settings.var_dir / "nginx"


def config_path(settings: Settings) -> Path:
    return folder(settings) / "nginx.conf"


def access_log(settings: Settings) -> Path:
    return folder(settings) / "access.log"


def forwarded_secret(settings: Settings) -> str:
    """The secret nginx adds to `Forwarded` and the Rasa servers require (derived from RASA_AUTH_TOKEN)."""
    return hmac.new(settings.auth_token.encode(), b"careline nginx Forwarded header", hashlib.sha256).hexdigest()[:32]


def backend_env(settings: Settings) -> dict:
    """What each Rasa server behind nginx needs to believe nginx's `Forwarded` header, and only nginx's."""
    return {"SANIC_FORWARDED_SECRET": forwarded_secret(settings)} if settings.behind_proxy else {}


def _worker_user() -> Optional[str]:
    """`user account group;` for the workers when the master runs as root, else None (nginx keeps the user)."""
    if not running_as_root():
        return None
    for name in WORKER_ACCOUNTS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return f"{name} {grp.getgrgid(entry.pw_gid).gr_name}"
    raise RuntimeError("nginx runs its workers as an unprivileged account but neither www-data nor nobody exists")


def _proxy_headers(settings: Settings) -> List[str]:
    secret = forwarded_secret(settings)
    return [
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        # nginx is the edge: whatever a client wrote into these headers is replaced, never passed on.
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        f'proxy_set_header Forwarded "for=\\"$remote_addr\\";proto=$scheme;secret={secret}";',
    ]


def config_text(settings: Settings) -> str:
    """The whole nginx.conf for these settings."""
    var = folder(settings)
    servers = "\n".join(f"        server {settings.host}:{port} max_fails=1 fail_timeout=5s;"
                        for port in settings.rasa_backend_ports)
    headers = "\n".join(f"            {line}" for line in _proxy_headers(settings))
    user = _worker_user()
    temp = "\n".join(f"    {kind}_temp_path {var}/tmp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# Rendered by ops/infra/nginx.py at every start: change that file, not this one.
load_module {JS_MODULE};
daemon off;
master_process on;
worker_processes 2;
pid {var}/nginx.pid;
error_log stderr warn;
{f"user {user};" if user else "# workers run as the invoking user"}

events {{
    worker_connections 4096;
}}

http {{
    server_tokens off;
    default_type application/octet-stream;
    # $uri, not $request: the HTTP API's token is in the query string.
    log_format careline '$remote_addr [$time_iso8601] "$request_method $uri" $status $body_bytes_sent '
                        'upstream=$upstream_addr $request_time';
    access_log {var}/access.log careline;
{temp}
    client_max_body_size 1m;
    # a client that opens connections and sends nothing (or a byte a minute) is let go, and one address holds
    # at most 256 connections (a whole office behind one address still fits)
    client_header_timeout 10s;
    client_body_timeout 10s;
    limit_conn_zone $binary_remote_addr zone=per_address:10m;
    limit_conn per_address 256;
    client_body_buffer_size 1m;
    proxy_max_temp_file_size 0;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      close;
    }}

    # The widget's socket.io: one client address, one server (long-polling needs the server that holds its session).
    upstream rasa_sticky {{
        zone rasa_sticky 64k;
        ip_hash;
{servers}
    }}

    # The REST webhook: one conversation, one server (its messages then keep their order), spread by sender.
    js_import careline from {var}/routing.js;
    js_var $careline_sender;
    upstream rasa_by_sender {{
        zone rasa_by_sender 64k;
        hash $careline_sender consistent;
{servers}
    }}

    # Other webhooks and the HTTP API: the server with the fewest requests in flight.
    upstream rasa {{
        zone rasa 64k;
        least_conn;
{servers}
    }}

    server {{
        listen {settings.host}:{settings.rasa_port};
        proxy_http_version 1.1;
        proxy_connect_timeout 5s;
        proxy_send_timeout {READ_TIMEOUT_S}s;
        proxy_read_timeout {READ_TIMEOUT_S}s;
        # Another server only if this one could not be reached or timed out; a POST already sent is never replayed.
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries {len(settings.rasa_backend_ports)};

        location = {HEALTH_PATH} {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}

        location /socket.io/ {{
            proxy_pass http://rasa_sticky;
{headers}
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
        }}

        location ~ ^/webhooks/rest/webhook/?$ {{
            js_content careline.bySender;
        }}

        location @rest_by_sender {{
            proxy_pass http://rasa_by_sender;
{headers}
            proxy_set_header Connection close;
            # the server died with the message in hand (never replayed): an answer in the REST channel's own form
            error_page 502 504 = @rest_unavailable;
        }}

        location @rest_unavailable {{
            default_type application/json;
            add_header Retry-After 5 always;
            return 503 '{REST_UNAVAILABLE}';
        }}

        location / {{
            proxy_pass http://rasa;
{headers}
            proxy_set_header Connection close;
        }}
    }}
}}
"""


def prepare(settings: Settings) -> None:
    """Folders and a fresh nginx.conf (private: it holds the Forwarded secret)."""
    (folder(settings) / "tmp").mkdir(mode=0o700, parents=True, exist_ok=True)
    find_js_module()
    config_path(settings).write_text(config_text(settings))
    config_path(settings).chmod(0o600)
    routing = folder(settings) / "routing.js"
    routing.write_text(routing_js())
    routing.chmod(0o600)


def command(settings: Settings) -> List[str]:
    var = folder(settings)
    return [find_nginx(), "-p", f"{var}/", "-c", str(config_path(settings)), "-e", "stderr"]


def probe(settings: Settings) -> Callable[[], bool]:
    from ops.processes import http_probe

    return http_probe(f"{settings.rasa_url}{HEALTH_PATH}", lambda body: body.strip() == b"ok")
