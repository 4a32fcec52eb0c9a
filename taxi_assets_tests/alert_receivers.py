"""Real alert receivers on 127.0.0.1: an HTTP server recording what is posted, and an SMTP server (aiosmtpd)."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink


class Webhook:
    """A local HTTP server that records what is posted to it and answers with the next of ``statuses``.

    ``statuses`` are used in turn, the last one for every later request; ``delay`` holds each answer back.
    """

    def __init__(self, status: int = 200, statuses: tuple[int, ...] = (), delay: float = 0.0) -> None:
        self.bodies: list[dict[str, object]] = []
        self.paths: list[str] = []
        received, paths = self.bodies, self.paths
        answers = list(statuses or (status,))

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                time.sleep(delay)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                paths.append(self.path)
                self.send_response(answers.pop(0) if len(answers) > 1 else answers[0])
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        # the same receiver as an apprise target: a JSON post
        self.target = f"json://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox(Sink):
    """An aiosmtpd handler keeping every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@contextmanager
def running_mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
