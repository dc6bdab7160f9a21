import Values

/// The spelling an expression was written in.
public enum Dialect: String, Sendable {
    /// `amount > 1000` or Camunda 8's `=amount > 1000`.
    case feel
    /// Camunda 7's `${amount > 1000}`, which also accepts `==`, `&&`, `||` and `!`.
    case juel
}

public enum BinaryOperator: String, Sendable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case add = "+", subtract = "-", multiply = "*", divide = "/"
    case and, or
}

public enum Builtin: String, Sendable, CaseIterable {
    case not
    case stringLength = "string length"
    case contains
    case startsWith = "starts with"
    case endsWith = "ends with"
    case upperCase = "upper case"
    case lowerCase = "lower case"
    /// `decimal(n, scale)`: n rounded to `scale` digits, half to even (FEEL's rule).
    case decimal

    var arity: Int {
        switch self {
        case .not, .stringLength, .upperCase, .lowerCase: 1
        case .contains, .startsWith, .endsWith, .decimal: 2
        }
    }
}

/// The syntax tree of a parsed expression.
public indirect enum ExpressionNode: Sendable {
    case literal(JSONValue)
    case variable([String])
    case member(ExpressionNode, String)
    case negate(ExpressionNode)
    case binary(BinaryOperator, ExpressionNode, ExpressionNode)
    case call(Builtin, [ExpressionNode])
}

/// A parsed condition or value expression. Parse once when the model loads; evaluate many times.
public struct FEELExpression: Sendable, CustomStringConvertible {
    /// The text as the user wrote it.
    public let source: String
    public let dialect: Dialect
    public let root: ExpressionNode

    public var description: String { source }

    /// Parses any of the three spellings: bare FEEL, `=FEEL`, or `${JUEL}` (also `#{…}`).
    /// `bare` says how text without `=` or `${…}` is read: FEEL (procrun's default) or JUEL,
    /// for models written for engines that wrap bare conditions in `${…}` (betsy's suite).
    public init(_ text: String, bare: Dialect = .feel) throws(ExpressionError) {
        source = text
        let leading = text.prefix(while: \.isWhitespace).count
        let trimmed = text.trimmingWhitespace()
        let body: String
        let offset: Int
        if (trimmed.hasPrefix("${") || trimmed.hasPrefix("#{")) && trimmed.hasSuffix("}") {
            dialect = .juel
            body = String(trimmed.dropFirst(2).dropLast())
            offset = leading + 2
        } else if trimmed.hasPrefix("=") {
            dialect = .feel
            body = String(trimmed.dropFirst())
            offset = leading + 1
        } else {
            dialect = bare
            body = trimmed
            offset = leading
        }
        if body.trimmingWhitespace().isEmpty { throw ExpressionError("empty expression", offset: offset) }
        var parser = ExpressionParser(tokens: try Lexer.tokenize(body, offset: offset), dialect: dialect)
        root = try parser.parseAll()
    }

    /// Evaluates against the context's variables.
    public func evaluate(in context: JSONObject) throws(ExpressionError) -> JSONValue {
        try Evaluator(context: context).evaluate(root)
    }

    /// Evaluates as a sequence-flow condition: the result must be a boolean.
    public func evaluateCondition(in context: JSONObject) throws(ExpressionError) -> Bool {
        let value = try evaluate(in: context)
        guard case .bool(let result) = value else {
            throw ExpressionError("condition gave \(value.typeName) \(JSONWriter.string(value)), not a boolean")
        }
        return result
    }
}

extension String {
    public func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

struct ExpressionParser {
    var tokens: [Token]
    var position = 0
    let dialect: Dialect

    init(tokens: [Token], dialect: Dialect) {
        self.tokens = tokens
        self.dialect = dialect
    }

    var current: Token { tokens[position] }

    mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .number(let n): "number \(JSONWriter.number(n))"
        case .string(let s): "string \"\(s)\""
        case .name(let n): "'\(n)'"
        case .op(let o): "'\(o)'"
        case .leftParen: "'('"
        case .rightParen: "')'"
        case .comma: "','"
        case .dot: "'.'"
        case .end: "end of expression"
        }
    }

    mutating func parseAll() throws(ExpressionError) -> ExpressionNode {
        let node = try parseOr()
        guard case .end = current.kind else {
            throw ExpressionError("unexpected \(describe(current))", offset: current.offset)
        }
        return node
    }

    /// Checks an operator that exists in only one dialect and says what to write instead.
    mutating func matchOperator(_ feel: String?, juel: [String]) throws(ExpressionError) -> Bool {
        let token = current
        let spelled: String
        switch token.kind {
        case .op(let op): spelled = op
        case .name(let name): spelled = name
        default: return false
        }
        if let feel, spelled == feel, dialect == .feel || juel.contains(feel) {
            advance()
            return true
        }
        if juel.contains(spelled) {
            if dialect == .juel {
                advance()
                return true
            }
            if case .op = token.kind {
                let hint = feel.map { " write '\($0)'" } ?? ""
                throw ExpressionError("'\(spelled)' is not FEEL;\(hint) (or use the ${…} form)", offset: token.offset)
            }
        }
        return false
    }

    mutating func parseOr() throws(ExpressionError) -> ExpressionNode {
        var left = try parseAnd()
        while try matchOperator("or", juel: ["||", "or"]) {
            left = .binary(.or, left, try parseAnd())
        }
        return left
    }

    mutating func parseAnd() throws(ExpressionError) -> ExpressionNode {
        var left = try parseComparison()
        while try matchOperator("and", juel: ["&&", "and"]) {
            left = .binary(.and, left, try parseComparison())
        }
        return left
    }

    mutating func parseComparison() throws(ExpressionError) -> ExpressionNode {
        let left = try parseAdditive()
        let token = current
        var op: BinaryOperator?
        switch token.kind {
        case .op("="):
            if dialect == .juel { throw ExpressionError("'=' is not a comparison in ${…}; write '=='", offset: token.offset) }
            op = .equal
        case .op("=="):
            if dialect == .feel { throw ExpressionError("'==' is not FEEL; write '=' (or use the ${…} form)", offset: token.offset) }
            op = .equal
        case .op("!="): op = .notEqual
        case .op("<"): op = .less
        case .op("<="): op = .lessOrEqual
        case .op(">"): op = .greater
        case .op(">="): op = .greaterOrEqual
        case .name(let word) where dialect == .juel:
            op = ["eq": .equal, "ne": .notEqual, "lt": .less, "le": .lessOrEqual, "gt": .greater, "ge": .greaterOrEqual][word]
        default: break
        }
        guard let op else { return left }
        advance()
        let right = try parseAdditive()
        if case .op(let next) = current.kind, ["=", "==", "!=", "<", "<=", ">", ">="].contains(next) {
            throw ExpressionError("comparisons cannot be chained; combine them with 'and'", offset: current.offset)
        }
        return .binary(op, left, right)
    }

    mutating func parseAdditive() throws(ExpressionError) -> ExpressionNode {
        var left = try parseMultiplicative()
        while true {
            switch current.kind {
            case .op("+"): advance(); left = .binary(.add, left, try parseMultiplicative())
            case .op("-"): advance(); left = .binary(.subtract, left, try parseMultiplicative())
            default: return left
            }
        }
    }

    mutating func parseMultiplicative() throws(ExpressionError) -> ExpressionNode {
        var left = try parseUnary()
        while true {
            switch current.kind {
            case .op("*"): advance(); left = .binary(.multiply, left, try parseUnary())
            case .op("/"): advance(); left = .binary(.divide, left, try parseUnary())
            default: return left
            }
        }
    }

    mutating func parseUnary() throws(ExpressionError) -> ExpressionNode {
        let token = current
        switch token.kind {
        case .op("-"):
            advance()
            return .negate(try parseUnary())
        case .op("!"):
            guard dialect == .juel else {
                throw ExpressionError("'!' is not FEEL; write not(…) (or use the ${…} form)", offset: token.offset)
            }
            advance()
            return .call(.not, [try parseUnary()])
        case .name("not") where dialect == .juel:
            if case .leftParen = tokens[position + 1].kind { break }
            advance()
            return .call(.not, [try parseUnary()])
        default:
            break
        }
        return try parsePostfix()
    }

    mutating func parsePostfix() throws(ExpressionError) -> ExpressionNode {
        var node = try parsePrimary()
        while case .dot = current.kind {
            advance()
            guard case .name(let field) = current.kind else {
                throw ExpressionError("expected a field name after '.', found \(describe(current))", offset: current.offset)
            }
            advance()
            if case .leftParen = current.kind, dialect == .juel {
                node = try methodCall(on: node, name: field)
            } else if case .variable(let path) = node {
                node = .variable(path + [field])
            } else {
                node = .member(node, field)
            }
        }
        return node
    }

    /// Reads `(a, b, …)`; the current token is the opening parenthesis.
    mutating func parseArguments() throws(ExpressionError) -> [ExpressionNode] {
        advance()
        var arguments: [ExpressionNode] = []
        if case .rightParen = current.kind {
            advance()
            return arguments
        }
        while true {
            arguments.append(try parseOr())
            if case .comma = current.kind { advance(); continue }
            guard case .rightParen = current.kind else {
                throw ExpressionError("expected ',' or ')', found \(describe(current))", offset: current.offset)
            }
            advance()
            return arguments
        }
    }

    /// JUEL's Java-style string methods: `test.contains("a")`, `name.startsWith("x")`, …
    mutating func methodCall(on receiver: ExpressionNode, name: String) throws(ExpressionError) -> ExpressionNode {
        let methods: [String: Builtin] = [
            "contains": .contains, "startsWith": .startsWith, "endsWith": .endsWith, "toUpperCase": .upperCase,
            "toLowerCase": .lowerCase, "length": .stringLength,
        ]
        let open = current
        guard let builtin = methods[name] else { throw ExpressionError("unknown method '\(name)'", offset: open.offset) }
        let arguments = [receiver] + (try parseArguments())
        guard arguments.count == builtin.arity else {
            throw ExpressionError("\(name)() takes \(builtin.arity - 1) argument\(builtin.arity == 2 ? "" : "s")", offset: open.offset)
        }
        return .call(builtin, arguments)
    }

    /// Tries to read a (possibly multi-word) built-in function name followed by '('.
    mutating func builtinCall() -> Builtin? {
        var words: [String] = []
        var index = position
        while case .name(let word) = tokens[index].kind {
            words.append(word)
            index += 1
            let name = words.joined(separator: " ")
            if case .leftParen = tokens[index].kind, let builtin = Builtin(rawValue: name) {
                position = index
                return builtin
            }
            if !Builtin.allCases.contains(where: { $0.rawValue.hasPrefix(name + " ") }) { return nil }
        }
        return nil
    }

    mutating func parsePrimary() throws(ExpressionError) -> ExpressionNode {
        let token = current
        switch token.kind {
        case .number(let value):
            advance()
            return .literal(.number(value))
        case .string(let value):
            advance()
            return .literal(.string(value))
        case .leftParen:
            advance()
            let inner = try parseOr()
            guard case .rightParen = current.kind else {
                throw ExpressionError("expected ')', found \(describe(current))", offset: current.offset)
            }
            advance()
            return inner
        case .name(let name):
            if let builtin = builtinCall() {
                let open = current
                let arguments = try parseArguments()
                guard arguments.count == builtin.arity else {
                    throw ExpressionError(
                        "\(builtin.rawValue)() takes \(builtin.arity) argument\(builtin.arity == 1 ? "" : "s"), not \(arguments.count)",
                        offset: open.offset)
                }
                return .call(builtin, arguments)
            }
            switch name {
            case "true": advance(); return .literal(.bool(true))
            case "false": advance(); return .literal(.bool(false))
            case "null": advance(); return .literal(.null)
            case "and", "or":
                throw ExpressionError("expected a value, found '\(name)'", offset: token.offset)
            default: break
            }
            if case .leftParen = tokens[position + 1].kind {
                throw ExpressionError("unknown function '\(name)'", offset: token.offset)
            }
            advance()
            return .variable([name])
        case .end:
            throw ExpressionError("expression ends too early", offset: token.offset)
        default:
            throw ExpressionError("expected a value, found \(describe(token))", offset: token.offset)
        }
    }
}

extension FEELExpression: Equatable {
    /// Two expressions are equal when they were written the same way in the same dialect.
    public static func == (lhs: FEELExpression, rhs: FEELExpression) -> Bool {
        lhs.source == rhs.source && lhs.dialect == rhs.dialect
    }
}
