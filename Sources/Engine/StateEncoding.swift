import Foundation
import Values

/// A fast writer for an instance's stored state, format 3 (see `StateCodec`): the JSON that
/// `Instance`'s `Decodable` reads, with nodes and flows named by element id, written without the
/// intermediate tree and dynamic dispatch of `Codable`: the store writes the whole state on every
/// step, and this was half the cost of a step. Ids are copied as bytes prepared once per process.
public enum StateEncoding {
    public static func encode(_ instance: Instance, codec: StateCodec) -> [UInt8] {
        codec.encode(instance)
    }
}

struct StateWriter {
    var bytes: [UInt8] = []
    /// Node and flow ids as JSON, by index (empty for a writer of plain strings).
    let nodes: [[UInt8]]
    let flows: [[UInt8]]
    let codec: StateCodec?

    init(codec: StateCodec?) {
        self.codec = codec
        nodes = codec?.nodeJSON ?? []
        flows = codec?.flowJSON ?? []
        if codec != nil { bytes.reserveCapacity(4096) }
    }

    /// A node by its id.
    mutating func node(_ index: Int) { bytes.append(contentsOf: nodes[index]) }

    /// A flow by its id.
    mutating func flow(_ index: Int) { bytes.append(contentsOf: flows[index]) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for unit in text.utf8 {
            switch unit {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(unit >> 4)])
                bytes.append(hex[Int(unit & 0xF)])
            default: bytes.append(unit)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func int(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }

    mutating func double(_ value: Double) {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            int(Int(value))
        } else if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            // JSONEncoder refuses non-finite numbers; they cannot occur in a state (JSON input has none).
            raw("0")
        }
    }

    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    mutating func date(_ value: Date) { double(value.timeIntervalSinceReferenceDate) }

    /// `"key":` preceded by a comma unless first.
    mutating func key(_ name: StaticString, _ first: inout Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        raw("\":")
    }

    mutating func array<Items: Sequence>(_ items: Items, _ element: (inout StateWriter, Items.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A dictionary with integer keys, as JSONEncoder writes it: an object with string keys.
    mutating func intKeyed<T>(_ dictionary: [Int: T], _ element: (inout StateWriter, T) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        for (i, key) in dictionary.keys.sorted().enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(String(key))
            bytes.append(UInt8(ascii: ":"))
            element(&self, dictionary[key]!)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func json(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): bool(b)
        case .number(let n): double(n)
        case .string(let s): string(s)
        case .array(let items): array(items) { $0.json($1) }
        case .object(let object):
            raw("{\"object\":")
            pairs(object)
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// A `JSONObject`: its ordered `[key, value]` pairs.
    mutating func pairs(_ object: JSONObject) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for (key, value) in object {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            bytes.append(UInt8(ascii: "["))
            string(key)
            bytes.append(UInt8(ascii: ","))
            json(value)
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func token(_ token: Token) {
        var first = true
        bytes.append(UInt8(ascii: "{"))
        key("id", &first)
        int(token.id)
        key("node", &first)
        node(token.node)
        key("scope", &first)
        int(token.scope)
        if let via = token.arrivedVia {
            key("arrivedVia", &first)
            flow(via)
        }
        key("state", &first)
        switch token.state {
        case .ready: raw("{\"ready\":{}}")
        case .waitingTask: raw("{\"waitingTask\":{}}")
        case .waitingJob: raw("{\"waitingJob\":{}}")
        case .waitingEvent: raw("{\"waitingEvent\":{}}")
        case .joining: raw("{\"joining\":{}}")
        case .inSubProcess(let scope):
            raw("{\"inSubProcess\":{\"scope\":")
            int(scope)
            raw("}}")
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func history(_ entry: HistoryEntry) {
        var first = true
        bytes.append(UInt8(ascii: "{"))
        key("time", &first)
        date(entry.time)
        key("event", &first)
        string(entry.event.rawValue)
        key("node", &first)
        node(entry.node)
        key("flows", &first)
        array(entry.flows) { $0.flow($1) }
        if let performer = entry.performer {
            key("performer", &first)
            string(performer)
        }
        if let note = entry.note {
            key("note", &first)
            string(note)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func jobRun(_ run: JobRun) {
        var first = true
        bytes.append(UInt8(ascii: "{"))
        key("node", &first)
        node(run.node)
        key("token", &first)
        int(run.token)
        key("type", &first)
        string(run.type)
        key("idempotencyKey", &first)
        string(run.idempotencyKey)
        key("tries", &first)
        array(run.tries) { writer, attempt in
            var first = true
            writer.bytes.append(UInt8(ascii: "{"))
            writer.key("attempt", &first)
            writer.int(attempt.attempt)
            writer.key("time", &first)
            writer.date(attempt.time)
            if let status = attempt.status {
                writer.key("status", &first)
                writer.int(status)
            }
            if let error = attempt.error {
                writer.key("error", &first)
                writer.string(error)
            }
            writer.bytes.append(UInt8(ascii: "}"))
        }
        key("outcome", &first)
        string(run.outcome.rawValue)
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func instance(_ instance: Instance) {
        var first = true
        bytes.append(UInt8(ascii: "{"))
        key("format", &first)
        int(StateCodec.format)
        key("id", &first)
        string(instance.id)
        key("processID", &first)
        string(instance.processID)
        key("status", &first)
        string(instance.status.rawValue)
        key("tokens", &first)
        array(instance.tokens) { $0.token($1) }
        key("scopes", &first)
        array(instance.scopes) { writer, scope in
            var first = true
            writer.bytes.append(UInt8(ascii: "{"))
            writer.key("id", &first)
            writer.int(scope.id)
            writer.key("node", &first)
            writer.node(scope.node)
            writer.key("parent", &first)
            writer.int(scope.parent)
            writer.key("ownerToken", &first)
            writer.int(scope.ownerToken)
            writer.bytes.append(UInt8(ascii: "}"))
        }
        key("context", &first)
        pairs(instance.context)
        key("history", &first)
        array(instance.history.entries) { $0.history($1) }
        if let end = instance.endNode {
            key("endNode", &first)
            node(end)
        }
        if let incident = instance.incident {
            key("incident", &first)
            var inner = true
            bytes.append(UInt8(ascii: "{"))
            key("node", &inner)
            string(incident.node)
            key("message", &inner)
            string(incident.message)
            if let budget = incident.stepBudget {
                key("stepBudget", &inner)
                int(budget)
            }
            if incident.atOutputs == true {
                key("atOutputs", &inner)
                raw("true")
            }
            bytes.append(UInt8(ascii: "}"))
        }
        key("initiator", &first)
        string(instance.initiator)
        if let user = instance.currentUser {
            key("currentUser", &first)
            string(user)
        }
        key("createdAt", &first)
        date(instance.createdAt)
        key("jobRuns", &first)
        array(instance.jobRuns) { $0.jobRun($1) }
        key("notifications", &first)
        array(instance.notifications) { writer, notification in
            var first = true
            writer.bytes.append(UInt8(ascii: "{"))
            writer.key("node", &first)
            writer.string(notification.node)
            writer.key("user", &first)
            writer.string(notification.user)
            writer.key("message", &first)
            writer.string(notification.message)
            writer.bytes.append(UInt8(ascii: "}"))
        }
        key("timers", &first)
        array(instance.timers) { writer, timer in
            var first = true
            writer.bytes.append(UInt8(ascii: "{"))
            writer.key("id", &first)
            writer.int(timer.id)
            writer.key("token", &first)
            writer.int(timer.token)
            writer.key("node", &first)
            writer.node(timer.node)
            writer.key("startedAt", &first)
            writer.date(timer.startedAt)
            writer.key("firing", &first)
            writer.int(timer.firing)
            writer.key("due", &first)
            writer.date(timer.due)
            writer.bytes.append(UInt8(ascii: "}"))
        }
        key("firedComplexGateways", &first)
        array(instance.firedComplexGateways) { writer, key in writer.string(writer.codec?.storedGatewayKey(key) ?? key)
        }
        key("multiInstances", &first)
        array(instance.multiInstances) { writer, run in
            var first = true
            writer.bytes.append(UInt8(ascii: "{"))
            writer.key("scope", &first)
            writer.int(run.scope)
            writer.key("node", &first)
            writer.node(run.node)
            writer.key("ownerToken", &first)
            writer.int(run.ownerToken)
            writer.key("total", &first)
            writer.int(run.total)
            writer.key("started", &first)
            writer.int(run.started)
            writer.key("completed", &first)
            writer.int(run.completed)
            writer.key("sequential", &first)
            writer.bool(run.sequential)
            writer.bytes.append(UInt8(ascii: "}"))
        }
        key("loopCounts", &first)
        intKeyed(instance.loopCounts) { $0.int($1) }
        key("log", &first)
        array(instance.log) { $0.string($1) }
        if let error = instance.uncaughtError {
            key("uncaughtError", &first)
            string(error)
        }
        key("compensable", &first)
        array(instance.compensable) { $0.node($1) }
        key("caughtTriggers", &first)
        intKeyed(instance.caughtTriggers) { writer, list in writer.array(list) { $0.int($1) } }
        key("awaitingCompensation", &first)
        intKeyed(instance.awaitingCompensation) { writer, list in writer.array(list) { $0.int($1) } }
        key("nextTokenID", &first)
        int(instance.nextTokenID)
        key("nextScopeID", &first)
        int(instance.nextScopeID)
        key("nextTimerID", &first)
        int(instance.nextTimerID)
        key("readyQueue", &first)
        array(instance.readyQueue) { $0.int($1) }
        bytes.append(UInt8(ascii: "}"))
    }
}
