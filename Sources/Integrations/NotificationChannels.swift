import Engine
import Foundation
import Values

/// `--notify-url`: POSTs each notification as one JSON object, with an `Idempotency-Key` that
/// stays the same on every try of that notification.
public struct HTTPNotificationChannel: NotificationChannel {
    public var url: String
    public var transport: CurlTransport
    public var userAgent: String
    public var name: String { "url" }
    public var timeout: Double { 10 }

    public init(url: String, transport: CurlTransport = .shared, userAgent: String) {
        self.url = url
        self.transport = transport
        self.userAgent = userAgent
    }

    /// `{"process", "instance", "node", "user", "name", "email", "message", "subject", "text"}`.
    public static func payload(_ notification: OutgoingNotification) -> JSONValue {
        [
            "process": .string(notification.process), "instance": .string(notification.instance),
            "node": .string(notification.node),
            "user": .string(notification.user), "name": notification.name.map(JSONValue.string) ?? .null,
            "email": notification.email.map(JSONValue.string) ?? .null, "message": .string(notification.message),
            "subject": .string(notification.subject), "text": .string(notification.text),
        ]
    }

    public func send(_ notification: OutgoingNotification) async -> ChannelOutcome {
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [
                ("Content-Type", "application/json"), ("User-Agent", userAgent), ("Idempotency-Key", notification.key),
            ],
            body: Array(JSONWriter.string(HTTPNotificationChannel.payload(notification)).utf8), timeout: timeout,
            maxResponseBytes: 1 << 20)
        do {
            let response = try await transport.send(request)
            return (200..<300).contains(response.status)
                ? .sent : .failed("HTTP \(response.status) from the notify URL")
        } catch {
            return .failed("notify URL: \(error.message)")
        }
    }
}

/// `--smtp-url`: e-mails each notification to the person's directory `email`.
public struct SMTPNotificationChannel: NotificationChannel {
    /// It may carry a secret password: `smtp://user:{$secrets.SMTP_PASSWORD}@host:587`.
    public var url: String
    public var from: String
    public var transport: CurlTransport
    public var environment: [String: String]
    public var name: String { "email" }
    public var timeout: Double { 20 }

    public init(
        url: String, from: String, transport: CurlTransport = .shared,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.url = url
        self.from = from
        self.transport = transport
        self.environment = environment
    }

    public func send(_ notification: OutgoingNotification) async -> ChannelOutcome {
        guard let email = notification.email?.trimmingCharacters(in: .whitespaces), !email.isEmpty else {
            return .undeliverable("user '\(notification.user)' has no e-mail address in the directory")
        }
        guard MailMessage.isPlainAddress(email) else {
            return .undeliverable(
                "user '\(notification.user)' has an e-mail address procrun cannot send to: '\(email)'")
        }
        let message = MailMessage.build(notification, from: from, to: email)
        let (url, redactor): (String, Redactor)
        switch SMTPServer.resolve(self.url, environment: environment) {
        case .success(let resolved): (url, redactor) = resolved
        case .failure(let error): return .failed(error.message)
        }
        do {
            _ = try await transport.send(
                mail: MailRequest(url: url, from: from, to: [email], message: message, timeout: timeout))
            return .sent
        } catch {
            return .failed(redactor.redact("SMTP: \(error.message)"))
        }
    }
}

/// An RFC 5322 message with a MIME text/plain body: UTF-8, base64, CRLF line ends.
public enum MailMessage {
    /// `local@domain`, printable ASCII with no spaces or angle brackets: what goes into the
    /// SMTP envelope and the To header as is.
    public static func isPlainAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return false }
        return address.unicodeScalars.allSatisfy {
            $0.value > 32 && $0.value < 127 && !"<>()[],;:\\\"".unicodeScalars.contains($0)
        }
    }

    public static func build(_ notification: OutgoingNotification, from: String, to: String) -> [UInt8] {
        let domain = from.split(separator: "@").last.map(String.init) ?? "procrun"
        let idLeft = messageIDLeft(notification.key)
        var lines = [
            "From: procrun <\(from)>",
            "To: " + (notification.name.map { "\(phrase($0)) " } ?? "") + "<\(to)>",
            "Subject: " + encodedWords(notification.subject, prefix: "Subject: ".count),
            "Date: " + date(notification.createdAt),
            "Message-ID: <\(idLeft)@\(domain)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "X-Procrun-Instance: \(notification.instance)",
            "",
        ]
        lines += base64Lines(notification.text)
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// A display name: as it is when plain ASCII letters, digits and spaces; a quoted string when
    /// other printable ASCII (a comma or `<` would otherwise make more mailboxes); else RFC 2047.
    static func phrase(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({
            $0.isASCII && ($0.properties.isAlphabetic || $0 == " " || ("0"..."9").contains($0))
        }) {
            return text
        }
        if text.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value < 127 }) {
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + "\""
        }
        return encodedWords(text, prefix: "To: ".count)
    }

    /// RFC 2047 `=?UTF-8?B?…?=` words when the text is not plain ASCII, each at most 75
    /// characters and never splitting a character; folded with CRLF and a space.
    public static func encodedWords(_ text: String, prefix: Int) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 }
        if plain && text.count + prefix <= 78 { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        // 75 - "=?UTF-8?B?".count - "?=".count = 63 base64 characters: 45 bytes of UTF-8; the
        // first word shares its line of at most 78 characters with the header's name.
        var limit = min(45, (78 - prefix - 12) / 4 * 3)
        for character in text {
            let bytes = Array(String(character).utf8).filter { $0 != 13 && $0 != 10 }
            if chunk.count + bytes.count > limit, !chunk.isEmpty {
                limit = 45
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// RFC 5322 `Date`: `Wed, 02 Dec 2026 04:38:33 +0000`.
    static func date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String { String(format: "%02d", n ?? 0) }
        return
            "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }
}
