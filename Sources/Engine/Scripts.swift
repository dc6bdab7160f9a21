import Expressions
import ProcessModel
import Values

/// What running a script task did.
public struct ScriptOutcome: Sendable {
    /// Variables the script set.
    public var variables: JSONObject
    /// Lines the script wrote to the instance's log.
    public var log: [String]
    /// A BPMN error the script threw (its error code), caught by boundary events like an error end event.
    public var thrownError: String?
    /// The script failed: the instance stops in an incident.
    public var failure: String?
    /// How long the script works, in seconds: the task stays active that long (on the
    /// runner's clock, so a boundary timer can interrupt it) before the token moves on.
    public var duration: Double

    public init(
        variables: JSONObject = JSONObject(), log: [String] = [], thrownError: String? = nil, failure: String? = nil,
        duration: Double = 0
    ) {
        self.variables = variables
        self.log = log
        self.thrownError = thrownError
        self.failure = failure
        self.duration = duration
    }
}

/// Runs script tasks. The engine calls it synchronously inside a step, so it must be quick and
/// touch nothing outside the instance (scripts that need I/O belong in service tasks).
public protocol ScriptRunner: Sendable {
    func run(_ node: FlowNode, context: JSONObject) -> ScriptOutcome
}

/// procrun's own runner: FEEL assignments, one `name = expression` per line. A script task
/// without a FEEL script (another language, or none) completes without running anything.
public struct FEELScriptRunner: ScriptRunner {
    public init() {}

    public func run(_ node: FlowNode, context: JSONObject) -> ScriptOutcome {
        guard let script = node.script else { return ScriptOutcome() }
        do {
            return ScriptOutcome(variables: try script.run(in: context))
        } catch {
            return ScriptOutcome(failure: error.message)
        }
    }
}
