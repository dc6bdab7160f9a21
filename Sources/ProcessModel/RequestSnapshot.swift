import Values

/// The request of one webhook execution, fixed when the node is entered: every try of the
/// execution sends these bytes under the same `Idempotency-Key`, whatever the context holds by
/// then. Context variables and `DateTime()` values are rendered already; `{$secrets.NAME}`
/// references are kept as references and resolved from the environment at send time, so a
/// snapshot may be stored (with its job) without the secret values.
public struct WebhookRequestSnapshot: Sendable, Equatable {
    /// A stretch of a URL, header value or body.
    public enum Piece: Sendable, Equatable {
        case text(String)
        /// `{$secrets.NAME}`; `percentEncoded` in a URL (except at its very start).
        case secret(name: String, percentEncoded: Bool)
        /// `{DateTime("FORMAT", {$secrets.NAME}[, "locale"])}`: a date read from a secret,
        /// formatted at send time.
        case secretDate(name: String, format: String, locale: String?, percentEncoded: Bool)
        /// HTTP Basic credentials, `base64(user:password)`, made at send time (either part may
        /// hold secrets): a REST connector's `authentication.type` basic.
        indirect case basic(user: [Piece], password: [Piece])
        /// A secret inside a JSON string of a body: its value JSON-escaped.
        case jsonSecret(name: String)
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: [Piece]

        public init(name: String, value: [Piece]) {
            self.name = name
            self.value = value
        }
    }

    public var method: String
    public var url: [Piece]
    /// Every header as sent, `Idempotency-Key` and `User-Agent` included.
    public var headers: [Header]
    public var body: [Piece]?

    public init(method: String, url: [Piece], headers: [Header], body: [Piece]?) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// What building the request of a webhook execution gave: the snapshot its tries send, or the
/// reason it cannot be built (a template variable that is not set), which fails the first try
/// before anything is sent and is not retried.
public enum WebhookPreparation: Sendable, Equatable {
    case request(WebhookRequestSnapshot)
    case failed(message: String)
}

extension WebhookPreparation {
    /// The stored form (the `request` column of a webhook or retry job): compact JSON.
    ///
    ///     {"v":1,"method":"POST","url":[…],"headers":[["Name",[…]],…],"body":[…]}
    ///     {"v":1,"failed":"message"}
    ///
    /// A piece is a JSON string (literal text) or `{"secret":"NAME","url":true}` /
    /// `{"secretDate":"NAME","format":"…","locale":"…","url":false}`.
    public var encoded: [UInt8] {
        var object: JSONObject = ["v": 1]
        switch self {
        case .failed(let message):
            object["failed"] = .string(message)
        case .request(let snapshot):
            object["method"] = .string(snapshot.method)
            object["url"] = Self.encode(snapshot.url)
            object["headers"] = .array(snapshot.headers.map { .array([.string($0.name), Self.encode($0.value)]) })
            if let body = snapshot.body { object["body"] = Self.encode(body) }
        }
        return Array(JSONWriter.string(.object(object)).utf8)
    }

    static func encode(_ pieces: [WebhookRequestSnapshot.Piece]) -> JSONValue {
        .array(
            pieces.map { piece in
                switch piece {
                case .text(let text):
                    return .string(text)
                case .secret(let name, let percentEncoded):
                    return ["secret": .string(name), "url": .bool(percentEncoded)]
                case .secretDate(let name, let format, let locale, let percentEncoded):
                    var object: JSONObject = [
                        "secretDate": .string(name), "format": .string(format), "url": .bool(percentEncoded),
                    ]
                    if let locale { object["locale"] = .string(locale) }
                    return .object(object)
                case .basic(let user, let password):
                    return ["basic": .array([encode(user), encode(password)])]
                case .jsonSecret(let name):
                    return ["secret": .string(name), "url": false, "json": true]
                }
            })
    }

    /// Reads the stored form; nil when the bytes are not one (damaged, or written by a newer procrun).
    public init?(encoded bytes: [UInt8]) {
        guard case .object(let object)? = try? JSONParser.parse(bytes), object["v"] == 1 else { return nil }
        if case .string(let message)? = object["failed"] {
            self = .failed(message: message)
            return
        }
        guard case .string(let method)? = object["method"], let url = Self.decode(object["url"]),
            case .array(let headerValues)? = object["headers"]
        else { return nil }
        var headers: [WebhookRequestSnapshot.Header] = []
        for value in headerValues {
            guard case .array(let pair) = value, pair.count == 2, case .string(let name) = pair[0],
                let pieces = Self.decode(pair[1])
            else { return nil }
            headers.append(.init(name: name, value: pieces))
        }
        var body: [WebhookRequestSnapshot.Piece]?
        if let value = object["body"] {
            guard let pieces = Self.decode(value) else { return nil }
            body = pieces
        }
        self = .request(WebhookRequestSnapshot(method: method, url: url, headers: headers, body: body))
    }

    static func decode(_ value: JSONValue?) -> [WebhookRequestSnapshot.Piece]? {
        guard case .array(let items)? = value else { return nil }
        var pieces: [WebhookRequestSnapshot.Piece] = []
        pieces.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .string(let text):
                pieces.append(.text(text))
            case .object(let object):
                if case .array(let parts)? = object["basic"] {
                    guard parts.count == 2, let user = decode(parts[0]), let password = decode(parts[1]) else {
                        return nil
                    }
                    pieces.append(.basic(user: user, password: password))
                    continue
                }
                guard case .bool(let percentEncoded)? = object["url"] else { return nil }
                if case .string(let name)? = object["secret"], object["json"] == true {
                    pieces.append(.jsonSecret(name: name))
                } else if case .string(let name)? = object["secret"] {
                    pieces.append(.secret(name: name, percentEncoded: percentEncoded))
                } else if case .string(let name)? = object["secretDate"], case .string(let format)? = object["format"] {
                    let locale = object["locale"]?.stringValue
                    pieces.append(
                        .secretDate(name: name, format: format, locale: locale, percentEncoded: percentEncoded))
                } else {
                    return nil
                }
            default:
                return nil
            }
        }
        return pieces
    }
}
