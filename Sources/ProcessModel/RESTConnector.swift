import Expressions
import Values

/// Camunda 8's REST outbound connector, as Camunda Modeler's template writes it: a service task
/// with `zeebe:taskDefinition type="io.camunda:http-json:1"`, its request in `zeebe:ioMapping`
/// inputs and its result handling in `zeebe:taskHeaders`. procrun runs it as a `webhook` job.
public struct RESTConnectorConfig: IntegrationConfig {
    /// An input's source: text as written (`POST`, `https://…`), or a FEEL expression (`=…`).
    /// Either may hold Camunda secrets, `{{secrets.NAME}}`, read from `PROCRUN_SECRET_NAME` at
    /// send time.
    public enum Input: Sendable {
        case text(String)
        case expression(FEELExpression)
    }

    /// By target: `url`, `method`, `headers`, `queryParameters`, `body`,
    /// `authentication.type`, `authentication.token`, …
    public var inputs: [String: Input]
    /// Receives the whole response `{status, headers, body}`.
    public var resultVariable: String?
    /// A FEEL context computed from `response`, merged into the variables.
    public var resultExpression: FEELExpression?
    /// FEEL computed from `response` (or `error` when the request failed); a `bpmnError(code,
    /// message)` throws that error from the task, a `jobError(message)` fails the try.
    public var errorExpression: FEELExpression?
    /// `connectionTimeoutInSeconds` + `readTimeoutInSeconds` (20 each by default).
    public var timeout: Double
    public var maxResponseBytes: Int
    public var location: SourceLocation

    public init(
        inputs: [String: Input], resultVariable: String?, resultExpression: FEELExpression?,
        errorExpression: FEELExpression?, timeout: Double,
        maxResponseBytes: Int = WebhookConfig.defaultMaxResponseBytes,
        location: SourceLocation
    ) {
        self.inputs = inputs
        self.resultVariable = resultVariable
        self.resultExpression = resultExpression
        self.errorExpression = errorExpression
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.location = location
    }

    /// The connector's inputs procrun reads; any other input of the template is reported.
    public static let knownInputs: Set<String> = [
        "url", "method", "headers", "queryParameters", "body", "connectionTimeoutInSeconds", "readTimeoutInSeconds",
        "authentication.type", "authentication.token", "authentication.username", "authentication.password",
        "authentication.apiKeyLocation", "authentication.name", "authentication.value",
    ]
    /// Inputs of the template that change nothing here.
    public static let ignoredInputs: Set<String> = [
        "storeResponse", "ignoreNullValues", "skipEncoding", "writeTimeoutInSeconds",
    ]
    /// The `authentication.type` values procrun sends.
    public static let authenticationTypes: Set<String> = ["noAuth", "basic", "bearer", "apiKey"]
}
