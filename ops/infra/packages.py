"""Which of the servers a profile runs are missing on this machine (`make prod-servers` installs them:
the Makefile's `postgres`, `redis` and `nginx` targets, Debian packages through apt-get)."""
from __future__ import annotations

from typing import Callable, List, Tuple

from careline.shared.settings import Settings
from ops.infra import ServerMissing, nginx, postgres, redis

#: Debian package, its Makefile target and how to find its server once installed.
PACKAGES: Tuple[Tuple[str, str, Callable[[], object]], ...] = (
    ("postgresql", "postgres", postgres.find_bin_dir),
    ("redis-server", "redis", redis.find_server),
    ("nginx", "nginx", nginx.find_nginx),
    ("libnginx-mod-http-js", "nginx", nginx.find_js_module),
)


def needed(settings: Settings) -> List[str]:
    """The packages these settings run: PostgreSQL and Redis in the prod profile, nginx behind a proxy."""
    names = ["postgresql", "redis-server"] if settings.profile == "prod" else []
    return names + (["nginx", "libnginx-mod-http-js"] if settings.behind_proxy else [])


def require(settings: Settings) -> None:
    """Raise ServerMissing naming every missing package and the make target that installs it."""
    wanted = needed(settings)
    missing = []
    for package, target, find in PACKAGES:
        if package not in wanted:
            continue
        try:
            find()
        except ServerMissing:
            missing.append((package, target))
    if missing:
        raise ServerMissing(f"{', '.join(package for package, _ in missing)} not installed: run "
                            f"`make {' '.join(target for _, target in missing)}` (Debian packages; needs root or sudo)")
