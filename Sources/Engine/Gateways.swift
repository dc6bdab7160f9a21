import Expressions
import ProcessModel

/// Exclusive, parallel and inclusive gateway semantics.
extension Step {
    /// Takes the first flow (in document order) whose condition is true, else the default.
    mutating func exclusiveGateway(_ token: Token) {
        guard let selected = selectFlows(of: token, firstOnly: true) else { return }
        if selected.isEmpty {
            return raiseIncident(
                at: token.node,
                "no condition of exclusive gateway '\(process.nodes[token.node].id)' is true and it has no default flow"
            )
        }
        take(selected, from: token.id)
    }

    /// Forks on every outgoing flow; with several incoming flows, first waits for one token on each.
    mutating func parallelGateway(_ token: Token) {
        let node = process.nodes[token.node]
        guard node.incoming.count > 1 else { return take(node.outgoing, from: token.id) }
        guard let merged = join(token, requiring: Set(node.incoming)) else { return }
        take(node.outgoing, from: merged)
    }

    /// Takes every flow whose condition is true (the default if none); joins by BPMN's rule:
    /// waits only for tokens that can still arrive.
    mutating func inclusiveGateway(_ token: Token) {
        let node = process.nodes[token.node]
        if node.incoming.count > 1 {
            guard let index = tokenIndex(token.id) else { return }
            instance.tokens[index].state = .joining
            guard let flows = inclusiveJoinFlows(gateway: token.node, scope: token.scope) else { return }
            guard let merged = join(token, requiring: flows) else { return }
            inclusiveSplit(merged)
        } else {
            inclusiveSplit(token.id)
        }
    }

    /// Takes every flow whose condition is true, else the default; none is an incident.
    mutating func inclusiveSplit(_ tokenID: Int) {
        guard let token = instance.token(tokenID), let selected = selectFlows(of: token) else { return }
        if selected.isEmpty {
            let node = process.nodes[token.node]
            return raiseIncident(
                at: token.node,
                "no condition of \(node.kind == .complexGateway ? "complex" : "inclusive") gateway '\(node.id)' is true and it has no default flow"
            )
        }
        take(selected, from: tokenID)
    }

    /// Parks the token at a joining gateway. When tokens have arrived on every flow in
    /// `requiring`, consumes one per flow and returns the id of the token that goes on.
    mutating func join(_ token: Token, requiring flows: Set<Int>) -> Int? {
        guard let index = tokenIndex(token.id) else { return nil }
        instance.tokens[index].state = .joining
        let waiting = arrivedTokens(at: token.node, scope: token.scope)
        var chosen: [Int: Int] = [:]
        for t in waiting {
            let flow = t.arrivedVia ?? -1
            if flows.contains(flow), chosen[flow] == nil { chosen[flow] = t.id }
        }
        guard chosen.count == flows.count else {
            record(.waiting, node: token.node, note: "joined \(chosen.count) of \(flows.count) branches")
            return nil
        }
        let survivor = token.id
        for (_, id) in chosen where id != survivor { remove(token: id) }
        if !chosen.values.contains(survivor), let first = chosen.values.first {
            // The arriving token was a second token on an already-satisfied flow: let the first go.
            return first
        }
        return survivor
    }

    /// Tokens that have arrived at a joining gateway: those parked there and those queued to run it.
    func arrivedTokens(at gateway: Int, scope: Int) -> [Token] {
        instance.tokens.filter {
            $0.node == gateway && $0.scope == scope && ($0.state == .joining || $0.state == .ready)
        }
    }

    /// The incoming flows an inclusive join must wait for, or nil while a token elsewhere in the
    /// scope can still reach a flow that has no token yet.
    func inclusiveJoinFlows(gateway: Int, scope: Int) -> Set<Int>? {
        let node = process.nodes[gateway]
        let waiting = arrivedTokens(at: gateway, scope: scope)
        let arrived = Set(waiting.compactMap(\.arrivedVia))
        let missing = node.incoming.filter { !arrived.contains($0) }
        for other in instance.tokens
        where !(other.node == gateway && other.scope == scope && (other.state == .joining || other.state == .ready)) {
            guard let position = position(of: other, inScope: scope) else { continue }
            for flow in missing where engine.upstreamOfFlow[flow]?[position] == true {
                return nil
            }
        }
        return arrived.intersection(node.incoming)
    }

