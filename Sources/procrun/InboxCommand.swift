import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct InboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox",
        abstract: "A local receiver for trying webhooks: prints each request and answers it.",
        discussion: """
            Listens on 127.0.0.1 only. Prints every request (method, path, headers, body) and answers \
            200 with a small JSON body, or --status for the first --fail-first requests. Stop it with Ctrl-C.
            """
    )

    @Option(help: "The port to listen on (0 picks a free one and prints it).")
    var port: Int = 8089

    @Option(help: "Fail this many requests before answering 2xx.")
    var failFirst: Int = 0

    @Option(help: "The status the failed requests get.")
    var status: Int = 503

    @Option(help: "Seconds to wait before answering each request (a slow receiver).")
    var delay: Double = 0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard failFirst >= 0 else { throw ValidationError("--fail-first cannot be negative") }
        guard delay >= 0 else { throw ValidationError("--delay cannot be negative") }
        guard (100...599).contains(status) else {
            throw ValidationError("--status must be an HTTP status from 100 to 599")
        }
    }

    func run() throws {
        let server = try InboxServer(port: port, failFirst: failFirst, failStatus: status, delay: delay)
        emit("inbox listening on http://127.0.0.1:\(server.port) (failing the first \(failFirst) with \(status))\n")
        server.serve()
    }
}

/// Writes straight to standard output (unbuffered), so a watcher sees each request at once.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// A tiny HTTP/1.1 server on a blocking socket: one thread accepts, one thread per connection.
/// Enough for a person watching webhooks arrive, with keep-alive so curl can reuse connections.
final class InboxServer: @unchecked Sendable {
    let socket: Int32
    let port: Int
    let failFirst: Int
    let failStatus: Int
    let delay: Double
    private let lock = NSLock()
    private var count = 0

    init(port: Int, failFirst: Int, failStatus: Int, delay: Double) throws {
        self.delay = delay
        self.failFirst = failFirst
        self.failStatus = failStatus
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ExitWith(code: Exit.internalError) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            printError("procrun: error: cannot listen on 127.0.0.1:\(port): \(reason)")
            throw ExitWith(code: Exit.invalidInput)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.socket = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func serve() {
        while true {
            let client = accept(socket, nil, nil)
            if client < 0 { continue }
            let thread = Thread { [self] in
                handle(client)
                close(client)
            }
            thread.start()
        }
    }

    private func handle(_ client: Int32) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // Read until the header block is complete.
            var headerEnd: Int?
            while headerEnd == nil {
                if let end = findHeaderEnd(buffer) {
                    headerEnd = end
                    break
                }
                let n = recv(client, &chunk, chunk.count, 0)
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst()
            let headers = lines.filter { !$0.isEmpty }
            let length =
                headers.compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first ?? 0
            let bodyStart = headerEnd! + 4
            while buffer.count < bodyStart + length {
                let n = recv(client, &chunk, chunk.count, 0)
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            let body = Array(buffer[bodyStart..<(bodyStart + length)])
            buffer.removeFirst(bodyStart + length)

            let (number, failing) = lock.withLock { () -> (Int, Bool) in
                count += 1
                return (count, count <= failFirst)
            }
            let status = failing ? failStatus : 200
            let reply =
                failing
                ? "{\"ok\":false,\"request\":\(number),\"error\":\"failing the first \(failFirst) requests\"}"
                : "{\"ok\":true,\"request\":\(number)}"
            var text = "── request \(number) ──\n\(requestLine)\n"
            for header in headers { text += header + "\n" }
            text += "\n" + String(decoding: body, as: UTF8.self) + "\n→ \(status) \(reason(status))\n"
            lock.withLock { emit(text + "\n") }
            // Each connection has its own thread, so waiting here delays only this answer.
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            let response =
                "HTTP/1.1 \(status) \(reason(status))\r\nContent-Type: application/json\r\nContent-Length: \(reply.utf8.count)\r\n\r\n\(reply)"
            let bytes = Array(response.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                sent += n
            }
        }
    }

    private func findHeaderEnd(_ buffer: [UInt8]) -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}
