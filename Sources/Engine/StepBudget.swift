import ProcessModel
import Values

/// How many steps the engine may take for one event before the instance must reach a wait
/// state. A cycle that never waits (a script task and a gateway whose default flow leads back,
/// a loop whose condition is always true, parallel gateways that fork back into themselves)
/// would otherwise run forever inside one event, holding a store's write lock and eating memory.
///
/// A step is one token executing one node (a gateway, a task, an event), or one join or
/// condition firing while nothing else can move. When the budget runs out the instance stops
/// in an incident that names the node it kept cycling through.
///
/// `Engine.start` and `Engine.handle` use a fresh budget of `Engine.maxSteps` per event. A
/// runner that handles several events without time passing (`procrun run`: simulated people
/// answer at once) passes one budget through all of them, so that a cycle through a user task
/// that people keep answering stops too.
public struct StepBudget: Sendable {
    /// The steps allowed.
    public let limit: Int
    /// The steps taken so far.
    public private(set) var used = 0
    /// The events this budget has covered.
    public internal(set) var events = 0
    /// Steps by node: only nodes stepped in this budget, so bounded by the model's size.
    private var visits: [Int: Int] = [:]

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var isExhausted: Bool { used >= limit }

    mutating func count(_ node: Int) {
        used += 1
        // Room for the nodes of a usual event at once, not a table regrown at 1, 2, 4… nodes.
        if visits.isEmpty { visits.reserveCapacity(16) }
        visits[node, default: 0] += 1
    }

    /// The node stepped most often, with its count: where the flow spins. Ties go to an
    /// activity (what users recognise) over a gateway or event, then to document order.
    func busiestNode(in process: ProcessDefinition) -> (node: Int, count: Int)? {
        var best: (node: Int, count: Int)?
        for (node, count) in visits {
            guard let current = best else {
                best = (node, count)
                continue
            }
            if count != current.count {
                if count > current.count { best = (node, count) }
                continue
            }
            let activity = process.nodes[node].kind.isActivity
            let currentActivity = process.nodes[current.node].kind.isActivity
            if activity != currentActivity {
                if activity { best = (node, count) }
            } else if node < current.node {
                best = (node, count)
            }
        }
        return best
    }
}

extension Step {
    /// Takes one step at `node`; false when the budget is spent (the instance is then in an
    /// incident and nothing was done).
    mutating func takeStep(at node: Int) -> Bool {
        guard !budget.isExhausted else {
            stopOnExhaustedBudget()
            return false
        }
        budget.count(node)
        return true
    }

    /// Stops the instance in an incident: the tokens stay as they are (the ready ones stay
    /// queued), so that `retry` continues where the budget ran out.
    mutating func stopOnExhaustedBudget() {
        // Signals thrown in the last round reach their catch events, as at the end of a round.
        while !pendingSignals.isEmpty, instance.status == .running {
            let name = pendingSignals.removeFirst()
            _ = deliver(.signal(name))
        }
        guard instance.status == .running else { return }
        let busiest = budget.busiestNode(in: process)
        let node = busiest?.node ?? instance.tokens.first?.node ?? 0
        let flowNode = process.nodes[node]
        let name = flowNode.name.map { " («\($0.split(whereSeparator: \.isWhitespace).joined(separator: " "))»)" } ?? ""
        let share = busiest.map { "\($0.count) of them at" } ?? "the last at"
        let over =
            budget.events > 1
            ? " over \(budget.events) events handled without time passing (simulated answers, messages or signals)"
            : " without reaching a wait state"
        let message =
            "step budget of \(budget.limit) steps exhausted\(over), \(share) '\(flowNode.id)'\(name): a cycle that never waits,"
            + " or more work than one budget allows (retry runs another \(engine.maxSteps) steps; --max-steps sets the budget)"
        instance.status = .incident
        instance.incident = Incident(node: flowNode.id, message: message, stepBudget: budget.limit)
        record(.incident, node: node, note: message)
    }
}
