import Foundation
import Values

// Reading a stored state (see `StateCodec`): the fields `StateWriter` writes, nodes and flows
// named by id (format 2 on) or by index (format 1), turned into the indices the engine runs on.
// An element the process does not have is a `StateError`: never a guess.

extension Token {
    enum CodingKeys: String, CodingKey { case id, node, scope, arrivedVia, state }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        node = try codec.node(c.decode(ElementReference.self, forKey: .node), at: c.codingPath + [CodingKeys.node])
        scope = try c.decode(Int.self, forKey: .scope)
        arrivedVia = try c.decodeIfPresent(ElementReference.self, forKey: .arrivedVia).map {
            try codec.flow($0, at: c.codingPath + [CodingKeys.arrivedVia])
        }
        state = try c.decode(State.self, forKey: .state)
    }
}

extension ScopeInstance {
    enum CodingKeys: String, CodingKey { case id, node, parent, ownerToken }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        node = try codec.node(c.decode(ElementReference.self, forKey: .node), at: c.codingPath + [CodingKeys.node])
        parent = try c.decode(Int.self, forKey: .parent)
        ownerToken = try c.decode(Int.self, forKey: .ownerToken)
    }
}

extension PendingTimer {
    enum CodingKeys: String, CodingKey { case id, token, node, startedAt, firing, due }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        token = try c.decode(Int.self, forKey: .token)
        node = try codec.node(c.decode(ElementReference.self, forKey: .node), at: c.codingPath + [CodingKeys.node])
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        firing = try c.decode(Int.self, forKey: .firing)
        due = try c.decode(Date.self, forKey: .due)
    }
}

extension HistoryEntry {
    enum CodingKeys: String, CodingKey { case time, event, node, flows, performer, note }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        time = try c.decode(Date.self, forKey: .time)
        event = try c.decode(Event.self, forKey: .event)
        node = try codec.node(c.decode(ElementReference.self, forKey: .node), at: c.codingPath + [CodingKeys.node])
        flows = try c.decode([ElementReference].self, forKey: .flows).enumerated().map { i, flow in
            try codec.flow(flow, at: c.codingPath + [CodingKeys.flows, IndexKey(i)])
        }
        performer = try c.decodeIfPresent(String.self, forKey: .performer)
        note = try c.decodeIfPresent(String.self, forKey: .note)
    }
}

extension JobRun {
    enum CodingKeys: String, CodingKey { case node, token, type, idempotencyKey, tries, outcome }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        node = try codec.node(c.decode(ElementReference.self, forKey: .node), at: c.codingPath + [CodingKeys.node])
        token = try c.decode(Int.self, forKey: .token)
        // Format 2 knew only webhooks.
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "webhook"
        idempotencyKey = try c.decode(String.self, forKey: .idempotencyKey)
        tries = try c.decodeIfPresent([Try].self, forKey: .tries) ?? []
        outcome = try c.decodeIfPresent(Outcome.self, forKey: .outcome) ?? .pending
    }
}

extension MultiInstanceRun {
    enum CodingKeys: String, CodingKey { case scope, node, ownerToken, total, started, completed, sequential }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scope = try c.decode(Int.self, forKey: .scope)
        node = try codec.node(c.decode(ElementReference.self, forKey: .node), at: c.codingPath + [CodingKeys.node])
        ownerToken = try c.decode(Int.self, forKey: .ownerToken)
        total = try c.decode(Int.self, forKey: .total)
        started = try c.decode(Int.self, forKey: .started)
        completed = try c.decode(Int.self, forKey: .completed)
        sequential = try c.decode(Bool.self, forKey: .sequential)
    }
}

extension Instance {
    enum CodingKeys: String, CodingKey {
        case format, id, processID, status, tokens, scopes, context, history, endNode, incident, initiator, currentUser,
            createdAt
        case jobRuns, webhookRuns, notifications, timers, firedComplexGateways, multiInstances, loopCounts, log,
            uncaughtError,
            compensable
        case caughtTriggers, awaitingCompensation, nextTokenID, nextScopeID, nextTimerID, readyQueue
    }

