import Expressions
import ProcessModel
import Values

/// Cycles an instance can never leave and never waits in: it would run until the engine's step
/// budget stops it in an incident. Each is a warning (the file stays valid): the model may be
/// meant as it is, but usually a condition or a wait state is missing.
///
/// The analysis works on the built model, one process level at a time (sequence flows never
/// cross levels): the strongly connected components of the sequence-flow graph (link events
/// included) are found with Tarjan's algorithm, written without recursion so that a model of
/// 20,000 nodes cannot exhaust the stack. A non-trivial component (or a node with a flow to
/// itself) is reported when
/// - none of its nodes waits: no user, manual or receive task, webhook, intermediate catch event
///   (other than a link), event-based gateway, call activity, or sub-process that holds one; no
///   parallel or complex join that also waits for a flow from outside the cycle; and
/// - none of its nodes can leave it: no boundary event on a member, no gateway or activity whose
///   conditions or default flow can choose a flow out of the cycle (an exclusive gateway always
///   takes the first unconditioned flow; a condition written as the constant `true` or `false`
///   counts as such), and no throw event whose escalation, signal or error may be caught.
///
/// A standard loop whose condition is the constant `true`, with no `loopMaximum`, on an
/// activity that does not wait, is reported too. Linear in the size of the model.
enum CycleRules {
    static func check(_ process: ProcessDefinition) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let nodes = process.nodes
        let count = nodes.count
        guard count > 0 else { return [] }

        // Sub-processes that hold a wait state somewhere inside, found bottom-up: each node marks
        // its ancestors once.
        var holdsWait = [Bool](repeating: false, count: count)
        for v in 0..<count where waitsByItself(nodes[v]) {
            var scope = nodes[v].scope
            while let s = scope, !holdsWait[s] {
                holdsWait[s] = true
                scope = nodes[s].scope
            }
        }
        func waits(_ v: Int) -> Bool {
            if waitsByItself(nodes[v]) { return true }
            if case .subProcess(let kind) = nodes[v].kind, kind != .event { return holdsWait[v] }
            return false
        }

        // The graph: sequence flows, and link throw events to their catch events.
        var edges = [[Int]](repeating: [], count: count)
        var linkCatches: [String: [Int]] = [:]
        for v in 0..<count {
            if case .catchEvent(let triggers, _) = nodes[v].kind, triggers.count == 1,
                case .link(let name) = triggers[0]
            {
                linkCatches["\(nodes[v].scope ?? -1)/\(name)", default: []].append(v)
            }
        }
        for v in 0..<count {
            for flow in nodes[v].outgoing { edges[v].append(process.flows[flow].target) }
            if case .throwEvent(let triggers) = nodes[v].kind {
                for case .link(let name) in triggers {
                    edges[v] += linkCatches["\(nodes[v].scope ?? -1)/\(name)"]?.prefix(1) ?? []
                }
            }
        }

        let components = stronglyConnectedComponents(edges)
        for members in components.members {
            let component = components.of[members[0]]
            if members.count == 1 && !edges[members[0]].contains(members[0]) { continue }
            func inside(_ v: Int) -> Bool { components.of[v] == component }
            if members.contains(where: waits) { continue }
            if members.contains(where: { blocksAsJoin($0, in: process, inside: inside) }) { continue }
            // The ways out: none, one that does not depend on data, or conditions.
            var exitConditions: [FEELExpression] = []
            var leaves = false
            for v in members {
                switch exit(v, in: process, inside: inside) {
                case .none: continue
                case .always: leaves = true
                case .conditions(let conditions): exitConditions += conditions
                }
                if leaves { break }
            }
            if leaves { continue }
            let ordered = members.sorted()
            let first = ordered.first { nodes[$0].kind.isActivity } ?? ordered[0]
            let named = ordered.prefix(4).map { describe(nodes[$0]) }.joined(separator: ", ")
            let more = ordered.count > 4 ? " and \(ordered.count - 4) more" : ""
            let what =
                ordered.count == 1
                ? "the flow from \(describe(nodes[first])) back to itself" : "the cycle through \(named)\(more)"
            let consequence = "an instance that enters it runs until the step budget stops it in an incident"
            if exitConditions.isEmpty {
                diagnostics.append(
                    .warning(
                        at: nodes[first].location,
                        "\(what) has no wait state and no condition that can leave it: \(consequence)"))
                continue
            }
            // Conditions decide: they can only change their answer if something in the cycle
            // sets a variable they read.
            guard let read = variablesRead(by: exitConditions), !read.isEmpty else { continue }
            var written: Set<String> = []
            var unknown = false
            for v in members {
                guard let names = variablesWritten(by: nodes[v]) else {
                    unknown = true
                    break
                }
                written.formUnion(names)
            }
            if unknown || !written.isDisjoint(with: read) { continue }
            let names = read.sorted().map { "'\($0)'" }.joined(separator: ", ")
            diagnostics.append(
                .warning(
                    at: nodes[first].location,
                    "\(what) has no wait state, and nothing in it sets \(names), which the conditions that can leave it read: unless it leaves at the first pass, \(consequence)"
                ))
        }

