#!/usr/bin/env python3
"""A minimal SMTP receiver for procrun's tests (the standard library only).

Usage: smtp_server.py RECORD_FILE [REFUSE_FIRST]
Binds 127.0.0.1 on a free port, prints the port, and exits when its standard input closes.
Speaks EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT. The first REFUSE_FIRST
messages (default 0) are refused after DATA with "451 try again later" (recorded as REFUSED). An
AUTH PLAIN exchange is recorded in the envelope as "AUTH PLAIN <base64>". Each accepted message is appended to
RECORD_FILE as its envelope and its raw DATA bytes (still dot-stuffed, CRLF line ends):
    ==== MESSAGE\r\nMAIL FROM:<...>\r\nRCPT TO:<...>\r\n...DATA\r\n<bytes up to the final dot>==== END\r\n
"""
import socketserver
import sys
import threading

record_path = sys.argv[1]
refusals_left = [int(sys.argv[2]) if len(sys.argv) > 2 else 0]
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 127.0.0.1 procrun test SMTP")
        envelope = []
        auth = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.strip().upper()
            if command.startswith(b"EHLO"):
                self.wfile.write(b"250-127.0.0.1\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SIZE 10485760\r\n")
                self.wfile.flush()
            elif command.startswith(b"HELO"):
                self.reply("250 127.0.0.1")
            elif command.startswith(b"AUTH PLAIN"):
                parts = line.strip().split(b" ")
                if len(parts) < 3:
                    self.wfile.write(b"334 \r\n")
                    self.wfile.flush()
                    parts.append(self.rfile.readline().strip())
                auth = [b"AUTH PLAIN " + parts[2]]
                self.reply("235 Authentication successful")
            elif command.startswith(b"MAIL FROM:"):
                envelope = auth + [line.rstrip(b"\r\n")]
                self.reply("250 OK")
            elif command.startswith(b"RCPT TO:"):
                envelope.append(line.rstrip(b"\r\n"))
                self.reply("250 OK")
            elif command == b"DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        break
                    data += chunk
                with lock:
                    refuse = refusals_left[0] > 0
                    if refuse:
                        refusals_left[0] -= 1
                    mark = b"==== REFUSED\r\n" if refuse else b"==== MESSAGE\r\n"
                    with open(record_path, "ab") as f:
                        f.write(mark + b"\r\n".join(envelope) + b"\r\nDATA\r\n" + data + b"==== END\r\n")
                self.reply("451 try again later" if refuse else "250 OK queued")
            elif command == b"RSET" or command == b"NOOP":
                self.reply("250 OK")
            elif command == b"QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