    /// Where a token stands as seen from `scope`: its node, or the sub-process that contains it.
    func position(of token: Token, inScope scope: Int) -> Int? {
        if token.scope == scope { return token.node }
        var current = token.scope
        while current != 0 {
            guard let s = instance.scopes.first(where: { $0.id == current }) else { return nil }
            if s.parent == scope { return s.node }
            current = s.parent
        }
        return nil
    }

    /// When nothing else can move, fires an inclusive join that no token can reach any more.
    mutating func fireReadyInclusiveJoin() -> Bool {
        var candidates: [(gateway: Int, scope: Int, token: Token)] = []
        for token in instance.tokens
        where token.state == .joining
            && (process.nodes[token.node].kind == .inclusiveGateway
                || (process.nodes[token.node].kind == .complexGateway
                    && process.nodes[token.node].activationCondition == nil))
        {
            if !candidates.contains(where: { $0.gateway == token.node && $0.scope == token.scope }) {
                candidates.append((token.node, token.scope, token))
            }
        }
        for candidate in candidates {
            guard let flows = inclusiveJoinFlows(gateway: candidate.gateway, scope: candidate.scope) else { continue }
            guard let merged = join(candidate.token, requiring: flows) else { continue }
            inclusiveSplit(merged)
            return true
        }
        return false
    }

    /// A complex gateway: splits by conditions like an inclusive gateway. Joining, it fires as
    /// soon as its activation condition holds (`activationCount` = tokens waiting), then lets
    /// the other tokens of the same wave pass without firing again; without a condition it joins
    /// like an inclusive gateway.
    mutating func complexGateway(_ token: Token) {
        let node = process.nodes[token.node]
        guard node.incoming.count > 1 else { return inclusiveSplit(token.id) }
        guard let index = tokenIndex(token.id) else { return }
        instance.tokens[index].state = .joining
        let key = "\(token.node)/\(token.scope)"
        if instance.firedComplexGateways.contains(key) {
            remove(token: token.id)
            record(.waiting, node: token.node, note: "passed after activation")
            if !tokenCanStillArrive(at: token.node, scope: token.scope) {
                instance.firedComplexGateways.removeAll { $0 == key }
            }
            return
        }
        guard let activation = node.activationCondition else {
            guard let flows = inclusiveJoinFlows(gateway: token.node, scope: token.scope) else { return }
            guard let merged = join(token, requiring: flows) else { return }
            return inclusiveSplit(merged)
        }
        let waiting = arrivedTokens(at: token.node, scope: token.scope)
        var scope = instance.context
        scope["activationCount"] = .number(Double(waiting.count))
        let fire: Bool
        do {
            fire = try activation.evaluateCondition(in: scope)
        } catch {
            return raiseIncident(
                at: token.node,
                "cannot evaluate the activationCondition of '\(node.id)': \(error.message) in '\(activation.source.trimmingWhitespace())'"
            )
        }
        guard fire else {
            record(.waiting, node: token.node, note: "activationCount \(waiting.count)")
            return
        }
        for other in waiting where other.id != token.id { remove(token: other.id) }
        if tokenCanStillArrive(at: token.node, scope: token.scope) { instance.firedComplexGateways.append(key) }
        inclusiveSplit(token.id)
    }

    /// Whether a token elsewhere in the scope can still reach the gateway.
    func tokenCanStillArrive(at gateway: Int, scope: Int) -> Bool {
        let incoming = process.nodes[gateway].incoming
        for other in instance.tokens where !(other.node == gateway && other.scope == scope) {
            guard let position = position(of: other, inScope: scope) else { continue }
            for flow in incoming where engine.upstreamOfFlow[flow]?[position] == true { return true }
        }
        return false
    }
}
