import Values

/// A script of FEEL assignments, one `name = expression` per line (blank lines and `#`/`//`
/// comments allowed). Each line sees the variables the lines before it set.
public struct FEELScript: Sendable {
    public struct Assignment: Sendable {
        public var variable: String
        public var expression: FEELExpression
        /// 1-based line within the script.
        public var line: Int
    }

    public let assignments: [Assignment]

    /// Parses the script; the error names the script line it is on.
    public init(_ text: String) throws(ExpressionError) {
        var result: [Assignment] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("//") { continue }
            let chars = Array(line)
            var i = 0
            while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_") { i += 1 }
            let name = String(chars[..<i])
            while i < chars.count && chars[i].isWhitespace { i += 1 }
            guard !name.isEmpty, !(name.first!.isNumber), i < chars.count, chars[i] == "=",
                i + 1 >= chars.count || chars[i + 1] != "="
            else {
                throw ExpressionError("script line \(index + 1): expected 'name = expression'")
            }
            let body = String(chars[(i + 1)...])
            do {
                result.append(Assignment(variable: name, expression: try FEELExpression(body), line: index + 1))
            } catch {
                var located = error
                located.message = "script line \(index + 1): \(error.message)"
                located.offset = nil
                throw located
            }
        }
        assignments = result
    }

    /// Runs the assignments in order and returns the variables they set.
    public func run(in context: JSONObject) throws(ExpressionError) -> JSONObject {
        var scope = context
        var changes = JSONObject()
        for assignment in assignments {
            do {
                let value = try assignment.expression.evaluate(in: scope)
                scope[assignment.variable] = value
                changes[assignment.variable] = value
            } catch {
                throw ExpressionError("script line \(assignment.line) (\(assignment.variable)): \(error.message)")
            }
        }
        return changes
    }
}
