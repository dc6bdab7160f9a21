import Engine
import Expressions
import Foundation
import ProcessModel
import Values

/// The readable trace: one line per step (time, node name, kind, transition taken, performer),
/// job tries (webhooks, e-mails) and notifications as they happen.
struct Trace {
    let process: ProcessDefinition
    let timeZone: TimeZone
    /// Names are padded to the longest in the process (at most 48 characters) so columns line up.
    let nameWidth: Int

    init(process: ProcessDefinition, timeZone: TimeZone) {
        self.process = process
        self.timeZone = timeZone
        nameWidth = min(48, process.nodes.map(\.displayName.count).max() ?? 0)
    }

    func time(_ date: Date) -> String {
        let millis = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        let ms = String(millis)
        return DateFormat.format(date, "hh:mm:ss", timeZone: timeZone) + "."
            + String(repeating: "0", count: 3 - ms.count) + ms
    }

    func header(instanceID: String) {
        Swift.print("process «\(process.displayName)» (\(process.id)), instance \(instanceID)")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    func line(_ date: Date, _ node: FlowNode, _ rest: String) -> String {
        "\(time(date))  \(Trace.pad(node.displayName, nameWidth)) \(Trace.pad(node.kind.elementName, 16)) \(rest)"
    }

    func print(_ entries: some Sequence<HistoryEntry>, instance: Instance) {
        for entry in entries {
            let node = process.nodes[entry.node]
            var rest = ""
            switch entry.event {
            case .left:
                let flows = entry.flows.map { process.flows[$0] }
                if !flows.isEmpty {
                    rest =
                        "→ "
                        + flows.map { $0.name.map { "«\($0)»" } ?? process.nodes[$0.target].displayName }.joined(
                            separator: ", ")
                } else if case .endEvent = node.kind {
                    rest = "■ end"
                } else if let note = entry.note, note.hasPrefix("loop iteration") {
                    rest = "↻ \(note)"
                } else {
                    rest = "■ no outgoing flow"
                }
                if let performer = entry.performer { rest += "  by \(performer)" }
                if let note = entry.note, !rest.contains(note) { rest += "  (\(note))" }
            case .tried:
                rest = "⇄ \(entry.note ?? "")"
            case .error:
                rest = "! \(entry.note ?? "error")"
            case .incident:
                rest = "✗ incident: \(entry.note ?? "")"
            case .entered, .waiting:
                continue
            }
            Swift.print(line(entry.time, node, rest))
        }
    }

    func notified(_ notification: ProcessNotification) {
        guard let index = process.nodeIndex(id: notification.node) else { return }
        Swift.print(line(Date(), process.nodes[index], "✉ notified \(notification.user)"))
    }

    func summary(_ instance: Instance) {
        let steps = instance.path.count
        // Tries by job type, in the order the types first ran: "2 webhook tries, 1 email try".
        var types: [String] = []
        var tries: [String: Int] = [:]
        for run in instance.jobRuns {
            if tries[run.type] == nil { types.append(run.type) }
            tries[run.type, default: 0] += run.tries.count
        }
        let counts = types.filter { tries[$0]! > 0 }.map { "\(tries[$0]!) \($0) \(tries[$0]! == 1 ? "try" : "tries")" }
        let notifications = instance.notifications.count
        let extra =
            counts.isEmpty && notifications == 0
            ? ""
            : ", "
                + (counts + ["\(notifications) notification\(notifications == 1 ? "" : "s")"]).joined(separator: ", ")
        switch instance.status {
        case .completed:
            let end =
                instance.endNode.map { "«\(process.nodes[$0].displayName)» (\(process.nodes[$0].id))" } ?? "its end"
            Swift.print("completed at \(end): \(steps) steps\(extra)")
        case .incident:
            Swift.print("incident at '\(instance.incident?.node ?? "?")': \(instance.incident?.message ?? "")")
        case .waiting, .running:
            let waiting = instance.tokens.map { "'\(process.nodes[$0.node].id)'" }.joined(separator: ", ")
            Swift.print("waiting at \(waiting) after \(steps) steps")
        case .terminated:
            Swift.print("terminated after \(steps) steps")
        }
    }
}
