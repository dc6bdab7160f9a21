import CCurl
import Foundation
import ProcessModel

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Seconds for the whole try.
    public var timeout: Double
    /// Seconds to establish the connection.
    public var connectTimeout: Double
    /// The largest reply body accepted; past it the transfer is aborted and fails.
    public var maxResponseBytes: Int

    public init(
        method: String, url: String, headers: [(name: String, value: String)], body: [UInt8]?, timeout: Double,
        connectTimeout: Double = 10,
        maxResponseBytes: Int = WebhookConfig.defaultMaxResponseBytes
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = min(connectTimeout, timeout)
        self.maxResponseBytes = max(0, maxResponseBytes)
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// One e-mail for an SMTP server: the envelope (`from`, `to`) and the RFC 5322 message.
public struct MailRequest: Sendable {
    /// `smtp://host:port` (or `smtps://`).
    public var url: String
    public var from: String
    public var to: [String]
    /// The whole message, headers and body, with CRLF line ends; libcurl dot-stuffs it.
    public var message: [UInt8]
    public var timeout: Double

    public init(url: String, from: String, to: [String], message: [UInt8], timeout: Double = 30) {
        self.url = url
        self.from = from
        self.to = to
        self.message = message
        self.timeout = timeout
    }
}

/// A transfer that failed: refused, timed out, TLS, DNS (before an HTTP status arrived), or a
/// reply larger than the request allows (`status` is then the status that had arrived).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var status: Int?
    public init(message: String, status: Int? = nil) {
        self.message = message
        self.status = status
    }
    public var description: String { message }

    /// The message of a reply cut off at the cap.
    public static func replyTooLarge(_ limit: Int) -> String { "reply larger than maxResponseBytes (\(limit) bytes)" }
}

/// HTTP over libcurl's multi interface. One dedicated thread owns the multi handle and drives
/// every transfer; callers suspend on a continuation, so the cooperative thread pool is never
/// blocked, many requests are in flight at once, and connections are reused.
public final class CurlTransport: Sendable {
    public static let shared = CurlTransport()

    /// libcurl is loaded here, on first use (see CCurl): nil when it cannot be.
    private static let globalInit: Bool = {
        guard procrun_curl_load() == 0 else { return false }
        return procrun_curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    private let loop: MultiLoop?

    public init() {
        guard CurlTransport.globalInit else {
            loop = nil
            return
        }
        let loop = MultiLoop()
        self.loop = loop
        let thread = Thread { loop.run() }
        thread.name = "procrun.curl"
        thread.start()
    }

    public func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse {
        try await perform { continuation throws(TransportError) in
            try Transfer(request: request, continuation: continuation)
        }
    }

    /// Sends an e-mail over SMTP on the same curl thread; `status` is the server's last reply code (250).
    public func send(mail: MailRequest) async throws(TransportError) -> HTTPResponse {
        try await perform { continuation throws(TransportError) in try Transfer(mail: mail, continuation: continuation)
        }
    }

    private func perform(
        _ make: (CheckedContinuation<Result<HTTPResponse, TransportError>, Never>) throws(TransportError) -> Transfer
    ) async throws(TransportError) -> HTTPResponse {
        guard let loop else { throw TransportError(message: String(cString: procrun_curl_load_error())) }
        let result: Result<HTTPResponse, TransportError> = await withCheckedContinuation { continuation in
            do {
                let transfer = try make(continuation)
                loop.submit(transfer)
            } catch let error as TransportError {
                continuation.resume(returning: .failure(error))
            } catch {
                continuation.resume(returning: .failure(TransportError(message: "\(error)")))
            }
        }
        return try result.get()
    }
}

/// One request in flight. Owned by the caller until submitted, then by the curl thread alone:
/// that hand-over is why it may be `@unchecked Sendable`.
final class Transfer: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private let continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    let maxResponseBytes: Int
    /// Set by the write callback when the body would pass `maxResponseBytes`.
    var tooLarge = false
    /// What an upload (an e-mail) sends, and how much of it the read callback has handed over.
    var upload: [UInt8] = []
    var uploaded = 0

