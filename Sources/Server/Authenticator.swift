import Foundation
import Hummingbird
import Logging
import NIOPosix
import Synchronization
import Values

/// Finds who a request comes from (an API token, else a session cookie) and logs people in.
/// The users file is read again when it changes, so `procrun users add` and `users token`
/// take effect without a restart.
public final class Authenticator: Sendable {
    let usersPath: String
    let signer: SessionSigner
    let throttle = LoginThrottle()
    private let cache = Mutex<(modified: Date?, size: Int, file: UserFile)?>(nil)

    public init(usersPath: String) throws {
        self.usersPath = usersPath
        signer = try SessionSigner(
            keyFile: (URL(fileURLWithPath: usersPath).deletingLastPathComponent().path as NSString)
                .appendingPathComponent("session.key"))
        _ = try users()
    }

    /// The users file as it is now (read again when its time or size changed).
    func users() throws(Diagnostic) -> UserFile {
        let attributes = try? FileManager.default.attributesOfItem(atPath: usersPath)
        let modified = attributes?[.modificationDate] as? Date
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
        if let cached = cache.withLock({ $0 }), cached.modified == modified, cached.size == size {
            return cached.file
        }
        let file = try UserFile.read(usersPath)
        cache.withLock { $0 = (modified, size, file) }
        return file
    }

    /// The principal of a request, or nil.
    func principal(of request: Request) -> Principal? {
        guard let file = try? users() else { return nil }
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer",
                let user = file.user(token: String(parts[1]).trimmingCharacters(in: .whitespaces))
            else { return nil }
            return Principal(id: user.id, isAdmin: user.isAdmin)
        }
        if let cookie = request.cookies[SessionSigner.cookieName],
            let id = signer.user(fromCookie: cookie.value, now: Date()), let user = file.user(id)
        {
            return Principal(id: user.id, isAdmin: user.isAdmin)
        }
        return nil
    }

    /// Checks a password (bcrypt, off the event loops) unless the user failed too often lately.
    func login(user id: String, password: String) async throws -> Principal {
        if let wait = throttle.begin(id, now: Date()) {
            var refusal = APIError(
                .tooManyRequests, "throttled",
                "too many failed logins for '\(id)': try again in \(wait) s")
            refusal.retryAfter = wait
            throw refusal
        }
        var succeeded = false
        defer { throttle.finish(id, succeeded: succeeded, now: Date()) }
        let file: UserFile
        do {
            file = try users()
        } catch {
            Logger(label: "procrun.serve").error("the users file cannot be read: \(error)")
            throw APIError(
                .serviceUnavailable, "users_unavailable", "logging in is not possible now; the server's log says why")
        }
        let user = file.user(id)
        let valid = try await NIOThreadPool.singleton.runIfActive {
            // An unknown user costs a hash too, so that timing does not tell who exists.
            user.map { UserFile.verify(password, of: $0) } ?? UserFile.verify(password, of: Self.decoy)
        }
        guard valid, let user else {
            throw APIError(.unauthorized, "bad_credentials", "unknown user or wrong password")
        }
        succeeded = true
        return Principal(id: user.id, isAdmin: user.isAdmin)
    }

    func sessionCookie(for user: String) -> Cookie {
        Cookie(
            name: SessionSigner.cookieName, value: signer.cookie(for: user, now: Date()),
            maxAge: Int(SessionSigner.lifetime), path: "/", httpOnly: true, sameSite: .lax)
    }

    static let logoutCookie = Cookie(
        name: SessionSigner.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax)

    /// A user nobody logs in as, whose hash an unknown name is checked against.
    static let decoy = ServerUser(id: "", roles: [], passwordHash: UserFile.hash(UUID().uuidString))
}

/// Puts the principal on the context (handlers ask for a user). Refuses one thing itself: a
/// request that changes something, sent by a browser from another site (its `Origin` or
/// `Sec-Fetch-Site` says so) with the session cookie, or to log in: the cookie is SameSite=Lax,
/// and this closes what Lax leaves open (another port or subdomain of the same site).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.principal = authenticator.principal(of: request)
        let unsafe = ![.get, .head, .options].contains(request.method)
        let byCookie = request.headers[.authorization] == nil && request.headers[.cookie] != nil
        let login = request.uri.path == "/login" || request.uri.path == "/api/login"
        if unsafe && (byCookie || login) && Self.isCrossSite(request) {
            let refusal = APIError.forbidden("a request from another site is refused")
            return request.uri.path.hasPrefix("/api/")
                ? Reply.json(refusal.json, status: .forbidden) : Reply.html(refusal.message, status: .forbidden)
        }
        return try await next(request, context)
    }

    static func isCrossSite(_ request: Request) -> Bool {
        if let site = request.headers.first(where: { $0.name.canonicalName == "sec-fetch-site" })?.value,
            site != "same-origin", site != "none"
        {
            return true
        }
        guard let origin = request.headers[.origin] else { return false }
        if origin == "null" { return true }
        guard let host = request.head.authority else { return true }
        return origin != "http://\(host)" && origin != "https://\(host)"
    }
}
