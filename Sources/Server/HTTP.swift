import Foundation
import Hummingbird
import Logging
import NIOCore
import Runtime
import Values

/// A refusal the API answers with: an HTTP status and `{"error": {"code", "message", "field"}}`.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    /// Seconds to wait (429), sent as `Retry-After`.
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, "invalid_request", message, field: field)
    }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static let unauthenticated = APIError(
        .unauthorized, "unauthenticated", "log in, or send Authorization: Bearer TOKEN (procrun users token ID)")

    var json: JSONValue {
        var error: JSONObject = ["code": .string(code), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        return ["error": .object(error)]
    }

    /// A store error as the API says it: 404, 409 or 503 (without the store's file name).
    init(_ error: StoreError) {
        if case .noSuchInstance(let id, _, _) = error {
            self.init(.notFound, "not_found", "no instance '\(id)'")
            return
        }
        switch error.kind {
        case .notFound: self.init(.notFound, "not_found", error.message)
        case .conflict: self.init(.conflict, "conflict", error.message)
        case .unavailable: self.init(.serviceUnavailable, "store_unavailable", error.message)
        }
    }
}

/// Who a request comes from, found by the authentication middleware.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }

    /// The principal, or 401.
    func user() throws -> Principal {
        guard let principal else { throw APIError.unauthenticated }
        return principal
    }

    /// A path parameter, percent-decoded (a task named «Принять заказ» arrives encoded).
    func parameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    func admin() throws -> Principal {
        let user = try user()
        guard user.isAdmin else { throw APIError.forbidden("only administrators may do this") }
        return user
    }
}

enum Reply {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: JSONWriter.string(value) + "\n")))
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Turns every error into an answer: API errors and store errors as JSON under `/api` (HTML
/// elsewhere), an oversized body as 413; anything unexpected is logged and answered 500
/// without details.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let refusal: APIError
            switch error {
            case let error as APIError: refusal = error
            case let error as StoreError: refusal = APIError(error)
            case let error as any HTTPResponseError:
                refusal =
                    error.status == .contentTooLarge
                    ? APIError(.contentTooLarge, "too_large", "the request body is larger than the server accepts")
                    : APIError(error.status, "http_error", error.status.reasonPhrase)
            default:
                context.logger.error("unexpected error: \(error)", metadata: ["path": "\(request.uri.path)"])
                refusal = APIError(.internalServerError, "internal", "internal error; the server's log has the details")
            }
            if request.uri.path.hasPrefix("/api/") || request.uri.path == "/api" {
                var response = Reply.json(refusal.json, status: refusal.status)
                if refusal.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
                if let retryAfter = refusal.retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
                return response
            }
            if refusal.status == .unauthorized { return .redirect(to: "/login") }
            return Reply.html(
                Page.layout(
                    title: refusal.status.reasonPhrase, user: context.principal,
                    body: "<p class=\"error\">\(Page.escape(refusal.message))</p><p><a href=\"/\">Back</a></p>"),
                status: refusal.status)
        }
    }
}

/// The API's routes, read from its OpenAPI document: a known path asked with a method it does
/// not have gets 405 with `Allow`, not 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let routes: [(segments: [Substring], methods: [String])]

    init(document: String) {
        var routes: [(segments: [Substring], methods: [String])] = []
        if case .object(let paths)? = (try? JSONParser.parse(document, file: "openapi.json"))?.objectValue?["paths"] {
            for (path, item) in paths {
                let methods = (item.objectValue?.keys.map { $0.uppercased() } ?? []).sorted()
                routes.append((path.split(separator: "/"), methods))
            }
        }
        self.routes = routes
    }

    func allowed(_ path: String) -> [String]? {
        let segments = path.split(separator: "/")
        return routes.first { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { $0.first == "{" || $0 == $1 }
        }?.methods
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound {
            guard let methods = allowed(request.uri.path), !methods.contains(request.method.rawValue) else {
                throw error
            }
            var response = Reply.json(
                APIError(
                    .methodNotAllowed, "method_not_allowed",
                    "\(request.method.rawValue) is not allowed here (allowed: \(methods.joined(separator: ", ")))"
                ).json, status: .methodNotAllowed)
            response.headers[.allow] = methods.joined(separator: ", ")
            return response
        }
    }
}

/// One log line per request: method, path, status, duration, user; counted for `/metrics`.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let metrics: Metrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.inSeconds * 1000
        metrics.increment(
            "procrun_http_requests_total", "method=\"\(request.method.rawValue)\",status=\"\(response.status.code)\"")
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)",
                "status": "\(response.status.code)", "ms": "\(String(format: "%.1f", milliseconds))",
                "user": "\(context.principal?.id ?? "-")",
            ])
        return response
    }
}

extension Request {
    /// The body, at most `limit` bytes (413 beyond).
    mutating func bytes(limit: Int) async throws -> [UInt8] {
        let buffer = try await collectBody(upTo: limit)
        return Array(buffer.readableBytesView)
    }

    /// The body as a JSON object (400 naming the problem otherwise); an empty body is `{}`.
    mutating func jsonObject(limit: Int) async throws -> JSONObject {
        let bytes = try await bytes(limit: limit)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return JSONObject() }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes, file: "body")
        } catch {
            throw APIError.badRequest(
                "the body is not JSON: \(error.message) (\(error.location.map { "line \($0.line), column \($0.column)" } ?? ""))"
            )
        }
        guard case .object(let object) = value else { throw APIError.badRequest("the body must be a JSON object") }
        return object
    }

    func query(_ name: String) -> String? {
        uri.queryParameters.get(name)
    }
}

/// Typed reads of a JSON body's fields: a wrong type is a 400 naming the field.
struct Fields {
    let object: JSONObject
    let allowed: Set<String>

    init(_ object: JSONObject, allowed: Set<String>) throws {
        self.object = object
        self.allowed = allowed
        if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest(
                "unknown field '\(unknown)' (known: \(allowed.sorted().joined(separator: ", ")))", field: unknown)
        }
    }

    func string(_ name: String, required: Bool = false) throws -> String? {
        switch object[name] {
        case nil, .null?:
            if required { throw APIError.badRequest("'\(name)' is required", field: name) }
            return nil
        case .string(let text)?:
            if required && text.isEmpty { throw APIError.badRequest("'\(name)' must not be empty", field: name) }
            return text
        case .number(let number)? where name == "correlationKey" || name == "businessKey":
            return JSONWriter.number(number)
        default:
            throw APIError.badRequest("'\(name)' must be a string", field: name)
        }
    }

    func object(_ name: String) throws -> JSONObject {
        switch object[name] {
        case nil, .null?: return JSONObject()
        case .object(let value)?: return value
        default: throw APIError.badRequest("'\(name)' must be a JSON object of variable name → value", field: name)
        }
    }
}

extension Diagnostic {
    var json: JSONValue {
        var object: JSONObject = [
            "severity": .string(severity == .error ? "error" : "warning"), "message": .string(message),
        ]
        if let location {
            object["line"] = .number(Double(location.line))
            object["column"] = .number(Double(location.column))
        }
        return .object(object)
    }
}
