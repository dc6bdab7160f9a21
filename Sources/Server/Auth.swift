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
        // Written whole to a file of its own, then linked into place, which fails if a key is
        // there already: of two servers starting at once, one's key wins, and nobody ever reads
        // half a key (nor finds an empty one after a crash).
        let temporary = keyFile + ".\(getpid()).\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: bytes, attributes: [.posixPermissions: 0o600])
        else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: keyFile])
        }
        _ = link(temporary, keyFile)
        unlink(temporary)
        guard let data = FileManager.default.contents(atPath: keyFile), data.count == 32 else {
            throw CocoaError(
                .fileReadCorruptFile,
                userInfo: [NSFilePathErrorKey: keyFile, NSLocalizedDescriptionKey: "\(keyFile) is not a 32-byte key"])
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

/// At most `limit` failed logins per user in `window` seconds (in one server process): past
/// it, a login is refused before its password is checked (429), so that guessing is slow
/// whatever the password. A try in flight holds its place while its password is checked, so
/// that many tries sent at once cannot all pass the count.
final class LoginThrottle: Sendable {
    private struct Entry {
        var failures: [Date] = []
        var inFlight = 0
    }

    private let table = Mutex<[String: Entry]>([:])
    let limit: Int
    let window: TimeInterval

    init(limit: Int = 10, window: TimeInterval = 60) {
        self.limit = limit
        self.window = window
    }

    /// Takes a place for a try: nil when the user may try now (then `finish` must follow),
    /// else the seconds until they may.
    func begin(_ user: String, now: Date) -> Int? {
        table.withLock { table in
            // Bounded memory under a flood of made-up names: entries with nothing recent go.
            if table.count > 10_000 {
                table = table.filter {
                    $0.value.inFlight > 0 || $0.value.failures.contains { now.timeIntervalSince($0) < window }
                }
            }
            var entry = table[user] ?? Entry()
            entry.failures.removeAll { now.timeIntervalSince($0) >= window }
            guard entry.failures.count + entry.inFlight < limit else {
                table[user] = entry
                let oldest = entry.failures.first ?? now
                return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
            }
            entry.inFlight += 1
            table[user] = entry
            return nil
        }
    }

    /// Ends a try begun with `begin`: a failure counts for the window, a success forgets them.
    func finish(_ user: String, succeeded: Bool, now: Date) {
        table.withLock { table in
            var entry = table[user] ?? Entry()
            entry.inFlight = max(0, entry.inFlight - 1)
            if succeeded {
                entry.failures.removeAll()
            } else {
                entry.failures.append(now)
            }
            table[user] = entry.failures.isEmpty && entry.inFlight == 0 ? nil : entry
        }
    }
}
