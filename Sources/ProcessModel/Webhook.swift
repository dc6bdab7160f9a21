import Expressions
import Values

/// The procrun Webhook block (namespace `urn:procrun:bpmn:1`), ELMA365's integration node:
/// it sends instance data to an external system over HTTP.
public struct WebhookConfig: IntegrationConfig {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }
    public enum BodyType: String, Sendable { case json, form, text }

    public struct Parameter: Sendable, Equatable {
        /// A context path, `customer.name`.
        public var field: String
        /// The request parameter name; defaults to the field.
        public var name: String

        public init(field: String, name: String) {
            self.field = field
            self.name = name
        }
    }

    public struct Header: Sendable {
        public var name: String
        public var value: Template

        public init(name: String, value: Template) {
            self.name = name
            self.value = value
        }
    }

    public var url: Template
    public var method: Method
    public var type: BodyType
    /// Seconds per try.
    public var timeout: Double
    public var parameters: [Parameter]
    public var headers: [Header]
    public var text: Template?
    /// Context variable that receives `{status, headers, body}` of the successful answer.
    public var resultVariable: String?
    /// The largest reply body a try accepts; a larger one fails the try.
    public var maxResponseBytes: Int
    public var location: SourceLocation

    /// 10 MB.
    public static let defaultMaxResponseBytes = 10 * 1024 * 1024
    /// 1 GB: the largest cap that may be set (the body is held in memory and may go into the context).
    public static let largestMaxResponseBytes = 1024 * 1024 * 1024

    public init(
        url: Template, method: Method, type: BodyType, timeout: Double, parameters: [Parameter], headers: [Header],
        text: Template?, resultVariable: String?,
        maxResponseBytes: Int = WebhookConfig.defaultMaxResponseBytes,
        location: SourceLocation
    ) {
        self.url = url
        self.method = method
        self.type = type
        self.timeout = timeout
        self.parameters = parameters
        self.headers = headers
        self.text = text
        self.resultVariable = resultVariable
        self.maxResponseBytes = maxResponseBytes
        self.location = location
    }
}

extension WebhookConfig {
    /// Reads a `maxResponseBytes` value: a whole number of bytes, optionally followed by a unit
    /// `B`, `KB`, `MB` or `GB` (any case, an optional space between; 1 KB = 1024 bytes, so
    /// `10MB` = 10485760), from 1 byte to 1 GB. Nil for anything else.
    public static func parseByteCount(_ text: String) -> Int? {
        let trimmed = text.trimmingWhitespace()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 10, let number = Int(digits) else { return nil }
        let unit = String(trimmed.dropFirst(digits.count)).trimmingWhitespace().uppercased()
        let multipliers: [String: Int] = ["": 1, "B": 1, "KB": 1024, "MB": 1024 * 1024, "GB": 1024 * 1024 * 1024]
        guard let multiplier = multipliers[unit] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, bytes >= 1, bytes <= largestMaxResponseBytes else { return nil }
        return bytes
    }
}
