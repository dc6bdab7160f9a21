import Engine
import Expressions
import Foundation
import ProcessModel
import Values

/// The `email` job type (`<procrun:email>`): sends the node's e-mail through an SMTP server with
/// libcurl. The message is fixed when the node is entered (recipients resolved, templates
/// rendered, the date taken), so every try sends the same bytes under the same `Message-ID`.
public struct SMTPEmailHandler: JobHandler {
    /// `smtp://host:port` or `smtps://…`; it may carry `user:{$secrets.NAME}@` credentials,
    /// whose secret is read from the environment (`PROCRUN_SECRET_NAME`) at send time. nil: no
    /// server was given, and every e-mail fails saying so.
    public var url: String?
    public var from: String
    public var transport: CurlTransport
    public var timeZone: TimeZone
    public var environment: [String: String]
    public var clock: @Sendable () -> Date
    public var type: String { "email" }
    /// Without a server, e-mail jobs wait for a worker that has one.
    public var unavailableReason: String? {
        guard let url else { return "no SMTP server to send e-mails through: give --smtp-url (or PROCRUN_SMTP_URL)" }
        guard MailMessage.isPlainAddress(from) else {
            return "the sender '\(from)' is not an e-mail address (--smtp-from, PROCRUN_SMTP_FROM)"
        }
        if case .failure(let error) = SMTPServer.resolve(url, environment: environment) { return error.message }
        return nil
    }

    public init(
        url: String?, from: String, transport: CurlTransport = .shared, timeZone: TimeZone = .current,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.url = url
        self.from = from
        self.transport = transport
        self.timeZone = timeZone
        self.environment = environment
        self.clock = clock
    }

    /// The e-mail of one execution, as stored with its job.
    struct Letter: Equatable {
        var to: [String]
        var cc: [String]
        var subject: String
        var text: String?
        var html: String?
        var date: Date

        var encoded: [UInt8] {
            var object: JSONObject = [
                "v": 1, "to": .array(to.map(JSONValue.string)), "cc": .array(cc.map(JSONValue.string)),
                "subject": .string(subject), "date": .number(date.timeIntervalSince1970),
            ]
            if let text { object["text"] = .string(text) }
            if let html { object["html"] = .string(html) }
            return Array(JSONWriter.string(.object(object)).utf8)
        }

        /// The stored letter, or the reason it could not be made (`{"v":1,"failed":"…"}`).
        static func decode(_ bytes: [UInt8]) -> Result<Letter, RenderError>? {
            guard case .object(let object)? = try? JSONParser.parse(bytes), object["v"] == 1 else { return nil }
            if case .string(let message)? = object["failed"] { return .failure(RenderError(message: message)) }
            guard case .array(let to)? = object["to"], case .array(let cc)? = object["cc"],
                case .string(let subject)? = object["subject"], case .number(let date)? = object["date"]
            else { return nil }
            return .success(
                Letter(
                    to: to.compactMap(\.stringValue), cc: cc.compactMap(\.stringValue), subject: subject,
                    text: object["text"]?.stringValue, html: object["html"]?.stringValue,
                    date: Date(timeIntervalSince1970: date)))
        }
    }

    public func prepare(_ call: JobCall) -> [UInt8]? {
        switch letter(call) {
        case .success(let letter): letter.encoded
        case .failure(let error): Array(JSONWriter.string(["v": 1, "failed": .string(error.message)]).utf8)
        }
    }

    /// Renders the node's templates against the context and resolves its recipients.
    func letter(_ call: JobCall) -> Result<Letter, RenderError> {
        guard let email = call.integration.config as? EmailConfig else {
            return .failure(RenderError(message: "node '\(call.node.id)' is not a procrun:email"))
        }
        let render = RenderEnvironment(now: clock(), timeZone: timeZone, environment: [:])
        func text(_ template: Template) throws(RenderError) -> String {
            var secrets: [String] = []
            return try RequestBuilder.render(
                template, context: call.context, environment: render, secrets: &secrets, inURL: false)
        }
        func addresses(_ template: Template?) throws(RenderError) -> [String] {
            guard let template else { return [] }
            var list: [String] = []
            for part in try text(template).split(separator: ",") {
                let address = part.trimmingCharacters(in: .whitespaces)
                if address.isEmpty { continue }
                guard MailMessage.isPlainAddress(address) else {
                    throw RenderError(message: "'\(address)' is not an e-mail address (local@domain)")
                }
                if !list.contains(address) { list.append(address) }
            }
            return list
        }
        do {
            var to = try addresses(email.to)
            for user in call.users(email.recipients) {
                // A person without an address in the directory is left out; nobody at all fails below.
                guard let address = call.directory.user(user)?.email?.trimmingCharacters(in: .whitespaces),
                    MailMessage.isPlainAddress(address)
                else { continue }
                if !to.contains(address) { to.append(address) }
            }
            let cc = try addresses(email.cc).filter { !to.contains($0) }
            guard !to.isEmpty else {
                throw RenderError(
                    message:
                        "nobody to send to: the to addresses are empty and no recipient has an e-mail address in the directory"
                )
            }
            let subject = try text(email.subject).replacingOccurrences(of: "\r", with: " ")
                .replacingOccurrences(of: "\n", with: " ")
            return .success(
                Letter(
                    to: to, cc: cc, subject: subject, text: try email.text.map(text), html: try email.html.map(text),
                    date: render.now))
        } catch let error as RenderError {
            return .failure(error)
        } catch {
            return .failure(RenderError(message: "\(error)"))
        }
    }

