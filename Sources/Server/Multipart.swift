import Foundation

/// The first file part of a `multipart/form-data` body (RFC 7578): enough for a deploy form.
enum Multipart {
    static func firstFile(_ body: [UInt8], contentType: String) -> (filename: String?, bytes: [UInt8])? {
        guard let range = contentType.range(of: "boundary=") else { return nil }
        var boundary = String(contentType[range.upperBound...])
        if let end = boundary.firstIndex(of: ";") { boundary = String(boundary[..<end]) }
        boundary = boundary.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\""])
        guard !boundary.isEmpty else { return nil }
        let delimiter = Array(("--" + boundary).utf8)
        var parts: [ArraySlice<UInt8>] = []
        var start: Int? = nil
        var index = 0
        while let found = find(delimiter, in: body, from: index) {
            if let start { parts.append(body[start..<max(start, found - 2)]) }  // minus the CRLF before it
            index = found + delimiter.count
            start = index + 2  // after the CRLF that ends the delimiter line
            if index + 1 < body.count, body[index] == UInt8(ascii: "-"), body[index + 1] == UInt8(ascii: "-") { break }
        }
        for part in parts {
            guard let split = find(Array("\r\n\r\n".utf8), in: Array(part), from: 0) else { continue }
            let headers = String(decoding: part.prefix(split), as: UTF8.self)
            guard headers.lowercased().contains("filename=") || headers.lowercased().contains("name=\"file\"") else {
                continue
            }
            var filename: String? = nil
            if let found = headers.range(of: "filename=\"") {
                let rest = headers[found.upperBound...]
                filename = rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
            }
            return (filename, Array(part.dropFirst(split + 4)))
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else {
            return nil
        }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && haystack[index..<index + needle.count].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}
