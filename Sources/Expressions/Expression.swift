import Values

/// The spelling an expression was written in.
public enum Dialect: String, Sendable {
    /// `amount > 1000` or Camunda 8's `=amount > 1000`.
    case feel
    /// Camunda 7's `${amount > 1000}`, which also accepts `==`, `&&`, `||` and `!`.
    case juel
}

public enum BinaryOperator: String, Sendable {
    case equal = "="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
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
    /// `string(x)`: a value as text (numbers without a needless fraction).
    case string
    /// Camunda's connector functions: `bpmnError(code, message)` and `jobError(message)` give
    /// `{errorType, code, message}`, which an `errorExpression` returns to fail the job.
    case bpmnError
    case jobError

    var arity: Int {
        switch self {
        case .not, .stringLength, .upperCase, .lowerCase, .string, .jobError: 1
        case .contains, .startsWith, .endsWith, .decimal, .bpmnError: 2
        }
    }
}

/// The syntax tree of a parsed expression.
///
/// The tree is only as deep as the expression is nested: a chain of operators of one precedence
/// (`a - b + c`, `x and y and z`) is one `chain` node with its operands in a list, and a run of
/// field reads is one `variable` or `member` node with a path. So no walk over the tree
/// (evaluation, destruction) recurses once per term of a long flat chain, and the parser's
/// nesting limit (`FEELExpression.nestingLimit`) bounds every recursion.
public indirect enum ExpressionNode: Sendable {
    case literal(JSONValue)
    case variable([String])
    /// Fields read in turn from a computed value, e.g. `(a).b.c`.
    case member(ExpressionNode, [String])
    case negate(ExpressionNode)
    /// One operator between two operands (comparisons, which do not chain, and single operators).
    case binary(BinaryOperator, ExpressionNode, ExpressionNode)
    /// `first op₁ x₁ op₂ x₂ …`, evaluated left to right; the operators share one precedence.
    case chain(ExpressionNode, [(BinaryOperator, ExpressionNode)])
    case call(Builtin, [ExpressionNode])
    /// `{name: value, "other name": value}`: a context (a JSON object), keys in order.
    case context([(String, ExpressionNode)])
    /// `[a, b, c]`.
    case list([ExpressionNode])
    /// `if condition then a else b`: `b` unless the condition is `true`.
    case ifThenElse(ExpressionNode, ExpressionNode, ExpressionNode)
}

/// A parsed condition or value expression. Parse once when the model loads; evaluate many times.
public struct FEELExpression: Sendable, CustomStringConvertible {
    /// How deeply an expression may nest: each parenthesis, function or method call, unary
    /// operator (`-`, `!`, `not`) and each operator chain counts one level, so `(1 + (2 * 3))`
    /// is four levels deep. A flat chain (`1 - 1 - 1 …`, `a and b and …`) is one level however
    /// long it is. Deeper expressions are refused with "expression nested too deeply (limit N)".
    public static let nestingLimit = 64

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

    /// Evaluates by FEEL's rule for what is missing: an unknown variable or field is `null`
    /// (a Camunda connector's `resultExpression` and `errorExpression`).
    public func evaluateNullForMissing(in context: JSONObject) throws(ExpressionError) -> JSONValue {
        var evaluator = Evaluator(context: context)
        evaluator.nullForMissing = true
        return try evaluator.evaluate(root)
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

/// A recursive-descent parser whose recursion is bounded: it descends only into parentheses and
/// call arguments, which count against `FEELExpression.nestingLimit` with every node of the tree
/// that has children (see `enter(at:)`). Operator chains, runs of prefix operators and of field
/// reads are read by loops, never by recursion per operand.
struct ExpressionParser {
    var tokens: [Token]
    var position = 0
    let dialect: Dialect
    /// Nesting levels entered so far (see `enter(at:)`).
    var depth = 0

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
        case .leftBrace: "'{'"
        case .rightBrace: "'}'"
        case .leftBracket: "'['"
        case .rightBracket: "']'"
        case .colon: "':'"
        case .end: "end of expression"
        }
    }

