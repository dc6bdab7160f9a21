import Foundation
import ProcessModel

/// What reading and writing an instance's stored state needs of its process.
///
/// In memory an instance names nodes and flows by their index in the process's arrays (fast);
/// a stored state names them by their BPMN element id, so that a state survives a loader that
/// orders elements differently. The state carries `"format": 3`; a state without it is format 1
/// (indices, written before ids) and is read by the indices of the same process, which the same
/// loader orders as it did when it wrote them. Format 3 names integration jobs by type
/// (`jobRuns`, token state `waitingJob`), where format 2 knew only webhooks (`webhookRuns`,
/// `waitingWebhook`); both are read. Built once per process (`Engine.stateCodec`, the
/// store's cache of definitions), never per state.
public final class StateCodec: Sendable {
    /// The format this procrun writes.
    public static let format = 3

    public let process: ProcessDefinition
    /// Each node's id as JSON (quoted, escaped), by index: the writer copies the bytes.
    let nodeJSON: [[UInt8]]
    let flowJSON: [[UInt8]]
    let flowIndex: [String: Int]

    public init(process: ProcessDefinition) {
        self.process = process
        nodeJSON = process.nodes.map { StateCodec.quoted($0.id) }
        flowJSON = process.flows.map { StateCodec.quoted($0.id) }
        var flows: [String: Int] = [:]
        for (i, flow) in process.flows.enumerated() { flows[flow.id] = i }
        flowIndex = flows
    }

    private static func quoted(_ id: String) -> [UInt8] {
        var writer = StateWriter(codec: nil)
        writer.string(id)
        return writer.bytes
    }

    /// The state's JSON: `StateEncoding.encode`.
    public func encode(_ instance: Instance) -> [UInt8] {
        var out = StateWriter(codec: self)
        out.instance(instance)
        return out.bytes
    }

    /// Reads a stored state of any format this procrun knows. Throws `StateError` when the state
    /// names an element the process does not have (or is of a newer format), `DecodingError`
    /// when it is not a state at all.
    public func decode(_ data: Data) throws -> Instance {
        let decoder = JSONDecoder()
        decoder.userInfo[StateCodec.userInfoKey] = self
        return try decoder.decode(Instance.self, from: data)
    }

    static let userInfoKey = CodingUserInfoKey(rawValue: "procrun.stateCodec")!

    static func of(_ decoder: any Decoder) throws -> StateCodec {
        guard let codec = decoder.userInfo[userInfoKey] as? StateCodec else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a stored state is read with its process (StateCodec.decode)"))
        }
        return codec
    }

    /// The node index a stored reference names.
    func node(_ reference: ElementReference, at path: @autoclosure () -> [any CodingKey]) throws -> Int {
        switch reference {
        case .id(let id):
            guard let index = process.nodeIndex(id: id) else {
                throw StateError.unknownElement(id: id, path: StateError.describe(path()))
            }
            return index
        case .index(let index):
            guard process.nodes.indices.contains(index) else {
                throw StateError.unknownIndex(
                    index, of: "node", count: process.nodes.count, path: StateError.describe(path()))
            }
            return index
        }
    }

    /// The flow index a stored reference names.
    func flow(_ reference: ElementReference, at path: @autoclosure () -> [any CodingKey]) throws -> Int {
        switch reference {
        case .id(let id):
            guard let index = flowIndex[id] else {
                throw StateError.unknownElement(id: id, path: StateError.describe(path()))
            }
            return index
        case .index(let index):
            guard process.flows.indices.contains(index) else {
                throw StateError.unknownIndex(
                    index, of: "sequence flow", count: process.flows.count, path: StateError.describe(path()))
            }
            return index
        }
    }

    /// A complex gateway's "node/scope" key, in memory "index/scope", stored "id/scope".
    func storedGatewayKey(_ key: String) -> String {
        guard let slash = key.lastIndex(of: "/"), let index = Int(key[..<slash]), process.nodes.indices.contains(index)
        else { return key }
        return process.nodes[index].id + key[slash...]
    }

    func gatewayKey(_ stored: String, format: Int, at path: @autoclosure () -> [any CodingKey]) throws -> String {
        guard let slash = stored.lastIndex(of: "/") else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: path(), debugDescription: "'\(stored)' is not node/scope"))
        }
        let name = String(stored[..<slash])
        let reference: ElementReference = format >= 2 ? .id(name) : Int(name).map(ElementReference.index) ?? .id(name)
        return String(try node(reference, at: path())) + stored[slash...]
    }
}

/// A node or flow as a stored state names it: by id (format 2 on) or by index (format 1).
enum ElementReference: Decodable {
    case id(String)
    case index(Int)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(String.self) {
            self = .id(id)
        } else {
            self = .index(try container.decode(Int.self))
        }
    }
}

/// Why a stored state cannot be read with the process of its definition.
public enum StateError: Error, Sendable, Equatable {
    /// The state names an element id the process does not contain; `path` says where
    /// (`tokens.0.node`).
    case unknownElement(id: String, path: String)
    /// A format 1 state names an index past the process's elements.
    case unknownIndex(Int, of: String, count: Int, path: String)
    /// Written by a newer procrun.
    case newerFormat(Int)

    static func describe(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    /// Whether the element is one the instance waits at (a token, timer, scope or
    /// multi-instance activity), rather than one its history or records name.
    public var isWaitingElement: Bool {
        switch self {
        case .unknownElement(_, let path), .unknownIndex(_, _, _, let path):
            ["tokens.", "timers.", "scopes.", "multiInstances.", "firedComplexGateways"].contains { path.hasPrefix($0) }
        case .newerFormat: false
        }
    }

    /// What the state names that the definition lacks, e.g. "element 'Task_gone' (tokens.0.node)".
    public var subject: String {
        switch self {
        case .unknownElement(let id, let path): "element '\(id)' (\(path))"
        case .unknownIndex(let index, let kind, let count, let path): "\(kind) #\(index) (\(path)) of \(count)"
        case .newerFormat(let format): "state format \(format), newer than this procrun reads (\(StateCodec.format))"
        }
    }
}