    public func perform(_ call: JobCall) async -> JobOutcome {
        let letter: Letter
        switch call.prepared.map(Letter.decode) ?? .some(self.letter(call)) {
        case .success(let made)?:
            letter = made
        case .failure(let error)?:
            // A template variable was not set when the node was entered: nothing is sent.
            return .failed(status: nil, message: error.message, retryable: false)
        case nil:
            return .failed(
                status: nil,
                message: "the stored e-mail of this try cannot be read (damaged, or written by a newer procrun)",
                retryable: false)
        }
        guard let template = url, unavailableReason == nil else {
            return .failed(status: nil, message: unavailableReason ?? "", retryable: false)
        }
        // The server's password may be a secret, read now.
        let url: String
        let redactor: Redactor
        switch SMTPServer.resolve(template, environment: environment) {
        case .success(let resolved): (url, redactor) = resolved
        case .failure(let error): return .failed(status: nil, message: error.message, retryable: false)
        }
        let message = MailMessage.build(
            from: from, to: letter.to, cc: letter.cc, subject: letter.subject, text: letter.text, html: letter.html,
            key: call.idempotencyKey, date: letter.date, instance: call.instanceID)
        let request = MailRequest(
            url: url, from: from, to: letter.to + letter.cc, message: message, timeout: call.integration.config.timeout)
        do {
            _ = try await transport.send(mail: request)
            let count = letter.to.count + letter.cc.count
            return .succeeded(
                status: nil, summary: "sent to \(count) \(count == 1 ? "address" : "addresses")",
                variables: JSONObject())
        } catch {
            return .failed(status: nil, message: redactor.redact("SMTP: \(error.message)"), retryable: true)
        }
    }
}

extension MailMessage {
    /// An e-mail of an `email` node: `text` as text/plain, `html` as text/html, both as
    /// multipart/alternative; UTF-8 and base64 throughout, CRLF line ends. The same arguments
    /// give the same bytes (the boundary and `Message-ID` come from `key`).
    public static func build(
        from: String, to: [String], cc: [String], subject: String, text: String?, html: String?, key: String,
        date: Date, instance: String
    ) -> [UInt8] {
        let domain = from.split(separator: "@").last.map(String.init) ?? "procrun"
        var lines = ["From: procrun <\(from)>", addressList("To", to)]
        if !cc.isEmpty { lines.append(addressList("Cc", cc)) }
        lines += [
            "Subject: " + encodedWords(subject, prefix: "Subject: ".count),
            "Date: " + self.date(date),
            "Message-ID: <\(messageIDLeft(key))@\(domain)>",
            "MIME-Version: 1.0",
            "X-Procrun-Instance: \(instance)",
        ]
        func part(_ type: String, _ body: String) -> [String] {
            [
                "Content-Type: \(type); charset=utf-8",
                "Content-Transfer-Encoding: base64",
                "",
            ] + base64Lines(body)
        }
        switch (text, html) {
        case (let text?, let html?):
            // At most 70 characters (RFC 2046), the same for every try.
            let boundary = "procrun-" + String(stableHash(key), radix: 16)
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("--\(boundary)")
            lines += part("text/plain", text)
            lines.append("--\(boundary)")
            lines += part("text/html", html)
            lines.append("--\(boundary)--")
        case (nil, let html?):
            lines += part("text/html", html)
        default:
            lines += part("text/plain", text ?? "")
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// `To: a, b, …` folded before a line would pass 78 characters (a group of many people).
    static func addressList(_ name: String, _ addresses: [String]) -> String {
        var lines: [String] = []
        var line = "\(name):"
        for (index, address) in addresses.enumerated() {
            let piece = " " + address + (index < addresses.count - 1 ? "," : "")
            if line.count + piece.count > 78 && line.count > name.count + 1 {
                lines.append(line)
                line = ""
            }
            line += piece
        }
        lines.append(line)
        return lines.joined(separator: "\r\n")
    }

    /// FNV-1a of the text's UTF-8: the same on every run and machine.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    /// Base64 in lines of 76 characters.
    static func base64Lines(_ text: String) -> [String] {
        let body = Data(text.utf8).base64EncodedString()
        var lines: [String] = []
        var index = body.startIndex
        while index < body.endIndex {
            let end = body.index(index, offsetBy: 76, limitedBy: body.endIndex) ?? body.endIndex
            lines.append(String(body[index..<end]))
            index = end
        }
        return lines
    }

    /// A key as the left part of a `Message-ID` (printable ASCII without specials).
    static func messageIDLeft(_ key: String) -> String {
        key.unicodeScalars.map { scalar -> String in
            let allowed =
                (scalar.value > 32 && scalar.value < 127 && !"<>()[]@,;:\\\" ".unicodeScalars.contains(scalar))
            return allowed ? String(scalar) : "_"
        }.joined()
    }
}

/// `--smtp-url`, whose password may be a secret: `smtp://user:{$secrets.SMTP_PASSWORD}@host:587`.
public enum SMTPServer {
    /// The URL with its secrets read from the environment (`PROCRUN_SECRET_NAME`, percent-encoded),
    /// and what hides them in messages.
    public static func resolve(_ url: String, environment: [String: String]) -> Result<(String, Redactor), RenderError>
    {
        guard url.contains("{$") else { return .success((url, Redactor(secrets: []))) }
        var secrets: [String] = []
        do {
            let template = try Template(url)
            let resolved = try RequestBuilder.render(
                template, context: JSONObject(),
                environment: RenderEnvironment(now: Date(), timeZone: .current, environment: environment),
                secrets: &secrets, inURL: true)
            return .success((resolved, Redactor(secrets: secrets)))
        } catch let error as RenderError {
            return .failure(RenderError(message: "--smtp-url: \(error.message)"))
        } catch {
            return .failure(RenderError(message: "--smtp-url cannot be read: \(error)"))
        }
    }
}
