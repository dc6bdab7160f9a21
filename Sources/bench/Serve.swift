import BPMNLoader
import Foundation
import Runtime
import Store
import Synchronization
import Values

// MARK: 9. Server

/// `procrun serve` under load: instance starts and task completions per second over HTTP from
/// 64 keep-alive connections (a client of plain sockets, one thread each), with the p99
/// latency, beside the same operations through the runtime directly on a store of the same
/// kind (one after another, as one server's request queue runs them).
func serveFigure(_ options: Options) throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "procrun"
    ).path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw BenchError("\(binary) is missing: swift build -c release first")
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-bench-serve-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = folder.appendingPathComponent("bench.bpmn").path
    try Data(ServeBench.model.utf8).write(to: URL(fileURLWithPath: model))
    let users = folder.appendingPathComponent("users.json").path
    let add = Process()
    add.executableURL = URL(fileURLWithPath: "/bin/sh")
    add.arguments = ["-c", "echo bench-password | \"$0\" users add bench --role admin --users \"$1\"", binary, users]
    add.standardOutput = FileHandle.nullDevice
    try add.run()
    add.waitUntilExit()
    let token = try run(binary, ["users", "token", "bench", "--users", users]).output
        .trimmingCharacters(in: .whitespacesAndNewlines)
    let out = folder.appendingPathComponent("out")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    let server = Process()
    server.executableURL = URL(fileURLWithPath: binary)
    server.arguments = [
        "serve", "--port", "0", "--workers", "0", "--store", folder.appendingPathComponent("serve.sqlite").path,
        "--users", users,
    ]
    server.standardOutput = try FileHandle(forWritingTo: out)
    server.standardError = FileHandle.nullDevice
    try server.run()
    defer {
        server.terminate()
        server.waitUntilExit()
    }
    var port = 0
    for _ in 0..<300 where port == 0 {
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        if let range = text.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression) {
            port = Int(text[range].split(separator: ":")[1]) ?? 0
        } else {
            usleep(20_000)
        }
    }
    guard port > 0 else { throw BenchError("procrun serve did not start") }
    let client = ServeBench(port: port, token: token)
    let deployed = try client.request("POST", "/api/definitions?file=bench.bpmn", body: ServeBench.model)
    guard deployed.status == 201 else { throw BenchError("deploy: \(deployed.status) \(deployed.body)") }
    let count = 2_000
    let rounds = max(options.rounds, 3)
    var startRates: [Double] = []
    var completeRates: [Double] = []
    var startP99: [Double] = []
    var completeP99: [Double] = []
    _ = try client.load(count: 200, connections: 64) { _ in ("POST", "/api/instances", #"{"processId":"bench"}"#) }
    for _ in 0..<rounds {
        let starts = try client.load(count: count, connections: 64) { _ in
            ("POST", "/api/instances", #"{"processId":"bench"}"#)
        }
        let ids = starts.bodies.compactMap(ServeBench.instanceID)
        guard ids.count == count else { throw BenchError("only \(ids.count) of \(count) starts answered 201") }
        startRates.append(Double(count) / starts.seconds)
        startP99.append(starts.p99 * 1000)
        let completes = try client.load(count: count, connections: 64) { index in
            ("POST", "/api/instances/\(ids[index])/tasks/t/complete", #"{"variables":{"ok":true}}"#)
        }
        guard completes.bodies.allSatisfy({ $0 != nil }) else { throw BenchError("a completion failed") }
        completeRates.append(Double(count) / completes.seconds)
        completeP99.append(completes.p99 * 1000)
    }
    // The same operations through the runtime, one after another, on a fresh SQLite store.
    let result = BPMNLoader.load(bytes: Array(ServeBench.model.utf8), file: model)
    guard let process = result.definitions?.process(id: "bench") else { throw BenchError("bench model") }
    var directStarts: [Double] = []
    var directCompletes: [Double] = []
    for round in 0..<rounds {
        let store = try InstanceStore(path: folder.appendingPathComponent("direct-\(round).sqlite").path)
        let runtime = DurableRunner(store: store, handlers: [])
        var ids: [String] = []
        let startTime = try seconds {
            for _ in 0..<count {
                ids.append(
                    try runtime.start(
                        file: model, xml: Array(ServeBench.model.utf8), process: process, context: [:], answers: nil,
                        directory: nil, initiator: "bench"))
            }
        }
        let completeTime = try seconds {
            for id in ids { _ = try runtime.complete(instance: id, task: "t", by: "bench", variables: ["ok": true]) }
        }
        directStarts.append(Double(count) / startTime)
        directCompletes.append(Double(count) / completeTime)
    }
    report(
        "serve-starts", median(startRates), "starts/s", runs: startRates,
        reference: ("the runtime directly", median(directStarts)),
        target: "at least 0.5× of the runtime directly; p99 \(format(median(startP99))) ms over 64 connections")
    report(
        "serve-completions", median(completeRates), "completions/s", runs: completeRates,
        reference: ("the runtime directly", median(directCompletes)),
        target: "at least 0.5× of the runtime directly; p99 \(format(median(completeP99))) ms over 64 connections")
}

/// A small HTTP/1.1 client on plain sockets: keep-alive connections, one thread each.
struct ServeBench: Sendable {
    let port: Int
    let token: String

    static let model = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="bench">
          <process id="bench" isExecutable="true">
            <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
            <userTask id="t" name="Проверить"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
            <endEvent id="e"/>
          </process>
        </definitions>
        """

    static func instanceID(_ body: String?) -> String? {
        guard let body, let range = body.range(of: #""instance":""#) else { return nil }
        let rest = body[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    struct Connection {
        let socket: Int32
        var buffer: [UInt8] = []

        init(port: Int) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw BenchError("cannot connect to 127.0.0.1:\(port)") }
            var one: Int32 = 1
            setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }

        /// Sends one request and reads its response (by Content-Length): status and body.
        mutating func exchange(_ request: [UInt8]) throws -> (status: Int, body: String) {
            var offset = 0
            while offset < request.count {
                let sent = request[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) }
                guard sent > 0 else { throw BenchError("send failed") }
                offset += sent
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                if let end = (0..<max(0, buffer.count - 3)).first(where: {
                    buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10
                }) {
                    let head = String(decoding: buffer[..<end], as: UTF8.self)
                    let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                    var length = 0
                    for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                        length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                    if buffer.count >= end + 4 + length {
                        let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                        buffer.removeFirst(end + 4 + length)
                        return (status, body)
                    }
                }
                let got = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { throw BenchError("the server closed the connection") }
                buffer += chunk[..<got]
            }
        }
    }

    func encode(_ method: String, _ path: String, body: String) -> [UInt8] {
        let bytes = Array(body.utf8)
        return Array(
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n\r\n"
                .utf8) + bytes
    }

    func request(_ method: String, _ path: String, body: String) throws -> (status: Int, body: String) {
        var connection = try Connection(port: port)
        defer { close(connection.socket) }
        return try connection.exchange(encode(method, path, body: body))
    }

    /// `count` requests over `connections` keep-alive connections: the wall time, the 99th
    /// percentile latency, and each 2xx response's body (nil for any other status), by index.
    func load(count: Int, connections: Int, _ make: @escaping @Sendable (Int) -> (String, String, String)) throws -> (
        seconds: Double, p99: Double, bodies: [String?]
    ) {
        let next = Atomic<Int>(0)
        let results = Mutex<(latencies: [Double], bodies: [String?], error: String?)>(
            ([], Array(repeating: nil, count: count), nil))
        let group = DispatchGroup()
        let started = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<connections {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    var connection = try Connection(port: port)
                    defer { close(connection.socket) }
                    while true {
                        let index = next.add(1, ordering: .relaxed).oldValue
                        if index >= count { break }
                        let (method, path, body) = make(index)
                        let before = DispatchTime.now().uptimeNanoseconds
                        let response = try connection.exchange(encode(method, path, body: body))
                        let latency = Double(DispatchTime.now().uptimeNanoseconds - before) / 1e9
                        results.withLock {
                            $0.latencies.append(latency)
                            if (200..<300).contains(response.status) { $0.bodies[index] = response.body }
                        }
                    }
                } catch {
                    results.withLock { $0.error = "\(error)" }
                }
            }
        }
        group.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let (latencies, bodies, failure) = results.withLock { $0 }
        if let failure { throw BenchError(failure) }
        let sorted = latencies.sorted()
        return (elapsed, sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))], bodies)
    }
}