    /// Counts one more level of nesting; past the limit, the expression is refused. Every node
    /// with children (an operator chain, a unary operator, a call, fields read from a computed
    /// value) is entered here, as is every parenthesis, so the syntax tree is never deeper than
    /// the limit, and neither is the parser's recursion or any recursion over the tree.
    mutating func enter(at offset: Int) throws(ExpressionError) {
        depth += 1
        if depth > FEELExpression.nestingLimit { throw ExpressionError.nestedTooDeeply(offset: offset) }
    }

    /// `first op x op x …` for operators of one precedence, as one node.
    static func chain(_ first: ExpressionNode, _ rest: [(BinaryOperator, ExpressionNode)]) -> ExpressionNode {
        switch rest.count {
        case 0: first
        case 1: .binary(rest[0].0, first, rest[0].1)
        default: .chain(first, rest)
        }
    }

    mutating func parseAll() throws(ExpressionError) -> ExpressionNode {
        let node = try parseExpression()
        guard case .end = current.kind else {
            throw ExpressionError("unexpected \(describe(current))", offset: current.offset)
        }
        return node
    }

    /// The binary operator at the current token and its precedence (1 `or`, 2 `and`,
    /// 3 comparisons, 4 `+ -`, 5 `* /`), without consuming it. An operator of the other
    /// dialect is an error that says what to write instead.
    func binaryOperator() throws(ExpressionError) -> (op: BinaryOperator, precedence: Int)? {
        let token = current
        func foreign(_ spelled: String, _ feel: String) -> ExpressionError {
            ExpressionError("'\(spelled)' is not FEEL; write '\(feel)' (or use the ${…} form)", offset: token.offset)
        }
        switch token.kind {
        case .name("or"): return (.or, 1)
        case .op("||"):
            guard dialect == .juel else { throw foreign("||", "or") }
            return (.or, 1)
        case .name("and"): return (.and, 2)
        case .op("&&"):
            guard dialect == .juel else { throw foreign("&&", "and") }
            return (.and, 2)
        case .op("="):
            if dialect == .juel {
                throw ExpressionError("'=' is not a comparison in ${…}; write '=='", offset: token.offset)
            }
            return (.equal, 3)
        case .op("=="):
            guard dialect == .juel else { throw foreign("==", "=") }
            return (.equal, 3)
        case .op("!="): return (.notEqual, 3)
        case .op("<"): return (.less, 3)
        case .op("<="): return (.lessOrEqual, 3)
        case .op(">"): return (.greater, 3)
        case .op(">="): return (.greaterOrEqual, 3)
        case .name(let word) where dialect == .juel:
            let words: [String: BinaryOperator] = [
                "eq": .equal, "ne": .notEqual, "lt": .less, "le": .lessOrEqual, "gt": .greater, "ge": .greaterOrEqual,
            ]
            return words[word].map { ($0, 3) }
        case .op("+"): return (.add, 4)
        case .op("-"): return (.subtract, 4)
        case .op("*"): return (.multiply, 5)
        case .op("/"): return (.divide, 5)
        default: return nil
        }
    }

    /// Reads operands joined by binary operators with a loop and a stack of open chains, one
    /// per precedence (at most five), instead of one recursive call per precedence level:
    /// `a - b - c` is one chain, `a + b * c` a chain inside a chain. Comparisons do not chain.
    mutating func parseExpression() throws(ExpressionError) -> ExpressionNode {
        struct OpenChain {
            var precedence: Int
            var first: ExpressionNode
            var rest: [(BinaryOperator, ExpressionNode)]
            /// The operator whose right operand is being read.
            var pending: BinaryOperator
        }
        let outer = depth
        defer { depth = outer }
        var open: [OpenChain] = []
        var operand = try parseUnary()
        while true {
            let next = try binaryOperator()
            let precedence = next?.precedence ?? 0
            // Chains of a higher precedence than the next operator are complete.
            while let top = open.last, top.precedence > precedence {
                open.removeLast()
                depth -= 1
                operand = Self.chain(top.first, top.rest + [(top.pending, operand)])
            }
            guard let op = next?.op else { return operand }
            if let last = open.indices.last, open[last].precedence == precedence {
                if precedence == 3 {
                    throw ExpressionError(
                        "comparisons cannot be chained; combine them with 'and'", offset: current.offset)
                }
                // Mutated in place: a copy of the chain held here would make each append copy it.
                open[last].rest.append((open[last].pending, operand))
                open[last].pending = op
            } else {
                // A new chain is a node above everything read from here until it completes.
                try enter(at: current.offset)
                open.append(OpenChain(precedence: precedence, first: operand, rest: [], pending: op))
            }
            advance()
            operand = try parseUnary()
        }
    }

