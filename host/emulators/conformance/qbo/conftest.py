"""Starts the QuickBooks Online emulator binary for the conformance tests and builds real
python-quickbooks / intuitlib clients pointed at it (api-facts C1, C2).

The binary is found through LEDGERLINK_EMULATE_BIN, else
``<CARGO_TARGET_DIR or <repo>/target>/debug/ledgerlink-emulate``; build it with
``cargo build -p ledgerlink-emulators --bin ledgerlink-emulate``.
"""

import json
import os
import pathlib
import subprocess
import threading
import http.server

import pytest

# oauthlib refuses plain-http URLs unless told otherwise; the emulator serves http on loopback.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from intuitlib.client import AuthClient  # noqa: E402
from quickbooks import QuickBooks  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[4]


def emulator_binary() -> str:
    explicit = os.environ.get("LEDGERLINK_EMULATE_BIN")
    if explicit:
        return explicit
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    path = target / "debug" / "ledgerlink-emulate"
    if not path.exists():
        pytest.exit(f"emulator binary not found at {path}: build it with "
                    "`cargo build -p ledgerlink-emulators --bin ledgerlink-emulate` or set LEDGERLINK_EMULATE_BIN")
    return str(path)


class Emulator:
    """A running `ledgerlink-emulate quickbooks` process and the JSON line it printed."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [emulator_binary(), "quickbooks", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            err = self.process.stderr.read()
            raise RuntimeError(f"emulator did not start: {err}")
        self.info = json.loads(line)
        self.url = self.info["url"]
        self.realm_id = self.info["realm_id"]

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def auth_client(self, access_token=None, refresh_token=None) -> AuthClient:
        # Any environment other than production/sandbox is taken as the discovery document URL.
        return AuthClient(
            client_id=self.info["client_id"],
            client_secret=self.info["client_secret"],
            redirect_uri="http://127.0.0.1:9/callback",
            environment=f"{self.url}/.well-known/openid_configuration",
            access_token=access_token,
            refresh_token=refresh_token,
            realm_id=self.realm_id,
        )

    def quickbooks(self, auth_client: AuthClient) -> QuickBooks:
        client = QuickBooks(
            auth_client=auth_client,
            refresh_token=auth_client.refresh_token,
            company_id=self.realm_id,
            minorversion=75,
            verifier_token=self.info["verifier_token"],
        )
        client.api_url_v3 = f"{self.url}/v3"
        client.sandbox_api_url_v3 = f"{self.url}/v3"
        return client

    def post_control(self, path: str, body: dict) -> dict:
        import requests
        return requests.post(f"{self.url}{path}", json=body, timeout=10).json()


@pytest.fixture(scope="session")
def emulator():
    emu = Emulator("--no-rate-limits")
    yield emu
    emu.stop()


@pytest.fixture()
def auth_client(emulator):
    tokens = emulator.post_control("/_emulator/qbo/tokens", {"realm": emulator.realm_id})
    return emulator.auth_client(tokens["access_token"], tokens["refresh_token"])


@pytest.fixture()
def qb(emulator, auth_client):
    return emulator.quickbooks(auth_client)


class WebhookSink:
    """A loopback HTTP server that records every POST (body text and intuit-signature)."""

    def __init__(self):
        received = self.received = []
        event = self.event = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length).decode("utf-8")
                received.append((body, self.headers.get("intuit-signature")))
                event.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture()
def webhook_emulator():
    sink = WebhookSink()
    emu = Emulator("--no-rate-limits", "--webhook-url", sink.url)
    yield emu, sink
    emu.stop()
    sink.stop()
