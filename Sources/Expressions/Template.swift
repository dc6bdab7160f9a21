import Values

/// An ELMA365-style text template: literal text with `{$var}`, `{$a.b.c}` and
/// `{DateTime("FORMAT"[, {$var}[, "locale"]])}` placeholders. Used for webhook URLs, header
/// values and text bodies. A `{` that starts neither form is literal text, so JSON bodies
/// need no escaping.
public struct Template: Sendable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case text(String)
        /// A context variable path, e.g. `["customer", "name"]`.
        case variable([String])
        case dateTime(format: String, variable: [String]?, locale: String?)
    }

    public let source: String
    public let segments: [Segment]

    public var description: String { source }

    /// Every variable path the template reads.
    public var variables: [[String]] {
        segments.compactMap {
            switch $0 {
            case .variable(let path): path
            case .dateTime(_, let path?, _): path
            default: nil
            }
        }
    }

    static let quotePairs: [Character: Character] = ["\"": "\"", "'": "'", "«": "»", "“": "”", "„": "“"]

    public init(_ source: String) throws(ExpressionError) {
        self.source = source
        let chars = Array(source)
        var segments: [Segment] = []
        var literal = ""
        var i = 0

        func skipSpaces() { while i < chars.count && chars[i].isWhitespace { i += 1 } }

        func readPath(from start: Int) throws(ExpressionError) -> (path: [String], end: Int) {
            // chars[start] == "{", chars[start+1] == "$"
            var j = start + 2
            var text = ""
            while j < chars.count && chars[j] != "}" {
                text.append(chars[j])
                j += 1
            }
            guard j < chars.count else { throw ExpressionError("unclosed '{$' placeholder", offset: start) }
            let path = text.trimmingWhitespace().split(separator: ".", omittingEmptySubsequences: false).map(
                String.init)
            guard !path.isEmpty,
                path.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } })
            else {
                throw ExpressionError("invalid variable name '\(text)' in '{$…}'", offset: start)
            }
            return (path, j + 1)
        }

        func readQuoted() throws(ExpressionError) -> String {
            let open = i
            guard i < chars.count, let close = Template.quotePairs[chars[i]] else {
                throw ExpressionError("expected a quoted string in DateTime()", offset: i)
            }
            i += 1
            var value = ""
            while i < chars.count && chars[i] != close {
                value.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw ExpressionError("unterminated string in DateTime()", offset: open) }
            i += 1
            return value
        }

        while i < chars.count {
            if chars[i] == "{" && i + 1 < chars.count && chars[i + 1] == "$" {
                if !literal.isEmpty {
                    segments.append(.text(literal))
                    literal = ""
                }
                let (path, end) = try readPath(from: i)
                segments.append(.variable(path))
                i = end
                continue
            }
            if chars[i] == "{" && String(chars[(i + 1)..<min(chars.count, i + 10)]) == "DateTime(" {
                if !literal.isEmpty {
                    segments.append(.text(literal))
                    literal = ""
                }
                let start = i
                i += 10
                skipSpaces()
                let format = try readQuoted()
                var variable: [String]?
                var locale: String?
                skipSpaces()
                if i < chars.count && chars[i] == "," {
                    i += 1
                    skipSpaces()
                    if i + 1 < chars.count && chars[i] == "{" && chars[i + 1] == "$" {
                        let (path, end) = try readPath(from: i)
                        variable = path
                        i = end
                        skipSpaces()
                        if i < chars.count && chars[i] == "," {
                            i += 1
                            skipSpaces()
                            locale = try readQuoted()
                            skipSpaces()
                        }
                    } else {
                        locale = try readQuoted()
                        skipSpaces()
                    }
                }
                guard i + 1 < chars.count, chars[i] == ")", chars[i + 1] == "}" else {
                    throw ExpressionError("expected ')}' to close DateTime(", offset: start)
                }
                i += 2
                if let locale, DateFormat.Locale(identifier: locale) == nil {
                    throw ExpressionError(
                        "unknown locale '\(locale)' in DateTime() (use en_US or ru_RU)", offset: start)
                }
                segments.append(.dateTime(format: format, variable: variable, locale: locale))
                continue
            }
            literal.append(chars[i])
            i += 1
        }
        if !literal.isEmpty { segments.append(.text(literal)) }
        self.segments = segments
    }
}