    /// Prefix operators are read by a loop; each one is a level of nesting.
    mutating func parseUnary() throws(ExpressionError) -> ExpressionNode {
        let outer = depth
        defer { depth = outer }
        var prefixes: [Builtin?] = []  // nil: negation; .not: logical not
        loop: while true {
            let token = current
            switch token.kind {
            case .op("-"):
                prefixes.append(nil)
            case .op("!"):
                guard dialect == .juel else {
                    throw ExpressionError("'!' is not FEEL; write not(…) (or use the ${…} form)", offset: token.offset)
                }
                prefixes.append(.not)
            case .name("not") where dialect == .juel:
                if case .leftParen = tokens[position + 1].kind { break loop }
                prefixes.append(.not)
            default:
                break loop
            }
            try enter(at: token.offset)
            advance()
        }
        var node = try parsePostfix()
        for prefix in prefixes.reversed() {
            node = prefix == nil ? .negate(node) : .call(.not, [node])
        }
        return node
    }

    /// Field reads and JUEL method calls after a value, read by a loop. A run of field reads is
    /// one node; each method call is a level of nesting (it wraps what came before).
    mutating func parsePostfix() throws(ExpressionError) -> ExpressionNode {
        let outer = depth
        defer { depth = outer }
        var node = try parsePrimary()
        var fields: [String] = []
        var fieldsStart = current.offset
        while case .dot = current.kind {
            if fields.isEmpty { fieldsStart = current.offset }
            advance()
            guard case .name(let field) = current.kind else {
                throw ExpressionError(
                    "expected a field name after '.', found \(describe(current))", offset: current.offset)
            }
            let fieldToken = current
            advance()
            if case .leftParen = current.kind, dialect == .juel {
                node = try methodCall(on: try attach(&fields, to: node, at: fieldsStart), name: field)
                try enter(at: fieldToken.offset)
            } else {
                fields.append(field)
            }
        }
        return try attach(&fields, to: node, at: fieldsStart)
    }

    /// `node` with `fields` read from it (and `fields` emptied). Reading fields from a computed
    /// value is a node of its own, so a level of nesting; a variable's path just grows.
    mutating func attach(_ fields: inout [String], to node: ExpressionNode, at offset: Int) throws(ExpressionError)
        -> ExpressionNode
    {
        guard !fields.isEmpty else { return node }
        defer { fields = [] }
        switch node {
        case .variable(var path):
            path.append(contentsOf: fields)
            return .variable(path)
        case .member(let base, var path):
            path.append(contentsOf: fields)
            return .member(base, path)
        default:
            try enter(at: offset)
            return .member(node, fields)
        }
    }

