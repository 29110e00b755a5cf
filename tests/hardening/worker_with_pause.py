"""Starts a Celery worker that pauses, the first time, inside chosen functions, so a test can SIGKILL it there.

Test-only hook, set by environment (nothing in the apps knows about it):
  HARDENING_PAUSE_AT      comma-separated "module:function" names to wrap
  HARDENING_PAUSE_DIR     where "<function>.paused" markers are written (the test waits for them)
  HARDENING_VISIBILITY    broker visibility timeout in seconds (a restarted worker reclaims unacked tasks
                          older than this at once; the production value is one hour)
The wrapper pauses only when its marker does not exist yet: after the kill, the restarted worker runs the
function normally.
"""

import functools
import importlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _pause_wrapper(original, marker: Path):
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if not marker.exists():
            marker.touch()
            time.sleep(300)  # the test kills the worker during this sleep
        return original(*args, **kwargs)

    return wrapper


def main() -> None:
    import django

    django.setup()
    from billing_portal.celery import app

    pause_dir = Path(os.environ["HARDENING_PAUSE_DIR"])
    for target in filter(None, os.environ.get("HARDENING_PAUSE_AT", "").split(",")):
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        setattr(module, attr, _pause_wrapper(getattr(module, attr), pause_dir / f"{attr}.paused"))
    visibility = os.environ.get("HARDENING_VISIBILITY")
    if visibility:
        app.conf.broker_transport_options = {
            **(app.conf.broker_transport_options or {}), "visibility_timeout": int(visibility),
            "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
        }
    app.worker_main(["worker", "--pool=threads", "--concurrency=4", "--loglevel=INFO", "--without-gossip",
                     "--without-mingle", "--without-heartbeat", f"--hostname=hardening-{os.getpid()}@%h"])


if __name__ == "__main__":
    main()
