import Crypto
import Foundation
import HummingbirdBcrypt
import Values

/// A person or system that may use the server: its id (as in the directory), roles, password
/// hash (bcrypt) and the SHA-256 hashes of its API tokens. The file never holds a password or
/// a token, only their hashes.
public struct ServerUser: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        case admin, user
    }

    public var id: String
    public var roles: Set<Role>
    public var passwordHash: String?
    public var tokenHashes: [String]

    public var isAdmin: Bool { roles.contains(.admin) }

    public init(id: String, roles: Set<Role>, passwordHash: String? = nil, tokenHashes: [String] = []) {
        self.id = id
        self.roles = roles
        self.passwordHash = passwordHash
        self.tokenHashes = tokenHashes
    }
}

/// `users.json`: `{"users": [{"id", "roles", "passwordHash", "tokens"}]}`. Written whole to a
/// temporary file and renamed over the old one (readers never see half a file), mode 0600.
public struct UserFile: Sendable {
    public let path: String
    public var users: [ServerUser]

    /// The file beside the default store: `.procrun/users.json`.
    public static let defaultPath = ".procrun/users.json"

    public init(path: String, users: [ServerUser] = []) {
        self.path = path
        self.users = users
    }

    /// Reads the file; a missing file is an empty list. A file that is not a user list is an
    /// error at its location.
    public static func read(_ path: String) throws(Diagnostic) -> UserFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw .error(at: SourceLocation(file: path, line: 1, column: 1), "cannot read the users file")
            }
            return UserFile(path: path)
        }
        let bytes = [UInt8](data)
        let document = try JSONParser.parse(bytes, file: path)
        func fail(_ message: String, _ steps: [JSONParser.PathStep]) -> Diagnostic {
            .error(
                at: JSONParser.location(of: steps, in: bytes, file: path)
                    ?? SourceLocation(file: path, line: 1, column: 1), message)
        }
        guard case .array(let list)? = document.objectValue?["users"] else {
            throw fail("a users file is an object with a list \"users\"", [])
        }
        var users: [ServerUser] = []
        for (index, item) in list.enumerated() {
            let at: [JSONParser.PathStep] = ["users", .index(index)]
            guard case .object(let object) = item, case .string(let id)? = object["id"], !id.isEmpty else {
                throw fail("users[\(index)] needs an \"id\"", at)
            }
            var roles: Set<ServerUser.Role> = []
            if case .array(let names)? = object["roles"] {
                for (number, name) in names.enumerated() {
                    guard let role = name.stringValue.flatMap(ServerUser.Role.init(rawValue:)) else {
                        throw fail(
                            "users[\(index)] '\(id)': role \(JSONWriter.string(name)) is not admin or user",
                            at + ["roles", .index(number)])
                    }
                    roles.insert(role)
                }
            }
            if roles.isEmpty { roles = [.user] }
            let tokens = (object["tokens"]?.arrayValue ?? []).compactMap(\.stringValue)
            if users.contains(where: { $0.id == id }) { throw fail("users[\(index)]: '\(id)' is listed twice", at) }
            users.append(
                ServerUser(id: id, roles: roles, passwordHash: object["passwordHash"]?.stringValue, tokenHashes: tokens)
            )
        }
        return UserFile(path: path, users: users)
    }

    public func user(_ id: String) -> ServerUser? { users.first { $0.id == id } }

    /// The user an API token belongs to.
    public func user(token: String) -> ServerUser? {
        let hash = Self.tokenHash(token)
        return users.first { $0.tokenHashes.contains(hash) }
    }

    public var json: JSONValue {
        [
            "users": .array(
                users.map { user in
                    var object: JSONObject = [
                        "id": .string(user.id),
                        "roles": .array(user.roles.map(\.rawValue).sorted().map(JSONValue.string)),
                    ]
                    if let hash = user.passwordHash { object["passwordHash"] = .string(hash) }
                    object["tokens"] = .array(user.tokenHashes.map(JSONValue.string))
                    return .object(object)
                })
        ]
    }

    public func write() throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = path + ".tmp-\(getpid())"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data((JSONWriter.string(json, pretty: true) + "\n").utf8),
                attributes: [.posixPermissions: 0o600])
        else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary])
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CocoaError(
                .fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: reason])
        }
    }

    /// Adds a user or changes one's password and roles.
    public mutating func set(id: String, roles: Set<ServerUser.Role>, password: String, cost: UInt8 = 12) {
        let hash = Self.hash(password, cost: cost)
        if let index = users.firstIndex(where: { $0.id == id }) {
            users[index].roles = roles
            users[index].passwordHash = hash
        } else {
            users.append(ServerUser(id: id, roles: roles, passwordHash: hash))
        }
    }

    /// A new API token for a user: returned once, only its hash is kept.
    public mutating func newToken(for id: String) -> String? {
        guard let index = users.firstIndex(where: { $0.id == id }) else { return nil }
        let token = "prt_" + Self.randomText(bytes: 32)
        users[index].tokenHashes.append(Self.tokenHash(token))
        return token
    }

    static func hash(_ password: String, cost: UInt8 = 12) -> String {
        Bcrypt.hash(password, cost: cost)
    }

    public static func verify(_ password: String, of user: ServerUser) -> Bool {
        guard let hash = user.passwordHash else { return false }
        return Bcrypt.verify(password, hash: hash)
    }

    static func tokenHash(_ token: String) -> String {
        "sha256:" + SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Random bytes from the system's generator, as unpadded base64url text.
    static func randomText(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
