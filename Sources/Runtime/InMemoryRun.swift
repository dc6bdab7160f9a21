import Engine
import Foundation
import ProcessModel
import Values

extension ProcessRuntime where Store == MemoryStore {
    /// `procrun run` as a function: the runtime on a new in-memory store starts an instance of
    /// `engine` with simulated people and runs its jobs, and those of every instance its messages
    /// and signals start among `partners`, until none is left (or the next falls due after
    /// `horizon`). Returns the instances in the order they started, the first one first.
    /// `handlers`: who does the integration jobs, by type.
    public static func simulate(
        _ engine: Engine, id: String = "i-1", context: JSONObject = JSONObject(),
        people: SimulatedPeople = SimulatedPeople(),
        partners: [Engine] = [], initiator: String, handlers: [any JobHandler],
        scheduler: any Scheduler = SystemScheduler(),
        horizon: Date? = nil
    ) async throws -> [Instance] {
        let store = MemoryStore()
        let runtime = ProcessRuntime(store: store, handlers: handlers, scheduler: scheduler)
        runtime.recordsStarted = true
        runtime.instanceLimit = 1_000
        _ = try runtime.start(
            file: "\(engine.process.id).bpmn", xml: [], process: engine.process, context: context,
            answers: people.answers.source,
            directory: people.directory.source, initiator: initiator, simulatePeople: true, id: id, engine: engine,
            partners: partners)
        try await runtime.drainStarted(horizon: horizon, everything: true)
        return try runtime.started.compactMap { try store.instance($0)?.instance }
    }
}

extension ProcessRuntime where Store == MemoryStore {
    /// `simulate` with webhooks tried by `performer`, and no other integration jobs.
    public static func simulate(
        _ engine: Engine, id: String = "i-1", context: JSONObject = JSONObject(),
        people: SimulatedPeople = SimulatedPeople(),
        partners: [Engine] = [], initiator: String, performer: any WebhookPerformer,
        scheduler: any Scheduler = SystemScheduler(),
        horizon: Date? = nil
    ) async throws -> [Instance] {
        try await simulate(
            engine, id: id, context: context, people: people, partners: partners, initiator: initiator,
            handlers: [WebhookJobHandler(performer)], scheduler: scheduler, horizon: horizon)
    }
}
