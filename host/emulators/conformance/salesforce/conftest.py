"""Fixtures for the Salesforce emulator conformance tests.

Each fixture starts ``ledgerlink-emulate salesforce`` as a child process, reads the JSON line it
prints ({"service","url","client_id","client_secret","access_token"}) and kills it afterwards.

simple-salesforce builds every URL as ``https://{instance}`` (api-facts C3); the emulator speaks
plain HTTP, so the ``requests`` session handed to ``Salesforce(...)`` carries a transport adapter
that rewrites ``https://127.0.0.1:PORT`` to ``http://127.0.0.1:PORT``.

Binary: $LEDGERLINK_EMULATE_BIN, else <$CARGO_TARGET_DIR or <repo>/target>/debug/ledgerlink-emulate.
"""

import json
import os
import select
import subprocess
from urllib.parse import urlparse

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

API_VERSION = "61.0"


def emulator_binary():
    explicit = os.environ.get("LEDGERLINK_EMULATE_BIN")
    if explicit:
        return explicit
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")
    return os.path.join(target, "debug", "ledgerlink-emulate")


class PlainHttpAdapter(HTTPAdapter):
    """Sends https://127.0.0.1:PORT requests to http://127.0.0.1:PORT."""

    def send(self, request, **kwargs):
        if request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, **kwargs)


class Emulator:
    def __init__(self, *args):
        binary = emulator_binary()
        if not os.path.exists(binary):
            pytest.skip(f"emulator binary not built: {binary}")
        self.proc = subprocess.Popen(
            [binary, "salesforce", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not ready:
            self.stop()
            raise RuntimeError("emulator did not print its JSON line within 30 s")
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            self.stop()
            raise RuntimeError(f"emulator exited: {err}")
        self.info = json.loads(line)
        assert self.info["service"] == "salesforce"
        self.url = self.info["url"]
        self.instance = urlparse(self.url).netloc

    def session(self):
        s = requests.Session()
        s.mount(f"https://{self.instance}", PlainHttpAdapter())
        return s

    def client(self, token=None):
        return Salesforce(
            instance_url=f"https://{self.instance}",
            session_id=token or self.info["access_token"],
            version=API_VERSION,
            session=self.session(),
        )

    def advance_clock(self, seconds):
        r = requests.post(f"{self.url}/_emulator/clock/advance", json={"seconds": seconds}, timeout=10)
        r.raise_for_status()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="module")
def emulator():
    """One emulator per test module, with 5-record query pages so that paging is exercised."""
    emu = Emulator("--page-size", "5")
    yield emu
    emu.stop()


@pytest.fixture()
def fresh_emulator():
    """An emulator of its own, for tests that move the clock."""
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture()
def sf(emulator):
    return emulator.client()
