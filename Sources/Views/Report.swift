import Engine
import Foundation
import ProcessModel
import Values

/// The `--json` report of one instance.
public enum Report {
    public static func json(_ instance: Instance, process: ProcessDefinition) -> JSONValue {
        var report = JSONObject()
        report["instance"] = .string(instance.id)
        report["process"] = .string(process.id)
        report["status"] = .string(instance.status.rawValue)
        if let end = instance.endNode, instance.status == .completed {
            let node = process.nodes[end]
            report["end"] = ["id": .string(node.id), "name": node.name.map(JSONValue.string) ?? .null]
        } else {
            report["end"] = .null
        }
        report["path"] = .array(instance.path.map { .string(process.nodes[$0].id) })
        report["context"] = .object(instance.context)
        report["notifications"] = .array(
            instance.notifications.map {
                ["node": .string($0.node), "user": .string($0.user), "message": .string($0.message)]
            })
        func run(_ run: JobRun) -> JSONValue {
            var object = JSONObject()
            object["node"] = .string(process.nodes[run.node].id)
            object["type"] = .string(run.type)
            object["idempotencyKey"] = .string(run.idempotencyKey)
            object["tries"] = .array(
                run.tries.map { attempt in
                    var t = JSONObject()
                    t["attempt"] = .number(Double(attempt.attempt))
                    t["time"] = .string(Timestamp.rfc3339(attempt.time))
                    t["status"] = attempt.status.map { .number(Double($0)) } ?? .null
                    t["error"] = attempt.error.map(JSONValue.string) ?? .null
                    return .object(t)
                })
            object["outcome"] = .string(run.outcome.rawValue)
            return .object(object)
        }
        report["jobs"] = .array(instance.jobRuns.map(run))
        // Deprecated: the webhook jobs alone, as before `jobs` (kept for one release).
        report["webhooks"] = .array(instance.jobRuns.filter { $0.type == "webhook" }.map(run))
        if let incident = instance.incident {
            report["incident"] = ["node": .string(incident.node), "message": .string(incident.message)]
        } else {
            report["incident"] = .null
        }
        return .object(report)
    }
}