        for v in 0..<count {
            guard let loop = nodes[v].loop, loop.maximum == nil, let condition = loop.condition,
                constant(condition) == true, !waits(v)
            else {
                continue
            }
            diagnostics.append(
                .warning(
                    at: nodes[v].location,
                    "the loop of \(describe(nodes[v])) repeats while '\(condition.source.trimmingWhitespace())', which is always true, has no loopMaximum and no wait state: an instance runs it until the step budget stops it in an incident"
                ))
        }
        return diagnostics
    }

    static func describe(_ node: FlowNode) -> String {
        guard let name = node.name, !name.isEmpty else { return "'\(node.id)'" }
        return "'\(node.id)' («\(name.split(whereSeparator: \.isWhitespace).joined(separator: " "))»)"
    }

    /// A node that makes the token wait for the outside world, whatever it contains.
    static func waitsByItself(_ node: FlowNode) -> Bool {
        if node.webhook != nil || node.startQuantity > 1 { return true }
        switch node.kind {
        case .task(let kind):
            return kind == .userTask || kind == .manualTask || kind == .receiveTask
        case .catchEvent(let triggers, _):
            return triggers.contains { if case .link = $0 { false } else { true } }
        case .eventBasedGateway, .subProcess(.call), .unsupported:
            return true
        default:
            return false
        }
    }

    /// A parallel or complex join that also waits for a flow from outside the cycle: the cycle
    /// stops there until a token comes that way.
    static func blocksAsJoin(_ v: Int, in process: ProcessDefinition, inside: (Int) -> Bool) -> Bool {
        let node = process.nodes[v]
        guard node.kind == .parallelGateway || node.kind == .complexGateway, node.incoming.count > 1 else {
            return false
        }
        return node.incoming.contains { !inside(process.flows[$0].source) }
    }

    /// How a token at a node of the cycle can leave it (or stop there).
    enum Exit {
        case none
        /// Whatever the data: a boundary event, a thrown event that may be caught, a script
        /// procrun cannot read.
        case always
        /// When these conditions (of the node's flows) answer so.
        case conditions([FEELExpression])
    }

    static func exit(_ v: Int, in process: ProcessDefinition, inside: (Int) -> Bool) -> Exit {
        let node = process.nodes[v]
        if case .task(.scriptTask) = node.kind, node.script == nil, node.scriptText != nil { return .always }
        guard canLeave(v, in: process, inside: inside) else { return .none }
        if !node.boundaryEvents.isEmpty { return .always }
        if case .throwEvent = node.kind { return .always }
        let conditions = node.outgoing.compactMap { process.flows[$0].condition }.filter { constant($0) == nil }
        return conditions.isEmpty ? .always : .conditions(conditions)
    }

    /// Whether a token at `v` can go somewhere other than back into the cycle, or stop there.
    static func canLeave(_ v: Int, in process: ProcessDefinition, inside: (Int) -> Bool) -> Bool {
        let node = process.nodes[v]
        // A boundary event may take the token away; a thrown escalation, signal or error may be
        // caught by one, or by an event sub-process.
        if !node.boundaryEvents.isEmpty { return true }
        if case .throwEvent(let triggers) = node.kind {
            if triggers.contains(where: {
                switch $0 {
                case .escalation, .signal, .error, .compensate, .cancel: true
                default: false
                }
            }) {
                return true
            }
            // A link throw event has no flows: the token goes on at the link's catch event.
            if triggers.contains(where: { if case .link = $0 { true } else { false } }) { return false }
        }
        switch node.kind {
        case .parallelGateway:
            // Every flow is taken: a flow out of the cycle does not stop the tokens in it.
            return false
        case .exclusiveGateway:
            // The first flow (in document order) whose condition holds, else the default; with
            // none, an incident, which stops the cycle too.
            var alwaysTaken = false
            for flow in node.outgoing where flow != node.defaultFlow {
                let condition = process.flows[flow].condition.map(constant) ?? true
                if condition == false { continue }
                if !inside(process.flows[flow].target) { return true }
                if condition == true {
                    alwaysTaken = true
                    break
                }
            }
            if alwaysTaken { return false }
            guard let defaultFlow = node.defaultFlow else { return true }
            return !inside(process.flows[defaultFlow].target)
        default:
            // Every flow whose condition holds (inclusive and complex gateways, activities,
            // events), else the default: the cycle can end here when every flow back into it
            // has a condition that may be false, and then something else is taken (or nothing).
            var outsideMayHold = false
            for flow in node.outgoing where flow != node.defaultFlow {
                let condition = process.flows[flow].condition.map(constant) ?? true
                if condition == false { continue }
                if inside(process.flows[flow].target) {
                    if condition == true { return false }
                } else {
                    outsideMayHold = true
                }
            }
            if outsideMayHold { return true }
            guard let defaultFlow = node.defaultFlow else { return true }
            return !inside(process.flows[defaultFlow].target)
        }
    }

    /// `true` or `false` when the condition is that constant; nil otherwise.
    static func constant(_ condition: FEELExpression) -> Bool? {
        if case .literal(.bool(let value)) = condition.root { return value }
        return nil
    }

    /// The variables (their first name) the expressions read; nil when an expression holds
    /// something this walk does not know.
    static func variablesRead(by expressions: [FEELExpression]) -> Set<String>? {
        var names: Set<String> = []
        var stack = expressions.map(\.root)
        while let node = stack.popLast() {
            if case .variable(let path) = node {
                if let name = path.first { names.insert(name) }
            } else if case .member(let base, _) = node {
                stack.append(base)
            } else if case .negate(let operand) = node {
                stack.append(operand)
            } else if case .binary(_, let left, let right) = node {
                stack.append(left)
                stack.append(right)
            } else if case .call(_, let arguments) = node {
                stack += arguments
            } else if case .context(let entries) = node {
                stack += entries.map(\.1)
            } else if case .list(let items) = node {
                stack += items
            } else if case .ifThenElse(let condition, let then, let otherwise) = node {
                stack += [condition, then, otherwise]
            } else if case .literal = node {
                continue
            } else {
                return nil
            }
        }
        return names
    }

    /// The variables a node sets when it runs without waiting; nil when it cannot be told
    /// (a sub-process, a script in another language).
    static func variablesWritten(by node: FlowNode) -> Set<String>? {
        switch node.kind {
        case .task(.scriptTask):
            guard let script = node.script else { return node.scriptText == nil ? [] : nil }
            return Set(script.assignments.map { String($0.variable.prefix { $0 != "." }) })
        case .subProcess, .unsupported:
            return nil
        default:
            return []
        }
    }

    /// Tarjan's strongly connected components, iteratively: `of[v]` is v's component, and
    /// `members` lists each component's nodes.
    static func stronglyConnectedComponents(_ edges: [[Int]]) -> (of: [Int], members: [[Int]]) {
        let count = edges.count
        var index = [Int](repeating: -1, count: count)
        var low = [Int](repeating: 0, count: count)
        var onStack = [Bool](repeating: false, count: count)
        var of = [Int](repeating: -1, count: count)
        var members: [[Int]] = []
        var stack: [Int] = []
        var calls: [(node: Int, edge: Int)] = []
        var counter = 0
        for root in 0..<count where index[root] < 0 {
            index[root] = counter
            low[root] = counter
            counter += 1
            stack.append(root)
            onStack[root] = true
            calls.append((root, 0))
            while let (v, e) = calls.last {
                if e < edges[v].count {
                    calls[calls.count - 1].edge += 1
                    let w = edges[v][e]
                    if index[w] < 0 {
                        index[w] = counter
                        low[w] = counter
                        counter += 1
                        stack.append(w)
                        onStack[w] = true
                        calls.append((w, 0))
                    } else if onStack[w] {
                        low[v] = min(low[v], index[w])
                    }
                    continue
                }
                calls.removeLast()
                if let parent = calls.last { low[parent.node] = min(low[parent.node], low[v]) }
                guard low[v] == index[v] else { continue }
                var component: [Int] = []
                while let w = stack.popLast() {
                    onStack[w] = false
                    of[w] = members.count
                    component.append(w)
                    if w == v { break }
                }
                members.append(component)
            }
        }
        return (of, members)
    }
}
