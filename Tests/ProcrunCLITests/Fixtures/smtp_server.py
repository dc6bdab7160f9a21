#!/usr/bin/env python3
"""A minimal SMTP receiver for procrun's tests (the standard library only).

Usage: smtp_server.py RECORD_FILE
Binds 127.0.0.1 on a free port, prints the port, and exits when its standard input closes.
Speaks EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT. Each accepted message is appended to
RECORD_FILE as its envelope and its raw DATA bytes (still dot-stuffed, CRLF line ends):
    ==== MESSAGE\r\nMAIL FROM:<...>\r\nRCPT TO:<...>\r\n...DATA\r\n<bytes up to the final dot>==== END\r\n
"""
import socketserver
import sys
import threading

record_path = sys.argv[1]
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 127.0.0.1 procrun test SMTP")
        envelope = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.strip().upper()
            if command.startswith(b"EHLO"):
                self.wfile.write(b"250-127.0.0.1\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
                self.wfile.flush()
            elif command.startswith(b"HELO"):
                self.reply("250 127.0.0.1")
            elif command.startswith(b"MAIL FROM:"):
                envelope = [line.rstrip(b"\r\n")]
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
                    with open(record_path, "ab") as f:
                        f.write(b"==== MESSAGE\r\n" + b"\r\n".join(envelope) + b"\r\nDATA\r\n" + data + b"==== END\r\n")
                self.reply("250 OK queued")
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
