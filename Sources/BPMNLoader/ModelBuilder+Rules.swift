import Expressions
import ProcessModel
import Values

/// The structural rules a process must meet once its elements are read: flows, gateways, events,
/// declarations. A broken rule is an error in an executable process and a warning (kept as a
/// deferred error for `run`) elsewhere: the `problem` the caller passes.
extension ModelBuilder {
    /// Structural rules every node must meet.
    mutating func validate(
        nodes: [FlowNode], flows: [SequenceFlow], processID: String,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            switch node.kind {
            case .startEvent, .eventStart:
                if !node.incoming.isEmpty {
                    problem(&self, node.location, "\(what) has incoming sequence flows; a start event cannot have any")
                }
            case .endEvent:
                if !node.outgoing.isEmpty {
                    problem(&self, node.location, "\(what) has outgoing sequence flows; an end event cannot have any")
                }
            case .exclusiveGateway, .parallelGateway, .inclusiveGateway, .complexGateway:
                if node.incoming.isEmpty {
                    problem(&self, node.location, "\(what) has no incoming sequence flow; a gateway needs at least one")
                }
                if node.outgoing.isEmpty {
                    problem(&self, node.location, "\(what) has no outgoing sequence flow; a gateway needs at least one")
                }
                if node.kind == .parallelGateway {
                    for f in node.outgoing where flows[f].condition != nil {
                        warning(
                            flows[f].location,
                            "sequence flow '\(flows[f].id)' leaves parallel gateway '\(node.id)' with a condition; a parallel gateway ignores conditions"
                        )
                    }
                } else if node.outgoing.count > 1 {
                    for f in node.outgoing where flows[f].condition == nil && node.defaultFlow != f {
                        warning(
                            flows[f].location,
                            "sequence flow '\(flows[f].id)' leaves \(what) without a condition or being the default; it is always taken"
                        )
                    }
                }
            case .boundary(_, let triggers, _):
                if !node.incoming.isEmpty {
                    problem(
                        &self, node.location, "\(what) has incoming sequence flows; a boundary event cannot have any")
                }
                let compensation = triggers.contains { if case .compensate = $0 { true } else { false } }
                if node.outgoing.isEmpty && !compensation {
                    problem(
                        &self, node.location, "\(what) has no outgoing sequence flow; the caught event would go nowhere"
                    )
                }
                if compensation && !node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has outgoing sequence flows; a compensation boundary event leads to its handler by an association only"
                    )
                }
            case .subProcess(.embedded), .subProcess(.transaction):
                if !nodes.contains(where: { $0.scope == i && $0.kind == .startEvent }) {
                    problem(
                        &self, node.location,
                        "\(what) has no start event; an embedded sub-process needs a none start event")
                }
            case .subProcess(.event):
                if !node.incoming.isEmpty || !node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has sequence flows; an event sub-process is started by its start event and has no incoming or outgoing flow"
                    )
                }
                let starts = nodes.indices.filter { n in
                    guard nodes[n].scope == i else { return false }
                    if case .eventStart = nodes[n].kind { return true }
                    return nodes[n].kind == .startEvent
                }
                if starts.count != 1 {
                    problem(
                        &self, node.location,
                        "\(what) has \(starts.count) start events; an event sub-process has exactly one, with an event definition"
                    )
                }
            case .eventBasedGateway:
                if node.outgoing.count < 2 {
                    problem(
                        &self, node.location,
                        "\(what) has \(node.outgoing.count) outgoing flow(s); an event-based gateway needs at least two"
                    )
                }
                for f in node.outgoing {
                    let target = nodes[flows[f].target]
                    var fits = false
                    switch target.kind {
                    case .catchEvent(let triggers, _):
                        fits = !triggers.contains { if case .link = $0 { true } else { false } }
                    case .task(.receiveTask): fits = true
                    default: fits = false
                    }
                    if !fits {
                        problem(
                            &self, flows[f].location,
                            "sequence flow '\(flows[f].id)' leads event-based gateway '\(node.id)' to \(target.kind.elementName) '\(target.id)'; BPMN requires an intermediate catch event or a receive task there"
                        )
                    } else if target.incoming.count > 1 {
                        problem(
                            &self, target.location,
                            "\(target.kind.elementName) '\(target.id)' follows event-based gateway '\(node.id)' and has \(target.incoming.count) incoming flows; BPMN allows only the gateway's"
                        )
                    }
                    if flows[f].condition != nil {
                        problem(
                            &self, flows[f].location,
                            "sequence flow '\(flows[f].id)' leaves event-based gateway '\(node.id)' with a condition; BPMN forbids conditions there"
                        )
                    }
                }
            case .throwEvent(let triggers):
                for case .link(let name) in triggers {
                    let targets = nodes.indices.filter {
                        nodes[$0].scope == node.scope
                            && nodes[$0].kind == .catchEvent(triggers: [.link(name)], parallel: false)
                    }
                    if targets.count != 1 {
                        problem(
                            &self, node.location,
                            "link throw event '\(node.id)' names link '\(name)', which \(targets.isEmpty ? "no" : "more than one") link catch event on its level has; BPMN requires exactly one target"
                        )
                    }
                }
                for case .compensate(let activity?) in triggers where !nodes.contains(where: { $0.id == activity }) {
                    problem(
                        &self, node.location, "\(what) compensates activity '\(activity)', which is not in this process"
                    )
                }
            default:
                break
            }
            if let integration = node.integration, let interrupt = integration.onError?.interrupt {
                if OnErrorPolicy.interruptFlow(named: interrupt, among: node.outgoing, flows: flows) == nil {
                    let names = node.outgoing.map { "'\(flows[$0].displayName)'" }.joined(separator: ", ")
                    error(
                        integration.onError?.location ?? integration.location,
                        "\(integration.type) '\(node.id)' interrupts by transition '\(interrupt)', but no outgoing sequence flow of '\(node.id)' has that name or id (outgoing: \(names.isEmpty ? "none" : names))"
                    )
                }
            }
        }
    }

    /// Where events may stand: start and end events, cancel end events, link pairs, event-based
    /// gateways that instantiate.
    mutating func validateEvents(
        nodes: [FlowNode], flows: [SequenceFlow], scan: ProcessScan,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for node in nodes {
            let what = "\(node.kind.elementName) '\(node.id)'"
            let parent = node.scope.map { nodes[$0].kind }
            switch node.kind {
            case .startEvent, .eventStart, .endEvent:
                if case .subProcess(.adHoc)? = parent {
                    problem(
                        &self, node.location,
                        "\(what) stands in ad-hoc sub-process '\(nodes[node.scope!].id)'; BPMN forbids start and end events in an ad-hoc sub-process"
                    )
                }
            default:
                break
            }
            if case .endEvent(.throwing(let triggers)) = node.kind, triggers.contains(.cancel),
                parent != .subProcess(.transaction)
            {
                problem(
                    &self, node.location,
                    "cancel \(what) is not directly inside a transaction; BPMN allows cancel end events only in a transaction sub-process"
                )
            }
            if case .catchEvent(let triggers, _) = node.kind {
                for case .link(let name) in triggers {
                    let sources = nodes.filter { $0.scope == node.scope && $0.kind == .throwEvent([.link(name)]) }
                    if sources.isEmpty {
                        problem(
                            &self, node.location,
                            "link catch event '\(node.id)' (link '\(name)') has no link throw event of the same name on its level; BPMN requires at least one source"
                        )
                    }
                }
            }
            if node.kind == .eventBasedGateway {
                for flow in node.outgoing {
                    let target = nodes[flows[flow].target]
                    if target.kind == .task(.receiveTask), !target.boundaryEvents.isEmpty {
                        problem(
                            &self, target.location,
                            "receive task '\(target.id)' follows event-based gateway '\(node.id)' and has boundary events; BPMN forbids attached events on receive tasks of an event gateway"
                        )
                    }
                }
            }
        }
        // A level with a start event has an end event, and one with an end event has a start event.
        let levels: [Int?] =
            [nil]
            + nodes.indices.filter {
                if case .subProcess(let kind) = nodes[$0].kind {
                    kind != .adHoc(sequential: true) && kind != .adHoc(sequential: false)
                } else {
                    false
                }
            }
        for level in levels {
            let inside = nodes.filter { $0.scope == level }
            let hasStart = inside.contains { if case .eventStart = $0.kind { true } else { $0.kind == .startEvent } }
            let hasEnd = inside.contains { if case .endEvent = $0.kind { true } else { false } }
            let owner = level.map { "\(nodes[$0].kind.elementName) '\(nodes[$0].id)'" } ?? "the process"
            let location = level.map { nodes[$0].location } ?? inside.first?.location
            if hasStart && !hasEnd, let location {
                problem(
                    &self, location,
                    "\(owner) has a start event but no end event; BPMN requires an end event where a start event is used"
                )
            } else if hasEnd && !hasStart, let location {
                problem(
                    &self, location,
                    "\(owner) has an end event but no start event; BPMN requires a start event where an end event is used"
                )
            }
        }
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            switch node.kind {
            case .catchEvent(let triggers, _):
                let link = triggers.contains { if case .link = $0 { true } else { false } }
                if !link && node.incoming.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has no incoming sequence flow; BPMN requires one on an intermediate event (only a link catch event has none)"
                    )
                }
                if node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) has no outgoing sequence flow; BPMN requires one on an intermediate catch event")
                }
            case .throwEvent(let triggers), .endEvent(.throwing(let triggers)):
                let link = triggers.contains { if case .link = $0 { true } else { false } }
                if case .throwEvent = node.kind {
                    if node.incoming.isEmpty {
                        problem(
                            &self, node.location,
                            "\(what) has no incoming sequence flow; BPMN requires one on an intermediate throw event")
                    }
                    if link && !node.outgoing.isEmpty {
                        problem(
                            &self, node.location,
                            "link throw \(what) has outgoing sequence flows; BPMN continues a link at its catch event, so the throw event has none"
                        )
                    } else if !link && node.outgoing.isEmpty {
                        problem(
                            &self, node.location,
                            "\(what) has no outgoing sequence flow; BPMN requires one on an intermediate throw event (only a link throw event has none)"
                        )
                    }
                }
            case .intermediateEvent:
                if node.incoming.isEmpty || node.outgoing.isEmpty {
                    problem(
                        &self, node.location,
                        "\(what) needs an incoming and an outgoing sequence flow, as every intermediate event does")
                }
            case .subProcess(.adHoc):
                if !nodes.contains(where: { $0.scope == i && $0.kind.isActivity }) {
                    problem(
                        &self, node.location,
                        "ad-hoc sub-process '\(node.id)' contains no activity; BPMN requires at least one")
                }
            default:
                break
            }
        }
        for i in scan.instantiating where nodes[i].kind == .eventBasedGateway && !nodes[i].incoming.isEmpty {
            problem(
                &self, nodes[i].location,
                "event-based gateway '\(nodes[i].id)' instantiates the process and has incoming sequence flows; BPMN allows none on an instantiating gateway"
            )
        }
    }

    /// Rules about what nodes declare: their incoming/outgoing references, gateway directions,
    /// lone conditional flows, and nodes a started process could never reach.
    mutating func validateDeclarations(
        nodes: [FlowNode], flows: [SequenceFlow], scan: ProcessScan,
        problem: (inout ModelBuilder, SourceLocation, String) -> Void
    ) {
        for (i, node) in nodes.enumerated() {
            let what = "\(node.kind.elementName) '\(node.id)'"
            let incomingIDs = Set(node.incoming.map { flows[$0].id })
            let outgoingIDs = Set(node.outgoing.map { flows[$0].id })
            if let declared = scan.declaredIncoming[i], Set(declared) != incomingIDs {
                let missing = incomingIDs.subtracting(declared).sorted()
                let extra = Set(declared).subtracting(incomingIDs).sorted()
                problem(
                    &self, node.location,
                    "\(what) lists incoming flows \(declared) but the flows that target it are \(incomingIDs.sorted())\(missing.isEmpty ? "" : " (not listed: \(missing.joined(separator: ", ")))")\(extra.isEmpty ? "" : " (no such flow into it: \(extra.joined(separator: ", ")))"); BPMN requires them to agree"
                )
            }
            if let declared = scan.declaredOutgoing[i], Set(declared) != outgoingIDs {
                problem(
                    &self, node.location,
                    "\(what) lists outgoing flows \(declared) but the flows that leave it are \(outgoingIDs.sorted()); BPMN requires them to agree"
                )
            }
            switch scan.gatewayDirection[i] {
            case "Converging" where node.outgoing.count > 1:
                problem(
                    &self, node.location,
                    "converging \(what) has \(node.outgoing.count) outgoing flows; a converging gateway has at most one"
                )
            case "Diverging" where node.incoming.count > 1:
                problem(
                    &self, node.location,
                    "diverging \(what) has \(node.incoming.count) incoming flows; a diverging gateway has at most one")
            case "Diverging" where node.outgoing.count < 2:
                problem(
                    &self, node.location,
                    "diverging \(what) has \(node.outgoing.count) outgoing flow(s); a diverging gateway has more than one"
                )
            case "Converging" where node.incoming.count < 2:
                problem(
                    &self, node.location,
                    "converging \(what) has \(node.incoming.count) incoming flow(s); a converging gateway has more than one"
                )
            case "Mixed" where node.incoming.count < 2 || node.outgoing.count < 2:
                problem(
                    &self, node.location,
                    "mixed \(what) has \(node.incoming.count) incoming and \(node.outgoing.count) outgoing flows; a mixed gateway needs more than one of each"
                )
            case _ where node.kind.isGateway && node.incoming.count == 1 && node.outgoing.count == 1:
                problem(
                    &self, node.location,
                    "\(what) has one incoming and one outgoing flow; BPMN requires a gateway to split or join (more than one of either)"
                )
            default:
                break
            }
            if node.kind.isActivity, node.outgoing.count == 1, flows[node.outgoing[0]].condition != nil {
                problem(
                    &self, node.location,
                    "\(what) has a single outgoing flow '\(flows[node.outgoing[0]].id)' and it is conditional; BPMN requires an activity's conditional flows to come with others"
                )
            }
            // With a start event, a node without incoming flow could never run.
            let needsIncoming: Bool
            switch node.kind {
            case .startEvent, .eventStart, .boundary, .subProcess(.event): needsIncoming = false
            case .catchEvent(let triggers, _)
            where triggers.contains(where: { if case .link = $0 { true } else { false } }): needsIncoming = false
            case _ where node.isForCompensation || node.instantiate: needsIncoming = false
            case _
            where node.scope.map({ if case .subProcess(.adHoc) = nodes[$0].kind { true } else { false } }) ?? false:
                needsIncoming = false
            case .unsupported: needsIncoming = false  // already reported as unsupported
            default: needsIncoming = true
            }
            if needsIncoming, node.incoming.isEmpty,
                nodes.contains(where: { $0.scope == node.scope && $0.kind == .startEvent })
            {
                problem(
                    &self, node.location,
                    "\(what) has no incoming sequence flow, but its \(node.scope == nil ? "process" : "sub-process") starts at a start event, so it could never run"
                )
            }
        }
    }
}