    public init(from decoder: any Decoder) throws {
        let codec = try StateCodec.of(decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // No format field: format 1, written before states named elements by id.
        let format = try c.decodeIfPresent(Int.self, forKey: .format) ?? 1
        guard format <= StateCodec.format else { throw StateError.newerFormat(format) }
        id = try c.decode(String.self, forKey: .id)
        processID = try c.decode(String.self, forKey: .processID)
        status = try c.decode(InstanceStatus.self, forKey: .status)
        context = try c.decode(JSONObject.self, forKey: .context)
        initiator = try c.decode(String.self, forKey: .initiator)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        tokens = try c.decodeIfPresent([Token].self, forKey: .tokens) ?? []
        scopes = try c.decodeIfPresent([ScopeInstance].self, forKey: .scopes) ?? []
        history = History(try c.decodeIfPresent([HistoryEntry].self, forKey: .history) ?? [])
        endNode = try c.decodeIfPresent(ElementReference.self, forKey: .endNode).map {
            try codec.node($0, at: c.codingPath + [CodingKeys.endNode])
        }
        incident = try c.decodeIfPresent(Incident.self, forKey: .incident)
        currentUser = try c.decodeIfPresent(String.self, forKey: .currentUser)
        // `webhookRuns` in format 2.
        jobRuns =
            try c.decodeIfPresent([JobRun].self, forKey: .jobRuns)
            ?? c.decodeIfPresent([JobRun].self, forKey: .webhookRuns) ?? []
        notifications = try c.decodeIfPresent([ProcessNotification].self, forKey: .notifications) ?? []
        timers = try c.decodeIfPresent([PendingTimer].self, forKey: .timers) ?? []
        firedComplexGateways = try (c.decodeIfPresent([String].self, forKey: .firedComplexGateways) ?? []).enumerated()
            .map { i, key in
                try codec.gatewayKey(
                    key, format: format, at: c.codingPath + [CodingKeys.firedComplexGateways, IndexKey(i)])
            }
        multiInstances = try c.decodeIfPresent([MultiInstanceRun].self, forKey: .multiInstances) ?? []
        loopCounts = try c.decodeIfPresent([Int: Int].self, forKey: .loopCounts) ?? [:]
        log = try c.decodeIfPresent([String].self, forKey: .log) ?? []
        uncaughtError = try c.decodeIfPresent(String.self, forKey: .uncaughtError)
        compensable = try (c.decodeIfPresent([ElementReference].self, forKey: .compensable) ?? []).enumerated().map {
            i, node in
            try codec.node(node, at: c.codingPath + [CodingKeys.compensable, IndexKey(i)])
        }
        caughtTriggers = try c.decodeIfPresent([Int: [Int]].self, forKey: .caughtTriggers) ?? [:]
        awaitingCompensation = try c.decodeIfPresent([Int: [Int]].self, forKey: .awaitingCompensation) ?? [:]
        nextTokenID = try c.decode(Int.self, forKey: .nextTokenID)
        nextScopeID = try c.decode(Int.self, forKey: .nextScopeID)
        nextTimerID = try c.decode(Int.self, forKey: .nextTimerID)
        readyQueue = try c.decodeIfPresent([Int].self, forKey: .readyQueue) ?? []
    }
}

/// An array position in a coding path.
struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

extension Token.State: Decodable {
    enum CodingKeys: String, CodingKey {
        // `waitingWebhook`: format 2's name of `waitingJob`.
        case ready, waitingTask, waitingJob, waitingWebhook, waitingEvent, joining, inSubProcess
    }
    enum ScopeKeys: String, CodingKey { case scope }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard c.allKeys.count == 1, let key = c.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: c.codingPath, debugDescription: "a token state has exactly one known key"))
        }
        switch key {
        case .ready: self = .ready
        case .waitingTask: self = .waitingTask
        case .waitingJob, .waitingWebhook: self = .waitingJob
        case .waitingEvent: self = .waitingEvent
        case .joining: self = .joining
        case .inSubProcess:
            let scope = try c.nestedContainer(keyedBy: ScopeKeys.self, forKey: .inSubProcess)
            self = .inSubProcess(scope: try scope.decode(Int.self, forKey: .scope))
        }
    }
}
