import Values

extension ProcessDefinition {
    /// Copies each called process into its call activity, as that activity's content (ids get
    /// the call activity's id as a prefix: `Call_1/Task_1`). A call activity then runs like an
    /// embedded sub-process. Returns the diagnostics for calls that cannot be resolved.
    public mutating func inlineCalls(from processes: [ProcessDefinition], depth: Int = 0) -> [Diagnostic] {
        guard self.nodes.contains(where: { if case .subProcess(.call) = $0.kind { true } else { false } }) else {
            return []
        }
        var problems: [Diagnostic] = []
        var nodes = self.nodes
        var flows = self.flows
        var i = 0
        while i < nodes.count {
            defer { i += 1 }
            // An empty calledElement was reported where it was read.
            guard case .subProcess(.call(let called)) = nodes[i].kind, !called.isEmpty else { continue }
            guard let callee = processes.first(where: { $0.id == called }) else {
                problems.append(
                    .error(
                        at: nodes[i].location,
                        "call activity '\(nodes[i].id)' calls '\(called)', which is neither a process nor a global task of this file"
                    ))
                continue
            }
            // Nested calls are inlined as they are reached; a cycle stops at a fixed depth.
            let depthHere = nodes[i].id.split(separator: "/").count
            guard depthHere <= 8 else {
                problems.append(
                    .error(
                        at: nodes[i].location,
                        "call activity '\(nodes[i].id)' calls '\(called)' recursively; procrun inlines at most 8 levels"
                    ))
                continue
            }
            let nodeOffset = nodes.count
            let flowOffset = flows.count
            let prefix = nodes[i].id + "/"
            for var node in callee.nodes {
                node.id = prefix + node.id
                node.scope = node.scope.map { $0 + nodeOffset } ?? i
                node.incoming = node.incoming.map { $0 + flowOffset }
                node.outgoing = node.outgoing.map { $0 + flowOffset }
                node.defaultFlow = node.defaultFlow.map { $0 + flowOffset }
                node.boundaryEvents = node.boundaryEvents.map { $0 + nodeOffset }
                node.compensationHandler = node.compensationHandler.map { $0 + nodeOffset }
                if case .boundary(let host, let triggers, let cancel) = node.kind {
                    node.kind = .boundary(attachedTo: host + nodeOffset, triggers: triggers, cancelActivity: cancel)
                }
                // The callee's message/signal start events become the call's plain start.
                if node.scope == i, case .eventStart = node.kind { node.kind = .startEvent }
                nodes.append(node)
            }
            for var flow in callee.flows {
                flow.id = prefix + flow.id
                flow.source += nodeOffset
                flow.target += nodeOffset
                flows.append(flow)
            }
        }
        self = ProcessDefinition(
            id: self.id, name: self.name, isExecutable: self.isExecutable, location: self.location, nodes: nodes,
            flows: flows, lanes: self.lanes,
            participantName: self.participantName,
            deferredErrors: self.deferredErrors + (self.isExecutable ? [] : problems))
        return self.isExecutable ? problems : []
    }
}
