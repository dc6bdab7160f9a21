import Crypto
import Foundation
import Synchronization

/// Who makes a request: a user of the users file, by an API token or a session cookie.
public struct Principal: Sendable, Equatable {
    public var id: String
    public var isAdmin: Bool
}

/// Signed session cookies: `user.expiry.signature`, HMAC-SHA256 under a key kept in a file
/// beside the users file, so that every `serve` process sharing it accepts the same sessions.
struct SessionSigner: Sendable {
    let key: SymmetricKey
    static let cookieName = "procrun_session"
    static let lifetime: TimeInterval = 12 * 3600

    /// The key file's 32 bytes, made (mode 0600) when there is none.
    init(keyFile: String) throws {
        if let data = FileManager.default.contents(atPath: keyFile), data.count == 32 {
            key = SymmetricKey(data: data)
            return
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: keyFile).deletingLastPathComponent(), withIntermediateDirectories: true)
        // Exclusive creation: of two servers starting at once, one writes the key, both read it.
        let descriptor = open(keyFile, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if descriptor >= 0 {
            _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, 32) }
            close(descriptor)
        }
        guard let data = FileManager.default.contents(atPath: keyFile), data.count == 32 else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: keyFile])
        }
        key = SymmetricKey(data: data)
    }

    func cookie(for user: String, now: Date) -> String {
        let body = "\(Data(user.utf8).base64EncodedString()).\(Int(now.timeIntervalSince1970 + Self.lifetime))"
        return body + "." + signature(body)
    }

    /// The user a cookie names, if its signature holds and it has not expired.
    func user(fromCookie value: String, now: Date) -> String? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Double(parts[1]), expiry > now.timeIntervalSince1970,
            let data = Data(base64Encoded: String(parts[0])), let user = String(data: data, encoding: .utf8)
        else { return nil }
        let body = "\(parts[0]).\(parts[1])"
        guard let given = Data(hexText: String(parts[2])) else { return nil }
        // Constant time: HMAC's own comparison.
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(body.utf8), using: key) ? user : nil
    }

    private func signature(_ body: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }
}

extension Data {
    init?(hexText: String) {
        let bytes = Array(hexText.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        var data = Data(capacity: bytes.count / 2)
        var index = 0
        while index < bytes.count {
            guard let high = Self.nibble(bytes[index]), let low = Self.nibble(bytes[index + 1]) else { return nil }
            data.append(high << 4 | low)
            index += 2
        }
        self = data
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// At most `limit` failed logins per user in `window` seconds: past it, a login is refused
/// before its password is checked (429), so that guessing is slow whatever the password.
final class LoginThrottle: Sendable {
    private let failures = Mutex<[String: [Date]]>([:])
    let limit: Int
    let window: TimeInterval

    init(limit: Int = 10, window: TimeInterval = 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until the user may try again, or nil when they may now.
    func retryAfter(_ user: String, now: Date) -> Int? {
        failures.withLock { table in
            let recent = (table[user] ?? []).filter { now.timeIntervalSince($0) < window }
            table[user] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    func failed(_ user: String, now: Date) {
        failures.withLock { table in
            // Bounded memory under a flood of made-up names: forget the oldest entries.
            if table.count > 10_000 { table.removeAll() }
            table[user, default: []].append(now)
        }
    }

    func succeeded(_ user: String) {
        _ = failures.withLock { $0.removeValue(forKey: user) }
    }
}
