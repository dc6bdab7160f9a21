import CLibXML2
import Values

enum Namespaces {
    static let bpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL"
    static let procrun = "urn:procrun:bpmn:1"
    static let camunda = "http://camunda.org/schema/1.0/bpmn"
    static let zeebe = "http://camunda.org/schema/zeebe/1.0"
    static let xsi = "http://www.w3.org/2001/XMLSchema-instance"
}

/// A read-only view of one element of a parsed libxml2 tree. Valid while the document lives.
struct XMLElement {
    let node: xmlNodePtr

    var localName: String { String(cString: node.pointee.name) }

    var namespace: String? {
        guard let ns = node.pointee.ns, let href = ns.pointee.href else { return nil }
        return String(cString: href)
    }

    var prefix: String? {
        guard let ns = node.pointee.ns, let prefix = ns.pointee.prefix else { return nil }
        return String(cString: prefix)
    }

    /// The name as written in the file, `bpmn:task`.
    var qualifiedName: String {
        if let prefix { return prefix + ":" + localName }
        return localName
    }

    func isBPMN(_ name: String) -> Bool { namespace == Namespaces.bpmn && localName == name }

    var line: Int { Int(xmlGetLineNo(node)) }

    /// All attributes as (namespace, local name, value).
    var attributes: [(namespace: String?, name: String, value: String)] {
        var result: [(String?, String, String)] = []
        var attr = node.pointee.properties
        while let a = attr {
            let name = String(cString: a.pointee.name)
            let ns = a.pointee.ns.flatMap { $0.pointee.href.map { String(cString: $0) } }
            result.append((ns, name, XMLElement.text(of: a.pointee.children)))
            attr = a.pointee.next
        }
        return result
    }

    /// An attribute in no namespace (BPMN's own attributes are unqualified).
    func attribute(_ name: String) -> String? {
        var attr = node.pointee.properties
        while let a = attr {
            if a.pointee.ns == nil, xmlStrEqual(a.pointee.name, name) != 0 {
                return XMLElement.text(of: a.pointee.children)
            }
            attr = a.pointee.next
        }
        return nil
    }

    func attribute(_ name: String, namespace: String) -> String? {
        var attr = node.pointee.properties
        while let a = attr {
            if let ns = a.pointee.ns, let href = ns.pointee.href, xmlStrEqual(href, namespace) != 0,
                xmlStrEqual(a.pointee.name, name) != 0
            {
                return XMLElement.text(of: a.pointee.children)
            }
            attr = a.pointee.next
        }
        return nil
    }

    private static func text(of first: xmlNodePtr?) -> String {
        var result = ""
        var child = first
        while let c = child {
            if let content = c.pointee.content { result += String(cString: content) }
            child = c.pointee.next
        }
        return result
    }

    /// Child elements, in document order.
    var children: [XMLElement] {
        var result: [XMLElement] = []
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE { result.append(XMLElement(node: c)) }
            child = c.pointee.next
        }
        return result
    }

    /// The concatenated text of the element (text and CDATA).
    var text: String {
        guard let content = xmlNodeGetContent(node) else { return "" }
        defer { procrun_xml_free(content) }
        return String(cString: content)
    }
}

/// Maps elements to `FILE:LINE:COL`. libxml2's tree keeps only a line per element, so the column
/// is found by searching the raw bytes for the start tag, moving forward through the file as the
/// loader visits elements in document order.
struct LocationIndex {
    let file: String
    let bytes: [UInt8]
    let countsCharacters: Bool
    private var lineStarts: [Int] = [0]
    private var cursor = 0

    init(file: String, bytes: [UInt8], utf8: Bool) {
        self.file = file
        self.bytes = bytes
        self.countsCharacters = utf8
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") { lineStarts.append(i + 1) }
    }

    func location(ofOffset offset: Int) -> SourceLocation {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        var column = 1
        var i = lineStarts[low]
        while i < offset {
            if !countsCharacters || bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        // A UTF-8 byte-order mark is not a column.
        if low == 0 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) && offset >= 3 { column -= 1 }
        return SourceLocation(file: file, line: low + 1, column: column)
    }

    /// Locates an element out of document order: its first start tag on its line.
    func locateOnLine(_ element: XMLElement) -> SourceLocation {
        var copy = self
        copy.cursor = lineStarts[min(max(0, element.line - 1), lineStarts.count - 1)]
        return copy.locate(element)
    }

    mutating func locate(_ element: XMLElement) -> SourceLocation {
        let line = max(1, element.line)
        let needle = Array(("<" + element.qualifiedName).utf8)
        var i = cursor
        let limit = line < lineStarts.count ? lineStarts[line] : bytes.count
        while i + needle.count < bytes.count && i < limit {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                let after = bytes[i + needle.count]
                if after == UInt8(ascii: " ") || after == UInt8(ascii: ">") || after == UInt8(ascii: "/")
                    || after == UInt8(ascii: "\n") || after == UInt8(ascii: "\t") || after == UInt8(ascii: "\r")
                {
                    cursor = i + needle.count
                    return location(ofOffset: i)
                }
            }
            i += 1
        }
        return SourceLocation(file: file, line: line, column: 1)
    }
}