    /// Reads `(a, b, …)`; the current token is the opening parenthesis.
    mutating func parseArguments() throws(ExpressionError) -> [ExpressionNode] {
        try enter(at: current.offset)
        defer { depth -= 1 }
        advance()
        var arguments: [ExpressionNode] = []
        if case .rightParen = current.kind {
            advance()
            return arguments
        }
        while true {
            arguments.append(try parseExpression())
            if case .comma = current.kind {
                advance()
                continue
            }
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
        guard let builtin = methods[name] else {
            throw ExpressionError("unknown method '\(name)'", offset: open.offset)
        }
        let arguments = [receiver] + (try parseArguments())
        guard arguments.count == builtin.arity else {
            throw ExpressionError(
                "\(name)() takes \(builtin.arity - 1) argument\(builtin.arity == 2 ? "" : "s")", offset: open.offset)
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
            try enter(at: token.offset)
            defer { depth -= 1 }
            advance()
            let inner = try parseExpression()
            guard case .rightParen = current.kind else {
                throw ExpressionError("expected ')', found \(describe(current))", offset: current.offset)
            }
            advance()
            return inner
        case .leftBrace:
            return try parseContext()
        case .leftBracket:
            try enter(at: token.offset)
            defer { depth -= 1 }
            advance()
            var items: [ExpressionNode] = []
            if case .rightBracket = current.kind {
                advance()
                return .list(items)
            }
            while true {
                items.append(try parseExpression())
                if case .comma = current.kind {
                    advance()
                    continue
                }
                guard case .rightBracket = current.kind else {
                    throw ExpressionError("expected ',' or ']', found \(describe(current))", offset: current.offset)
                }
                advance()
                return .list(items)
            }
        case .name("if") where dialect == .feel:
            try enter(at: token.offset)
            defer { depth -= 1 }
            advance()
            let condition = try parseExpression()
            try expectWord("then")
            let then = try parseExpression()
            try expectWord("else")
            let otherwise = try parseExpression()
            return .ifThenElse(condition, then, otherwise)
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
            case "true":
                advance()
                return .literal(.bool(true))
            case "false":
                advance()
                return .literal(.bool(false))
            case "null":
                advance()
                return .literal(.null)
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

extension ExpressionParser {
    /// Reads `then` or `else` of an `if`.
    mutating func expectWord(_ word: String) throws(ExpressionError) {
        guard case .name(word) = current.kind else {
            throw ExpressionError("expected '\(word)', found \(describe(current))", offset: current.offset)
        }
        advance()
    }

    /// Reads `{key: value, …}`; the current token is the opening brace. A key is a name (of one
    /// or more words) or a string.
    mutating func parseContext() throws(ExpressionError) -> ExpressionNode {
        try enter(at: current.offset)
        defer { depth -= 1 }
        advance()
        var entries: [(String, ExpressionNode)] = []
        if case .rightBrace = current.kind {
            advance()
            return .context(entries)
        }
        while true {
            var key: String
            switch current.kind {
            case .string(let text):
                key = text
                advance()
            case .name(let word):
                key = word
                advance()
                while case .name(let more) = current.kind {
                    key += " " + more
                    advance()
                }
            default:
                throw ExpressionError("expected a key, found \(describe(current))", offset: current.offset)
            }
            guard case .colon = current.kind else {
                throw ExpressionError(
                    "expected ':' after key '\(key)', found \(describe(current))", offset: current.offset)
            }
            advance()
            if entries.contains(where: { $0.0 == key }) {
                throw ExpressionError("the key '\(key)' appears twice", offset: current.offset)
            }
            entries.append((key, try parseExpression()))
            if case .comma = current.kind {
                advance()
                continue
            }
            guard case .rightBrace = current.kind else {
                throw ExpressionError("expected ',' or '}', found \(describe(current))", offset: current.offset)
            }
            advance()
            return .context(entries)
        }
    }
}

extension FEELExpression: Equatable {
    /// Two expressions are equal when they were written the same way in the same dialect.
    public static func == (lhs: FEELExpression, rhs: FEELExpression) -> Bool {
        lhs.source == rhs.source && lhs.dialect == rhs.dialect
    }
}

extension FEELExpression {
    /// The variables the expression reads (the first name of each path), in the order first
    /// read: what a form must ask for so that a condition can decide. Iterative, so a long flat
    /// chain costs no recursion depth.
    public var variableNames: [String] {
        var names: [String] = []
        var pending: [ExpressionNode] = [root]
        while let node = pending.popLast() {
            switch node {
            case .literal: break
            case .variable(let path):
                if let first = path.first, !names.contains(first) { names.append(first) }
            case .member(let base, _): pending.append(base)
            case .negate(let operand): pending.append(operand)
            case .binary(_, let left, let right): pending += [right, left]
            case .chain(let first, let rest): pending += rest.reversed().map(\.1) + [first]
            case .call(_, let arguments): pending += arguments.reversed()
            case .context(let entries): pending += entries.reversed().map(\.1)
            case .list(let items): pending += items.reversed()
            case .ifThenElse(let condition, let then, let otherwise): pending += [otherwise, then, condition]
            }
        }
        return names
    }
}
