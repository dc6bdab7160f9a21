import Foundation
import Values

/// Headless Chromium driven over the DevTools protocol: a WebSocket client on a plain socket
/// (no library), enough to open pages, run a line of JavaScript and take screenshots.
final class Browser {
    let process = Process()
    let profile: URL
    private var socket: Int32 = -1
    private var nextID = 0
    private var pending: [JSONObject] = []

    /// Starts Chromium with a phone-sized window and connects to its first tab.
    init(width: Int = 390, height: Int = 844) throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let log = profile.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        process.arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "--window-size=\(width),\(height)",
            "--lang=ru", "about:blank",
        ]
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var port: Int?
        let deadline = Date().addingTimeInterval(30)
        while port == nil && Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"ws://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last!)
            } else {
                usleep(50_000)
            }
        }
        guard let port else {
            throw BrowserError("Chromium did not start: \(try String(contentsOf: log, encoding: .utf8))")
        }
        // The first tab's WebSocket, from the DevTools HTTP endpoint.
        let list = try Self.get(port: port, path: "/json/list")
        guard
            let target = (try JSONParser.parse(list, file: "json/list")).arrayValue?.first(where: {
                $0.objectValue?["type"] == "page"
            })?.objectValue?["webSocketDebuggerUrl"]?.stringValue, let path = URL(string: target)?.path
        else { throw BrowserError("no page target") }
        try connect(port: port, path: path)
        _ = try call("Page.enable")
        _ = try call("Runtime.enable")
        _ = try call(
            "Emulation.setDeviceMetricsOverride",
            [
                "width": .number(Double(width)), "height": .number(Double(height)), "deviceScaleFactor": 1,
                "mobile": true,
            ])
    }

    deinit {
        if socket >= 0 { close(socket) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: profile)
    }

    struct BrowserError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Opens a URL and waits for its load event.
    func open(_ url: String) throws {
        _ = try call("Page.navigate", ["url": .string(url)])
        try waitForLoad()
    }

    /// Runs JavaScript in the page; its value (JSON), or the exception's text thrown.
    @discardableResult
    func evaluate(_ script: String) throws -> JSONValue {
        let result = try call("Runtime.evaluate", ["expression": .string(script), "returnByValue": true])
        if let exception = result["exceptionDetails"]?.objectValue {
            throw BrowserError("JavaScript failed: \(JSONWriter.string(.object(exception)))")
        }
        return result["result"]?.objectValue?["value"] ?? .null
    }

    /// Runs JavaScript that submits a form or follows a link, and waits for the next page.
    func submit(_ script: String) throws {
        try evaluate(script)
        try waitForLoad()
    }

    var text: String { (try? evaluate("document.body.innerText").stringValue) ?? "" }
    var location: String { (try? evaluate("location.pathname").stringValue) ?? "" }

    /// A PNG of the whole page, saved at `path`.
    func screenshot(_ path: String) throws {
        let result = try call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
        guard let data = result["data"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
            throw BrowserError("no screenshot")
        }
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    // MARK: The protocol

    func call(_ method: String, _ params: JSONObject = [:]) throws -> JSONObject {
        nextID += 1
        let id = nextID
        try send(JSONWriter.string(["id": .number(Double(id)), "method": .string(method), "params": .object(params)]))
        while true {
            let message = try receive()
            if message["id"] == .number(Double(id)) {
                if let error = message["error"] { throw BrowserError("\(method): \(JSONWriter.string(error))") }
                return message["result"]?.objectValue ?? [:]
            }
            pending.append(message)
        }
    }

    func waitForLoad() throws {
        if let index = pending.firstIndex(where: { $0["method"] == "Page.loadEventFired" }) {
            pending.removeSubrange(...index)
            return
        }
        pending.removeAll()
        while try receive()["method"] != "Page.loadEventFired" {}
    }

    /// An HTTP GET of the DevTools endpoint: its body (by its Content-Length: the endpoint keeps
    /// the connection open, and does not answer HTTP/1.0).
    static func get(port: Int, path: String) throws -> [UInt8] {
        let connection = try open(port: port)
        defer { close(connection) }
        try write(
            Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8), to: connection)
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func headerEnd() -> Int? {
            (0..<max(0, response.count - 3)).first { response[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }
        }
        var bodyLength: Int?
        while true {
            if let end = headerEnd() {
                if bodyLength == nil {
                    let header = String(decoding: response[..<end], as: UTF8.self).lowercased()
                    guard let range = header.range(of: #"content-length:\s*\d+"#, options: .regularExpression) else {
                        throw BrowserError("DevTools answered without a length")
                    }
                    bodyLength = Int(header[range].split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
                }
                if response.count - end - 4 >= bodyLength ?? 0 { return Array(response[(end + 4)...]) }
            }
            let got = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { throw BrowserError("no HTTP answer from DevTools") }
            response += buffer[..<got]
        }
    }

    /// A TCP connection to 127.0.0.1, reads bounded by 30 s.
    static func open(port: Int) throws -> Int32 {
        let connection = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(connection, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(connection)
            throw BrowserError("cannot connect to DevTools on port \(port)")
        }
        // No read waits longer than 30 s: a page that never loads fails the test, it does not hang it.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return connection
    }

    static func write(_ bytes: [UInt8], to connection: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, 0) }
            guard sent > 0 else { throw BrowserError("DevTools write failed") }
            offset += sent
        }
    }

    // MARK: WebSocket (RFC 6455), client side

    private func connect(port: Int, path: String) throws {
        socket = try Self.open(port: port)
        try write(
            Array(
                "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: cHJvY3J1bi1icm93c2VyLXQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"
                    .utf8))
        var header: [UInt8] = []
        while !header.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) { header += try read(1) }
        guard String(decoding: header, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw BrowserError("WebSocket refused: \(String(decoding: header, as: UTF8.self))")
        }
    }

    private func send(_ text: String) throws {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        frame += mask
        for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index % 4]) }
        try write(frame)
    }

    /// The next whole text message (continuation frames joined; pings answered).
    private func receive() throws -> JSONObject {
        var message: [UInt8] = []
        while true {
            let head = try read(2)
            var length = Int(head[1] & 0x7F)
            if length == 126 {
                let bytes = try read(2)
                length = Int(bytes[0]) << 8 | Int(bytes[1])
            } else if length == 127 {
                length = try read(8).reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try read(length)
            let opcode = head[0] & 0x0F
            if opcode == 0x9 {  // ping
                continue
            }
            if opcode == 0x8 { throw BrowserError("DevTools closed the connection") }
            message += payload
            if head[0] & 0x80 != 0 { break }
        }
        guard case .object(let object) = try JSONParser.parse(message, file: "devtools") else {
            throw BrowserError("not a DevTools message")
        }
        return object
    }

    private func write(_ bytes: [UInt8]) throws {
        try Self.write(bytes, to: socket)
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = bytes[offset...].withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { throw BrowserError("DevTools read failed or timed out") }
            offset += got
        }
        return bytes
    }
}
