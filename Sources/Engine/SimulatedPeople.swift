import Expressions
import Foundation
import ProcessModel
import Values

/// `--answers FILE`: a task id or task name → `{"by": "user id", "variables": {…}}`.
public struct Answers: Sendable {
    public struct Answer: Sendable {
        public var by: String?
        public var variables: JSONObject
    }

    public var entries: [String: Answer] = [:]
    /// The JSON these answers were read from (what a store keeps with the instance).
    public private(set) var source: JSONValue?

    public init() {}

    public init(json: JSONValue, file: String) throws(Diagnostic) {
        source = json
        func fail(_ message: String) -> Diagnostic {
            .error(at: SourceLocation(file: file, line: 1, column: 1), message)
        }
        guard case .object(let root) = json else {
            throw fail("answers must be a JSON object: task id or name → {\"by\", \"variables\"}")
        }
        for (task, value) in root {
            guard case .object(let answer) = value else {
                throw fail("answer for \"\(task)\" must be an object with \"by\" and/or \"variables\"")
            }
            for key in answer.keys where key != "by" && key != "variables" {
                throw fail("unknown key \"\(key)\" in the answer for \"\(task)\" (known: by, variables)")
            }
            var by: String?
            if let value = answer["by"] {
                guard case .string(let user) = value else {
                    throw fail("\"by\" of \"\(task)\" must be a user id string")
                }
                by = user
            }
            var variables = JSONObject()
            if let value = answer["variables"] {
                guard case .object(let object) = value else {
                    throw fail("\"variables\" of \"\(task)\" must be an object")
                }
                variables = object
            }
            entries[task] = Answer(by: by, variables: variables)
        }
    }

    public func answer(for node: FlowNode) -> Answer? {
        entries[node.id] ?? node.name.flatMap { entries[$0] }
    }
}

/// The people `procrun run` (and `run --store`, `start` with `--answers`) simulates: each task is
/// completed by the answer given for it, else by whom the task names, else by the lane's or
/// group's first member, else by the initiator; notification recipients are resolved through
/// the directory.
public struct SimulatedPeople: Sendable {
    public var answers: Answers
    public var directory: Directory

    public init(answers: Answers = Answers(), directory: Directory = Directory()) {
        self.answers = answers
        self.directory = directory
    }

    /// Reads an instance's stored answers and directory.
    public init(answers: JSONValue?, directory: JSONValue?) throws(Diagnostic) {
        self.answers =
            try answers.map { json throws(Diagnostic) in try Answers(json: json, file: "answers") } ?? Answers()
        self.directory =
            try directory.map { json throws(Diagnostic) in try Directory(json: json, file: "directory") } ?? Directory()
    }

    /// Who completes a task: the answer's `by`, else the assignee, else a candidate user, else a
    /// member of the lane's org unit or group (or a candidate group), else the initiator.
    public func performer(for node: FlowNode, instance: Instance) -> String {
        if let by = answers.answer(for: node)?.by { return by }
        if let assignee = node.assignee?.trimmingWhitespace(), !assignee.isEmpty {
            if assignee.hasPrefix("${") || assignee.hasPrefix("#{") || assignee.hasPrefix("=") {
                if let expression = try? FEELExpression(assignee),
                    case .string(let user)? = try? expression.evaluate(in: instance.context)
                {
                    return user
                }
            } else {
                return assignee
            }
        }
        if let user = node.candidateUsers.first { return user }
        if let lane = node.lane {
            if let member = directory.orgUnit(lane)?.first ?? directory.group(lane)?.first { return member }
        }
        for group in node.candidateGroups {
            if let member = directory.group(group)?.first ?? directory.orgUnit(group)?.first { return member }
        }
        return instance.initiator
    }

    /// Resolves recipients to user ids, each once, in the order configured.
    public func resolve(_ recipients: [ResolvedRecipient]) -> [String] { directory.users(for: recipients) }
}
