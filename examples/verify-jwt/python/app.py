"""An application behind Gatehouse that trusts no identity header.

It verifies the identity JWT the sidecar stamps on every request (X-Gatehouse-Jwt-Assertion)
against the application's published keys, and answers who the caller is.

    pip install -r requirements.txt
    GATEHOUSE_JWKS_URL=http://127.0.0.1:4180/.gatehouse/jwks.json \\
    GATEHOUSE_ISSUER=https://wiki.example.com \\
    GATEHOUSE_AUDIENCE=gatehouse:corp/wiki \\
    LISTEN=127.0.0.1:8080 python app.py

In the injected pod the keys come from the sidecar over loopback (its port, 4180 unless the
pod's gatehouse.dev/listen-port says otherwise); elsewhere from the application's own URL,
https://wiki.example.com/.gatehouse/jwks.json.

The HTTP server is the standard library's, to keep the example whole; in an application, Keys and
the jwt.decode call go into its framework's middleware (a thread per connection and no timeouts
are no server to face a network with).
"""

import json
import logging
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

# The header the sidecar puts the JWT in (authentication.identityHeaders.assertion).
ASSERTION_HEADER = "X-Gatehouse-Jwt-Assertion"
# Only the algorithms the sidecar signs with: never "none", never HS256 with a public key.
ALGORITHMS = ["ES256", "RS256"]


class Keys:
    """The application's published keys: fetched at start, again every hour (in a cluster the
    operator publishes a new key a day before it signs, so the hourly fetch learns it first), and
    when a token names a key not seen yet (a standalone rotation, keys replaced by hand) at most
    once a minute: tokens naming made-up keys cannot make it fetch more often than that. One
    request fetches at a time; the others use the keys held, or (a key not seen yet) wait for
    that fetch, never for a turn."""

    def __init__(self, url: str) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=5)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetching = threading.Lock()
        # When the hourly fetch is due, and when a key not seen yet may have the next fetch. The
        # fetch at start does not count against that minute: a rotation right after a start
        # gets its fetch.
        self._due = float("-inf")
        self._unknown_turn = float("-inf")
        self._fetch(wait=False)

    def _fetch(self, wait: bool) -> None:
        if not self._fetching.acquire(blocking=False):
            # Another request is fetching: its keys, not a fetch of our own.
            if wait and self._fetching.acquire(timeout=6):
                self._fetching.release()
            return
        try:
            self._keys = {k.key_id: k for k in self._client.get_jwk_set().keys if k.key_id}
            self._due = time.monotonic() + 3600
        except jwt.PyJWKClientError as error:
            # The keys held go on serving; tried again in a minute.
            self._due = time.monotonic() + 60
            logging.warning("keys not fetched: %s", error)
        finally:
            self._fetching.release()

    def for_token(self, token: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        moment = time.monotonic()
        if moment >= self._due:
            self._fetch(wait=False)
        if kid not in self._keys and moment >= self._unknown_turn:
            self._unknown_turn = moment + 60
            self._fetch(wait=True)
        if not self._keys:
            raise jwt.PyJWKClientError("no keys fetched yet")
        key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError(f"no published key {kid!r}")
        return key


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keys = Keys(required("GATEHOUSE_JWKS_URL"))
    issuer = required("GATEHOUSE_ISSUER")
    audience = required("GATEHOUSE_AUDIENCE")
    host, _, port = os.environ.get("LISTEN", "127.0.0.1:8080").rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            token = self.headers.get(ASSERTION_HEADER, "")
            try:
                claims = jwt.decode(
                    token,
                    keys.for_token(token).key,
                    algorithms=ALGORITHMS,
                    issuer=issuer,
                    audience=audience,
                    leeway=10,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                )
            except jwt.PyJWKClientError as error:
                # The keys could not be fetched: nothing can be verified, so nothing is served.
                logging.warning("keys unavailable: %s", error)
                self.send_error(503, "keys unavailable")
                return
            except jwt.PyJWTError as error:
                # Not through the sidecar, or not for this application: trust nothing of the request.
                logging.info("refused: %s", error)
                self.send_error(401, "unauthorized")
                return
            body = json.dumps(
                {k: claims.get(k) for k in ("sub", "email", "kind", "groups", "amr", "acr")}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, int(port)), Handler)
    logging.info("listening on %s:%s", host, server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
