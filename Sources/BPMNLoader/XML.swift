import CLibXML2
import Values

#if canImport(Glibc)
    import Glibc
#endif

enum Namespaces {
    static let bpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL"
    static let procrun = "urn:procrun:bpmn:1"
    static let camunda = "http://camunda.org/schema/1.0/bpmn"
    static let zeebe = "http://camunda.org/schema/zeebe/1.0"
    /// Camunda 7's ancestors, whose files name the same implementations (`activiti:class`, `flowable:class`).
    static let activiti = "http://activiti.org/bpmn"
    static let flowable = "http://flowable.org/bpmn"
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

    /// BPMN's namespace as a C string, compared without making Swift strings (the loader asks
    /// this of every element, often several times).
    nonisolated(unsafe) static let bpmnHref: UnsafeMutablePointer<xmlChar> = xmlStrdup(Namespaces.bpmn)

    /// Whether the element is in BPMN's namespace.
    var isInBPMN: Bool {
        guard let ns = node.pointee.ns, let href = ns.pointee.href else { return false }
        return xmlStrEqual(href, XMLElement.bpmnHref) != 0
    }

    func isBPMN(_ name: String) -> Bool { isInBPMN && xmlStrEqual(node.pointee.name, name) != 0 }

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
        guard var attr = node.pointee.properties else { return nil }
        return name.withCString { wanted in
            while true {
                if attr.pointee.ns == nil,
                    strcmp(UnsafeRawPointer(attr.pointee.name).assumingMemoryBound(to: CChar.self), wanted) == 0
                {
                    return XMLElement.text(of: attr.pointee.children)
                }
                guard let next = attr.pointee.next else { return nil }
                attr = next
            }
        }
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

    /// Child elements, in document order: a walk along libxml2's sibling pointers, no array.
    var children: XMLChildren { XMLChildren(first: node.pointee.children) }

    /// The concatenated text of the element (text and CDATA).
    var text: String {
        guard let content = xmlNodeGetContent(node) else { return "" }
        defer { procrun_xml_free(content) }
        return String(cString: content)
    }
}

/// The element children of a node, read lazily.
struct XMLChildren: Sequence {
    let first: xmlNodePtr?

    struct Iterator: IteratorProtocol {
        var current: xmlNodePtr?

        mutating func next() -> XMLElement? {
            while let node = current {
                current = node.pointee.next
                if node.pointee.type == XML_ELEMENT_NODE { return XMLElement(node: node) }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(current: first) }

    var isEmpty: Bool {
        var iterator = makeIterator()
        return iterator.next() == nil
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
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var i = 0
            while i < buffer.count, let next = memchr(base + i, Int32(UInt8(ascii: "\n")), buffer.count - i) {
                i = base.distance(to: next.assumingMemoryBound(to: UInt8.self)) + 1
                lineStarts.append(i)
            }
        }
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
        // The start tag as written, `<prefix:name`, from libxml2's own C strings.
        var needle: [UInt8] = [UInt8(ascii: "<")]
        if let ns = element.node.pointee.ns, let prefix = ns.pointee.prefix {
            needle.append(
                contentsOf: UnsafeBufferPointer(
                    start: prefix, count: strlen(UnsafeRawPointer(prefix).assumingMemoryBound(to: CChar.self))))
            needle.append(UInt8(ascii: ":"))
        }
        let name = element.node.pointee.name!
        needle.append(
            contentsOf: UnsafeBufferPointer(
                start: name, count: strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))))
        let limit = min(line < lineStarts.count ? lineStarts[line] : bytes.count, bytes.count - needle.count)
        let found: Int? = bytes.withUnsafeBufferPointer { buffer in
            needle.withUnsafeBufferPointer { tag in
                var i = cursor
                while i < limit {
                    // Jump to the next '<'.
                    guard let next = memchr(buffer.baseAddress! + i, Int32(UInt8(ascii: "<")), limit - i) else {
                        return nil
                    }
                    i = buffer.baseAddress!.distance(to: next.assumingMemoryBound(to: UInt8.self))
                    if memcmp(buffer.baseAddress! + i, tag.baseAddress!, tag.count) == 0 {
                        let after = buffer[i + tag.count]
                        if after == UInt8(ascii: " ") || after == UInt8(ascii: ">") || after == UInt8(ascii: "/")
                            || after == UInt8(ascii: "\n") || after == UInt8(ascii: "\t") || after == UInt8(ascii: "\r")
                        {
                            return i
                        }
                    }
                    i += 1
                }
                return nil
            }
        }
        if let found {
            cursor = found + needle.count
            return location(ofOffset: found)
        }
        return SourceLocation(file: file, line: line, column: 1)
    }
}