    /// An e-mail: MAIL FROM, one RCPT TO per recipient, then the message as DATA.
    init(mail: MailRequest, continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>)
        throws(TransportError)
    {
        guard let handle = procrun_curl_easy_init() else {
            throw TransportError(message: "cannot create a curl handle")
        }
        self.handle = handle
        self.continuation = continuation
        maxResponseBytes = 0
        upload = mail.message
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        procrun_curl_setopt_string(handle, CURLOPT_URL, mail.url)
        procrun_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        procrun_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        procrun_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(mail.timeout * 1000))
        procrun_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(min(10, mail.timeout) * 1000))
        procrun_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        procrun_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(mail.from)>")
        var list: UnsafeMutablePointer<curl_slist>?
        for recipient in mail.to { list = procrun_curl_slist_append(list, "<\(recipient)>") }
        headerList = list
        procrun_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list)
        // Whatever the server might send as data is dropped (libcurl would print it otherwise).
        procrun_curl_setopt_write(handle, { _, size, count, _ in size * count }, nil)
        procrun_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
        procrun_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(mail.message.count))
        let context = Unmanaged.passUnretained(self).toOpaque()
        procrun_curl_setopt_read(
            handle,
            { buffer, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                let room = size * count
                let chunk = min(room, transfer.upload.count - transfer.uploaded)
                guard chunk > 0, let buffer else { return 0 }
                transfer.upload.withUnsafeBytes { bytes in
                    UnsafeMutableRawPointer(buffer).copyMemory(
                        from: bytes.baseAddress! + transfer.uploaded, byteCount: chunk)
                }
                transfer.uploaded += chunk
                return chunk
            }, context)
    }

    init(request: HTTPRequest, continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>)
        throws(TransportError)
    {
        guard let handle = procrun_curl_easy_init() else {
            throw TransportError(message: "cannot create a curl handle")
        }
        self.handle = handle
        self.continuation = continuation
        maxResponseBytes = request.maxResponseBytes
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        procrun_curl_setopt_string(handle, CURLOPT_URL, request.url)
        procrun_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        procrun_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        procrun_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        procrun_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        procrun_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        procrun_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        // An early refusal when the reply announces its length; the write callback enforces the
        // cap on every reply, announced or not (chunked).
        procrun_curl_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes))
        if request.method == "GET" {
            procrun_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        } else {
            let body = request.body ?? []
            procrun_curl_setopt_long(handle, CURLOPT_POST, 1)
            procrun_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies: the Swift buffer need not outlive this call.
                let pointer = UnsafeMutableRawPointer(
                    mutating: bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start))
                _ = procrun_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, pointer)
            }
            if request.method != "POST" { procrun_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method) }
        }
        // An empty Expect: stops curl from waiting for "100 Continue" on larger bodies.
        var list: UnsafeMutablePointer<curl_slist>? = procrun_curl_slist_append(nil, "Expect:")
        for header in request.headers {
            list = procrun_curl_slist_append(list, "\(header.name): \(header.value)")
        }
        headerList = list
        procrun_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        let context = Unmanaged.passUnretained(self).toOpaque()
        procrun_curl_setopt_write(
            handle,
            { data, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                let bytes = size * count
                guard transfer.body.count + bytes <= transfer.maxResponseBytes else {
                    // Any count other than `bytes` makes libcurl abort the transfer (CURLE_WRITE_ERROR):
                    // nothing more is received, so memory stays bounded by the cap.
                    transfer.tooLarge = true
                    return 0
                }
                if let data { transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: bytes)) }
                return bytes
            }, context)
        procrun_curl_setopt_header(
            handle,
            { data, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                let bytes = size * count
                if let data {
                    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: bytes), as: UTF8.self)
                    if line.hasPrefix("HTTP/") {
                        transfer.headers.removeAll()
                    } else if let colon = line.firstIndex(of: ":") {
                        let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
                        let value = String(line[line.index(after: colon)...]).trimmingCharacters(
                            in: .whitespacesAndNewlines)
                        transfer.headers.append((name, value))
                    }
                }
                return bytes
            }, context)
    }

    /// Called once, on the curl thread, when the transfer is done.
    func finish(_ code: CURLcode) {
        var status = 0
        procrun_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        if code == CURLE_OK {
            continuation.resume(returning: .success(HTTPResponse(status: status, headers: headers, body: body)))
        } else if tooLarge || code == CURLE_FILESIZE_EXCEEDED {
            continuation.resume(
                returning: .failure(
                    TransportError(
                        message: TransportError.replyTooLarge(maxResponseBytes), status: status == 0 ? nil : status)))
        } else {
            var detail = String(cString: errorBuffer)
            if detail.isEmpty { detail = String(cString: procrun_curl_easy_strerror(code)) }
            continuation.resume(returning: .failure(TransportError(message: detail)))
        }
    }

    deinit {
        procrun_curl_easy_cleanup(handle)
        procrun_curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }
}

/// The curl thread: adds submitted transfers, drives them, and completes finished ones.
final class MultiLoop: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var pending: [Transfer] = []
    /// Only touched on the curl thread.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    init() {
        multi = procrun_curl_multi_init()
        procrun_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
    }

    func submit(_ transfer: Transfer) {
        lock.withLock { pending.append(transfer) }
        procrun_curl_multi_wakeup(multi)
    }

    func run() {
        var running: Int32 = 0
        while true {
            let submitted = lock.withLock {
                let batch = pending
                pending.removeAll()
                return batch
            }
            for transfer in submitted {
                active[transfer.handle] = transfer
                procrun_curl_multi_add_handle(multi, transfer.handle)
            }
            procrun_curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = procrun_curl_multi_info_read(multi, &left) {
                guard procrun_curl_msg_done(message) != 0, let easy = message.pointee.easy_handle else { continue }
                let code = procrun_curl_msg_result(message)
                procrun_curl_multi_remove_handle(multi, easy)
                if let transfer = active.removeValue(forKey: easy) { transfer.finish(code) }
            }
            procrun_curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}
