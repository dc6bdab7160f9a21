/// A strict JSON (RFC 8259) reader that reports the line and column of the first problem.
public struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    private let file: String

    /// Nesting deeper than this is refused rather than recursed into.
    public static let maximumDepth = 512

    private init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// Parses one JSON document. `file` only names the input in diagnostics.
    public static func parse(_ bytes: [UInt8], file: String = "<json>") throws(Diagnostic) -> JSONValue {
        var parser = JSONParser(bytes: bytes, file: file)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw parser.error("unexpected content after the JSON value")
        }
        return value
    }

    public static func parse(_ text: String, file: String = "<json>") throws(Diagnostic) -> JSONValue {
        try parse(Array(text.utf8), file: file)
    }

    /// One step of a path into a JSON document: a key of an object or an index of a list.
    public enum PathStep: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case key(String)
        case index(Int)
        public init(stringLiteral value: String) { self = .key(value) }
        public init(integerLiteral value: Int) { self = .index(value) }
    }

    /// Where the value at `path` starts in a document, for messages about what a valid document
    /// says (`FILE:LINE:COL`). When the path goes further than the document, the location of the
    /// deepest value it reaches; nil (or a location near the fault) when the document does not
    /// parse.
    public static func location(of path: [PathStep], in bytes: [UInt8], file: String) -> SourceLocation? {
        var parser = JSONParser(bytes: bytes, file: file)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipWhitespace()
        var found = parser.index
        steps: for step in path {
            guard parser.index < bytes.count else { return nil }
            switch (step, bytes[parser.index]) {
            case (.key(let wanted), UInt8(ascii: "{")):
                parser.index += 1
                while true {
                    parser.skipWhitespace()
                    guard parser.index < bytes.count, bytes[parser.index] == UInt8(ascii: "\""),
                        let key = try? parser.parseString()
                    else { break steps }
                    parser.skipWhitespace()
                    guard parser.index < bytes.count, bytes[parser.index] == UInt8(ascii: ":") else { return nil }
                    parser.index += 1
                    parser.skipWhitespace()
                    if key == wanted { break }
                    guard (try? parser.parseValue()) != nil else { return nil }
                    parser.skipWhitespace()
                    guard parser.index < bytes.count, bytes[parser.index] == UInt8(ascii: ",") else { break steps }
                    parser.index += 1
                }
            case (.index(let wanted), UInt8(ascii: "[")):
                parser.index += 1
                for _ in 0..<wanted {
                    parser.skipWhitespace()
                    guard (try? parser.parseValue()) != nil else { return nil }
                    parser.skipWhitespace()
                    guard parser.index < bytes.count, bytes[parser.index] == UInt8(ascii: ",") else { break steps }
                    parser.index += 1
                }
                parser.skipWhitespace()
                guard parser.index < bytes.count, bytes[parser.index] != UInt8(ascii: "]") else { break steps }
            default:
                break steps
            }
            found = parser.index
        }
        return parser.location(of: found)
    }

    /// The 1-based line and column (in characters) of a byte offset.
    private func location(of offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        var i = 0
        while i < offset && i < bytes.count {
            if bytes[i] == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if bytes[i] & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    private func error(_ message: String, at offset: Int? = nil) -> Diagnostic {
        .error(at: location(of: offset ?? index), message)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of input" }
        let byte = bytes[index]
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func parseValue() throws(Diagnostic) -> JSONValue {
        guard index < bytes.count else { throw error("expected a JSON value, found end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("expected a JSON value, found \(describeCurrent())")
        }
    }

    private mutating func expectLiteral(_ literal: String) throws(Diagnostic) {
        let start = index
        let expected = Array(literal.utf8)
        let count = expected.count
        guard index + count <= bytes.count, bytes[index..<index + count].elementsEqual(expected) else {
            throw error("expected a JSON value, found \(describeCurrent())", at: start)
        }
        index += count
    }

    private mutating func enter() throws(Diagnostic) {
        depth += 1
        if depth > JSONParser.maximumDepth { throw error("JSON nested deeper than \(JSONParser.maximumDepth) levels") }
    }

    private mutating func parseObject() throws(Diagnostic) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var object = JSONObject()
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeCurrent())")
            }
            let keyStart = index
            let key = try parseString()
            // The key goes in before its value is read, so that a duplicate is reported where it
            // stands; one look-up per key (a scan of a small object, a hash probe in a large one).
            if object.appendIfAbsent(key, .null) != nil { throw error("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("expected ':' after key \"\(key)\", found \(describeCurrent())")
            }
            index += 1
            skipWhitespace()
            object.setLastValue(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("expected ',' or '}', found end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            }
            throw error("expected ',' or '}', found \(describeCurrent())")
        }
    }

    private mutating func parseArray() throws(Diagnostic) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("expected ',' or ']', found end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(array)
            }
            throw error("expected ',' or ']', found \(describeCurrent())")
        }
    }

    private mutating func parseHex4() throws(Diagnostic) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    private mutating func parseString() throws(Diagnostic) -> String {
        let start = index
        index += 1
        // The common case, a string without escapes, is made straight from the input bytes.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"),
            bytes[index] >= 0x20
        {
            index += 1
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
            index += 1
            let string: String? = bytes.withUnsafeBufferPointer { buffer in
                let text = UnsafeBufferPointer(rebasing: buffer[(start + 1)..<(index - 1)])
                return JSONParser.isValidUTF8(text) ? String(decoding: text, as: UTF8.self) : nil
            }
            guard let string else { throw error("string is not valid UTF-8", at: start) }
            return string
        }
        var scalars: [UInt8] = Array(bytes[(start + 1)..<index])
        var runStart = index
        while true {
            guard index < bytes.count else { throw error("unterminated string", at: start) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                scalars.append(contentsOf: bytes[runStart..<index])
                index += 1
                break
            }
            if byte < 0x20 { throw error("control character in string; escape it") }
            if byte == UInt8(ascii: "\\") {
                scalars.append(contentsOf: bytes[runStart..<index])
                index += 1
                guard index < bytes.count else { throw error("unterminated string", at: start) }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw error("lone surrogate in \\u escape") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw error("lone surrogate in \\u escape")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw error("invalid escape '\\\(Character(Unicode.Scalar(escape)))'", at: index - 2)
                }
                runStart = index
                continue
            }
            index += 1
        }
        guard let string = String(validating: scalars, as: UTF8.self) else {
            throw error("string is not valid UTF-8", at: start)
        }
        return string
    }

    /// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
    /// past U+10FFFF). A loop over bytes: the standard library's generic validation costs more
    /// than the rest of parsing a short string.
    static func isValidUTF8(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let count = text.count
        func continuation(_ offset: Int) -> UInt8? {
            guard i + offset < count, text[i + offset] & 0xC0 == 0x80 else { return nil }
            return text[i + offset]
        }
        while i < count {
            let lead = text[i]
            switch lead {
            case 0x00..<0x80:
                i += 1
            case 0xC2..<0xE0:
                guard continuation(1) != nil else { return false }
                i += 2
            case 0xE0..<0xF0:
                guard let second = continuation(1), continuation(2) != nil else { return false }
                if lead == 0xE0 && second < 0xA0 { return false }  // overlong
                if lead == 0xED && second >= 0xA0 { return false }  // UTF-16 surrogate
                i += 3
            case 0xF0..<0xF5:
                guard let second = continuation(1), continuation(2) != nil, continuation(3) != nil else { return false }
                if lead == 0xF0 && second < 0x90 { return false }  // overlong
                if lead == 0xF4 && second >= 0x90 { return false }  // past U+10FFFF
                i += 4
            default:
                return false
            }
        }
        return true
    }

    private mutating func parseNumber() throws(Diagnostic) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ parser: inout JSONParser) -> Int {
            let from = parser.index
            while parser.index < parser.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index])
            {
                parser.index += 1
            }
            return parser.index - from
        }
        let intStart = index
        let intDigits = digits(&self)
        if intDigits == 0 { throw error("invalid number", at: start) }
        if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") {
            throw error("leading zeros are not allowed", at: start)
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            if digits(&self) == 0 { throw error("expected digits after '.'") }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            if digits(&self) == 0 { throw error("expected digits in exponent") }
        }
        // A whole number of up to 15 digits is exact in a Double: no text to make and convert.
        if index - intStart == intDigits && intDigits <= 15 {
            var whole = 0
            for digit in bytes[intStart..<index] { whole = whole * 10 + Int(digit - UInt8(ascii: "0")) }
            return bytes[start] == UInt8(ascii: "-") ? -Double(whole) : Double(whole)
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw error("number out of range", at: start) }
        return value
    }
}
