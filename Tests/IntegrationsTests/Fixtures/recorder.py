#!/usr/bin/env python3
"""A recording HTTP server for procrun's tests.

Binds 127.0.0.1 on a free port, prints the port, and exits when its standard input closes.
Every request except those to /__ is recorded as it arrived; GET /__requests returns them as JSON.
The path chooses the answer:
  /status/CODE/...        answer CODE
  /flaky/N/KEY/...        fail the first N requests for KEY with 503, then answer 200
  /slow/SECONDS/...       wait, then answer 200
  /big/BYTES/...          answer 200 with a body of BYTES bytes and a Content-Length
  /chunked/BYTES/...      answer 200 with a body of BYTES bytes, chunked (no Content-Length)
  /echo/...               answer 200 with the request as JSON: path, headers, body (UTF-8)
  /echotext/...           answer 200 with the request's bytes as text/plain
anything else            answer 200 with a JSON body
"""
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
requests = []
flaky = {}
in_flight = 0
max_in_flight = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body, content_type="application/json"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Recorder", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_big(self, size, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        piece = b"x" * 65536
        try:
            left = size
            while left > 0:
                part = piece[:min(left, len(piece))]
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
                else:
                    self.wfile.write(part)
                left -= len(part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped reading: what the size cap is for.
            self.close_connection = True

    def _raw_request(self, body):
        """The request as it arrived (http.server decodes header bytes as Latin-1)."""
        head = self.requestline + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in self.headers.items()) + "\r\n"
        return head.encode("latin-1") + body

    def _handle(self):
        global in_flight, max_in_flight
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/__requests":
            with lock:
                payload = json.dumps({"requests": requests, "maxInFlight": max_in_flight})
            return self._answer(200, payload)
        with lock:
            requests.append({
                "method": self.command,
                "path": self.path,
                "version": self.request_version,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": base64.b64encode(body).decode("ascii"),
            })
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
        try:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "status" and len(parts) > 1:
                return self._answer(int(parts[1]), '{"error": "as asked"}')
            if parts[0] == "flaky" and len(parts) > 2:
                key = parts[2]
                with lock:
                    flaky[key] = flaky.get(key, 0) + 1
                    count = flaky[key]
                if count <= int(parts[1]):
                    return self._answer(503, '{"error": "not yet"}')
                return self._answer(200, json.dumps({"ok": True, "attempt": count}))
            if parts[0] in ("big", "chunked") and len(parts) > 1:
                return self._send_big(int(parts[1]), parts[0] == "chunked")
            if parts[0] == "echo":
                echoed = {
                    "path": self.path,
                    "headers": {k: v.encode("latin-1").decode("utf-8", "replace") for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                }
                return self._answer(200, json.dumps(echoed))
            if parts[0] == "echotext":
                data = self._raw_request(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if parts[0] == "slow" and len(parts) > 1:
                time.sleep(float(parts[1]))
                return self._answer(200, '{"ok": true, "slow": true}')
            return self._answer(200, json.dumps({"ok": True, "id": len(requests)}))
        finally:
            with lock:
                in_flight -= 1

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that aborted a reply (the size cap) resets its connection: not an error here.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
