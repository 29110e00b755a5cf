"""Start the local OpenID Connect provider (npm oidc-provider, installed by `make oidc-provider`)."""

import contextlib
import os
import socket
import subprocess
from pathlib import Path

OIDC_DIR = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "billing-portal", "test-client-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def oidc_provider(*, redirect_uri: str, issuer_host: str = "127.0.0.1"):
    """Run tests/oidc/server.mjs until the block ends; yields the URL it answers on (http://127.0.0.1:PORT).
    `issuer_host` other than 127.0.0.1 makes it sign tokens as another issuer than the URL it is reached at."""
    assert (OIDC_DIR / "node_modules" / "oidc-provider").exists(), "run `make oidc-provider` first"
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "ISSUER": f"http://{issuer_host}:{port}",
           "REDIRECT_URI": redirect_uri, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    process = subprocess.Popen(["node", "server.mjs"], cwd=OIDC_DIR, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline().strip()  # the server prints "ready" once it listens
        assert first == "ready", f"oidc-provider did not start: {first} {process.stderr.read()}"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
