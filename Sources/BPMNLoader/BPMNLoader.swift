import CLibXML2
import Expressions
import Foundation
import ProcessModel
import Values

/// What loading a file produced: the model when it is usable, and every finding.
public struct LoadResult: Sendable {
    public var definitions: Definitions?
    public var diagnostics: [Diagnostic]
    /// The file's BPMNDI, with `LoadOptions.readDiagram`.
    public var diagram: Diagram?

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// How a file is read.
public struct LoadOptions: Sendable {
    /// Keep script bodies as text for a script runner of the caller's, instead of parsing them
    /// as FEEL (procrun's own runner).
    public var opaqueScripts: Bool
    /// How conditions written without `=` or `${…}` are read.
    public var bareConditions: Dialect

    /// `--strict`: a task whose implementation procrun cannot run (Camunda's or Zeebe's, see
    /// `ModelBuilder.foreignImplementation`) is an error in an executable process, not a warning.
    public var strict: Bool
    /// Readers of integration node types besides procrun's own (`IntegrationReaders.builtIn`);
    /// one of these wins over a built-in reader of the same element.
    public var readers: [any IntegrationReader]
    /// A catching message event (start, intermediate, boundary) of an executable process may
    /// have nothing in its file that sends its message (a warning): `procrun message` sends it
    /// from outside. Off, BPMN's rule holds (EXT128: an executable process's message events
    /// need an operationRef): the conformance harness.
    public var messagesFromOutside: Bool
    /// Also read the file's BPMNDI (`LoadResult.diagram`), for drawing it.
    public var readDiagram = false

    public init(
        opaqueScripts: Bool = false, bareConditions: Dialect = .feel, strict: Bool = false,
        readers: [any IntegrationReader] = [], messagesFromOutside: Bool = true
    ) {
        self.opaqueScripts = opaqueScripts
        self.bareConditions = bareConditions
        self.strict = strict
        self.readers = readers
        self.messagesFromOutside = messagesFromOutside
    }
}

/// Loads BPMN 2.0 XML through libxml2 into a validated `Definitions`.
///
/// Hardened: no network, no DTDs. A document with a DOCTYPE is refused before any entity is
/// declared, so external entities are never read and entity bombs never expand.
public enum BPMNLoader {
    private static let initialized: Bool = {
        xmlInitParser()
        return true
    }()

    /// Reads and loads a file. An unreadable file is an error diagnostic, not a crash.
    public static func load(path: String, options: LoadOptions = LoadOptions()) -> LoadResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            return LoadResult(definitions: nil, diagnostics: [.error(at: nil, "\(path): \(reason)")])
        }
        return load(bytes: [UInt8](data), file: path, options: options)
    }

    public static func load(bytes: [UInt8], file: String, options: LoadOptions = LoadOptions()) -> LoadResult {
        _ = initialized
        let guardPointer = UnsafeMutablePointer<procrun_xml_guard>.allocate(capacity: 1)
        guardPointer.initialize(to: procrun_xml_guard(sawDoctype: 0, line: 0, column: 0))
        defer { guardPointer.deallocate() }
        guard let context = procrun_xml_new_context(guardPointer) else {
            return LoadResult(definitions: nil, diagnostics: [.error(at: nil, "\(file): cannot create an XML parser")])
        }
        defer { xmlFreeParserCtxt(context) }

        if bytes.isEmpty {
            return LoadResult(
                definitions: nil,
                diagnostics: [
                    .error(at: SourceLocation(file: file, line: 1, column: 1), "malformed XML: the file is empty")
                ])
        }
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
                xmlCtxtReadMemory(context, chars, Int32(buffer.count), file, nil, procrun_xml_loader_options())
            }
        }
        defer { if let document { xmlFreeDoc(document) } }

        if guardPointer.pointee.sawDoctype != 0 {
            let location = SourceLocation(
                file: file, line: Int(max(1, guardPointer.pointee.line)),
                column: Int(max(1, guardPointer.pointee.column)))
            return LoadResult(
                definitions: nil,
                diagnostics: [
                    .error(
                        at: location,
                        "DOCTYPE declarations are not allowed: procrun refuses DTDs and entities (external entities, entity expansion) in BPMN files"
                    )
                ])
        }
        guard let document, let root = xmlDocGetRootElement(document) else {
            var location = SourceLocation(file: file, line: 1, column: 1)
            var message = "malformed XML"
            if let error = xmlCtxtGetLastError(context) {
                location = SourceLocation(
                    file: file, line: Int(max(1, error.pointee.line)), column: Int(max(1, error.pointee.int2)))
                if let text = error.pointee.message {
                    message += ": " + String(cString: text).trimmingWhitespace()
                }
            }
            return LoadResult(definitions: nil, diagnostics: [.error(at: location, message)])
        }

        var isUTF8 = true
        if let encoding = document.pointee.encoding {
            let name = String(cString: encoding).uppercased()
            isUTF8 = name == "UTF-8" || name == "UTF8"
        }
        var builder = ModelBuilder(
            index: LocationIndex(file: file, bytes: bytes, utf8: isUTF8), file: file, options: options)
        let definitions = builder.build(root: XMLElement(node: root))
        let diagnostics = builder.diagnostics
        return LoadResult(
            definitions: diagnostics.contains { $0.severity == .error } ? nil : definitions, diagnostics: diagnostics,
            diagram: options.readDiagram ? Diagram.read(XMLElement(node: root)) : nil)
    }
}
