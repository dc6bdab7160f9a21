import Engine
import ProcessModel
import Values

/// betsy's script tokens (see the suite's README): each `<script>` body is one token that the
/// generated Groovy would have turned into logging or variable changes. Internal lines start
/// with `#` and are read by the harness, never compared.
struct TokenScriptRunner: ScriptRunner {
    func run(_ node: FlowNode, context: JSONObject) -> ScriptOutcome {
        let token = (node.scriptText ?? "").trimmingWhitespace()
        func increment() -> JSONObject {
            var number = 0.0
            if case .number(let n)? = context["integerVariable"] { number = n }
            return ["integerVariable": .number(number + 1)]
        }
        switch token {
        case _ where token.hasPrefix("SCRIPT_task"):
            return ScriptOutcome(log: [token])
        case "CREATE_LOG_FILE":
            return ScriptOutcome()
        case "WAIT_TEN_SECONDS":
            // betsy busy-waits 10 s; here the task works 10 s of virtual time.
            return ScriptOutcome(duration: 10)
        case "CREATE_MARKER_FILE":
            return ScriptOutcome(log: ["#MARKER"])
        case "INCREMENT_INTEGER_VARIABLE":
            return ScriptOutcome(variables: increment())
        case "INCREMENT_INTEGER_VARIABLE_AND_LOG":
            return ScriptOutcome(variables: increment(), log: ["INCREMENT_correct"])
        case "SET_STRING_DATA":
            return ScriptOutcome(variables: ["data": "String"])
        case "LOG_DATA":
            return ScriptOutcome(log: ["#DATA:" + (context["data"]?.stringValue ?? "")])
        case "CREATE_TIMESTAMP_LOG_1", "CREATE_TIMESTAMP_LOG_2":
            return ScriptOutcome(log: ["#" + token])
        case "THROW_ERROR":
            return ScriptOutcome(thrownError: "ERR_CODE")
        default:
            return ScriptOutcome(failure: "unknown script token '\(token)'")
        }
    }
}
