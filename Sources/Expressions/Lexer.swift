/// Tokens of the condition language (FEEL subset, plus the JUEL operators of Camunda 7).
enum TokenKind: Equatable, Sendable {
    case number(Double)
    case string(String)
    case name(String)
    case op(String)
    case leftParen, rightParen, comma, dot
    /// `{ } [ ] :` of context and list literals.
    case leftBrace, rightBrace, leftBracket, rightBracket, colon
    case end
}

struct Token: Sendable {
    var kind: TokenKind
    /// Offset of the token's first character in the expression text (in characters).
    var offset: Int
}

/// An expression that could not be parsed or evaluated; `offset` points into its text.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int?
    /// The expression is deeper than `FEELExpression.nestingLimit`: callers report this one
    /// without echoing the (possibly huge) expression text.
    public var isNestedTooDeeply = false

    public init(_ message: String, offset: Int? = nil) {
        self.message = message
        self.offset = offset
    }

    /// "expression nested too deeply (limit N)".
    public static func nestedTooDeeply(offset: Int?) -> ExpressionError {
        var error = ExpressionError(
            "expression nested too deeply (limit \(FEELExpression.nestingLimit))", offset: offset)
        error.isNestedTooDeeply = true
        return error
    }

    public var description: String { message }
}

struct Lexer {
    static func tokenize(_ text: String, offset base: Int = 0) throws(ExpressionError) -> [Token] {
        let chars = Array(text)
        var tokens: [Token] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
                continue
            }
            let start = i
            if c.isNumber && c.isASCII {
                var j = i
                while j < chars.count && chars[j].isASCII && chars[j].isNumber { j += 1 }
                if j + 1 < chars.count && chars[j] == "." && chars[j + 1].isASCII && chars[j + 1].isNumber {
                    j += 1
                    while j < chars.count && chars[j].isASCII && chars[j].isNumber { j += 1 }
                }
                let literal = String(chars[i..<j])
                guard let value = Double(literal) else {
                    throw ExpressionError("invalid number '\(literal)'", offset: base + i)
                }
                tokens.append(Token(kind: .number(value), offset: base + start))
                i = j
                continue
            }
            if c == "\"" || c == "'" {
                var j = i + 1
                var value = ""
                var closed = false
                while j < chars.count {
                    if chars[j] == "\\" && j + 1 < chars.count {
                        let next = chars[j + 1]
                        switch next {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        default: value.append(next)
                        }
                        j += 2
                        continue
                    }
                    if chars[j] == c {
                        closed = true
                        j += 1
                        break
                    }
                    value.append(chars[j])
                    j += 1
                }
                if !closed { throw ExpressionError("unterminated string", offset: base + start) }
                tokens.append(Token(kind: .string(value), offset: base + start))
                i = j
                continue
            }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                tokens.append(Token(kind: .name(String(chars[i..<j])), offset: base + start))
                i = j
                continue
            }
            let two = i + 1 < chars.count ? String([c, chars[i + 1]]) : ""
            if ["<=", ">=", "!=", "==", "&&", "||"].contains(two) {
                tokens.append(Token(kind: .op(two), offset: base + start))
                i += 2
                continue
            }
            switch c {
            case "(": tokens.append(Token(kind: .leftParen, offset: base + start))
            case ")": tokens.append(Token(kind: .rightParen, offset: base + start))
            case ",": tokens.append(Token(kind: .comma, offset: base + start))
            case ".": tokens.append(Token(kind: .dot, offset: base + start))
            case "{": tokens.append(Token(kind: .leftBrace, offset: base + start))
            case "}": tokens.append(Token(kind: .rightBrace, offset: base + start))
            case "[": tokens.append(Token(kind: .leftBracket, offset: base + start))
            case "]": tokens.append(Token(kind: .rightBracket, offset: base + start))
            case ":": tokens.append(Token(kind: .colon, offset: base + start))
            case "=", "<", ">", "+", "-", "*", "/", "!":
                tokens.append(Token(kind: .op(String(c)), offset: base + start))
            default:
                throw ExpressionError("unexpected character '\(c)'", offset: base + start)
            }
            i += 1
        }
        tokens.append(Token(kind: .end, offset: base + chars.count))
        return tokens
    }
}
