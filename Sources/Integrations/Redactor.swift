import Foundation
import Values

/// Hides secret values in text that leaves the Integrations module: error messages, the try's
/// result. A secret is hidden in every form procrun itself may have written it in: as it is,
/// percent-encoded (the URL encoding, upper- or lower-case hex), form-encoded (spaces as `+`) and
/// JSON-escaped (as procrun writes JSON, with `\/`, and with non-ASCII as `\uXXXX`). Each occurrence
/// becomes `***`.
public struct Redactor: Sendable {
    /// Every form of every secret as UTF-8, longest first so that the longest match wins.
    let needles: [[UInt8]]
    /// `starts[b]`: some needle begins with byte b (a cheap filter for the scan).
    let starts: [Bool]

    public static let mask = "***"

    public init(secrets: [String]) {
        var forms = Set<String>()
        for secret in secrets where !secret.isEmpty {
            forms.formUnion(Redactor.forms(of: secret))
        }
        needles = forms.map { Array($0.utf8) }.sorted {
            $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1)
        }
        var starts = [Bool](repeating: false, count: 256)
        for needle in needles { starts[Int(needle[0])] = true }
        self.starts = starts
    }

    public var isEmpty: Bool { needles.isEmpty }

    /// The forms of one secret that procrun may produce (non-empty, distinct).
    public static func forms(of secret: String) -> Set<String> {
        let percent = RequestBuilder.percentEncode(secret)
        let form = RequestBuilder.formEncode(secret)
        let json = String(JSONWriter.quoted(secret).dropFirst().dropLast())
        var asciiJSON = ""
        for unit in json.utf16 {
            if unit < 0x80 {
                asciiJSON.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            } else {
                let hex = String(unit, radix: 16)
                asciiJSON += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        let candidates = [
            secret, percent, lowerHex(percent), form, lowerHex(form), json,
            json.replacingOccurrences(of: "/", with: "\\/"),
            asciiJSON, asciiJSON.replacingOccurrences(of: "/", with: "\\/"), upperUnicodeEscapes(asciiJSON),
        ]
        return Set(candidates.filter { !$0.isEmpty })
    }

    /// `\u00e9` → `\u00E9`.
    static func upperUnicodeEscapes(_ json: String) -> String {
        var out = ""
        var remaining = 0
        var previous: Character?
        for character in json {
            if previous == "\\" && character == "u" {
                remaining = 4
                out.append(character)
            } else if remaining > 0 {
                remaining -= 1
                out += character.uppercased()
            } else {
                out.append(character)
            }
            // An escaped backslash does not start an escape.
            previous = previous == "\\" ? nil : character
        }
        return out
    }

    /// `%C3%A9` → `%c3%a9`: the same encoding, as some libraries and servers spell it.
    static func lowerHex(_ encoded: String) -> String {
        var out = ""
        var remaining = 0
        for character in encoded {
            if character == "%" {
                remaining = 2
                out.append(character)
            } else if remaining > 0 {
                remaining -= 1
                out += character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// `text` with every form of every secret replaced by `***`.
    public func redact(_ text: String) -> String {
        redactIfNeeded(text) ?? text
    }

    /// The redacted text, or nil when there was nothing to hide.
    func redactIfNeeded(_ text: String) -> String? {
        if needles.isEmpty { return nil }
        var text = text
        return text.withUTF8 { bytes -> String? in
            var output: [UInt8] = []
            var copied = 0
            var index = 0
            while index < bytes.count {
                if starts[Int(bytes[index])], let needle = needles.first(where: { matches($0, bytes, at: index) }) {
                    if output.isEmpty { output.reserveCapacity(bytes.count) }
                    output.append(contentsOf: bytes[copied..<index])
                    output.append(contentsOf: Redactor.mask.utf8)
                    index += needle.count
                    copied = index
                } else {
                    index += 1
                }
            }
            // The needles are whole UTF-8 sequences, so the cuts fall on character boundaries.
            guard copied > 0 else { return nil }
            output.append(contentsOf: bytes[copied...])
            return String(decoding: output, as: UTF8.self)
        }
    }

    private func matches(_ needle: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        guard bytes.count - index >= needle.count else { return false }
        for offset in 0..<needle.count where bytes[index + offset] != needle[offset] { return false }
        return true
    }

    /// A JSON value with every string and key redacted.
    public func redact(_ value: JSONValue) -> JSONValue {
        redactIfNeeded(value) ?? value
    }

    func redactIfNeeded(_ value: JSONValue) -> JSONValue? {
        if needles.isEmpty { return nil }
        switch value {
        case .string(let text):
            return redactIfNeeded(text).map(JSONValue.string)
        case .array(let items):
            var copy: [JSONValue]?
            for (index, item) in items.enumerated() {
                guard let redacted = redactIfNeeded(item) else { continue }
                if copy == nil { copy = items }
                copy![index] = redacted
            }
            return copy.map(JSONValue.array)
        case .object(let object):
            var copy: JSONObject?
            for (key, item) in object {
                let newKey = redactIfNeeded(key)
                let newItem = redactIfNeeded(item)
                guard newKey != nil || newItem != nil else { continue }
                if copy == nil { copy = object }
                if let newKey {
                    copy![key] = nil
                    copy![newKey] = newItem ?? item
                } else {
                    copy![key] = newItem
                }
            }
            return copy.map(JSONValue.object)
        case .null, .bool, .number:
            return nil
        }
    }
}
