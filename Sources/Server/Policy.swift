import ProcessModel
import Runtime

/// Who may do what: the role rules of the server, in one place.
///
/// - Only administrators deploy definitions (any definition: above all those with a webhook,
///   e-mail or other integration node), list incidents, and retry, skip or cancel an instance in
///   an incident.
/// - A person completes or claims a task only if they are its assignee (who claimed it), or,
///   while nobody has claimed it, one of its candidates (its candidate users, the members of
///   its candidate groups and of the org unit or group named after its lane, as the directory
///   resolved them when the task opened). A task whose model names no assignee, candidate users
///   or groups, and whose lane names nobody in the directory, is open to everyone; one whose
///   model names some that resolve to nobody is open to administrators only (it would otherwise
///   be open to all by mistake). Administrators are otherwise held to the same rule: they act
///   through incidents, not others' tasks.
/// - A person sees the instances they started or took part in (completed a task of), and those
///   with a task they may perform or claim; administrators see all. Others are not found (404).
/// - An instance is cancelled by an administrator or the person who started it (but one in an
///   incident by an administrator only).
public enum Policy {
    public static func mayDeploy(_ user: Principal) -> Bool { user.isAdmin }

    public static func mayOperateIncidents(_ user: Principal) -> Bool { user.isAdmin }

    /// Whether the model names who performs the task (assignee, candidate users or groups).
    public static func declaresPerformers(_ task: OpenTask, in process: ProcessDefinition?) -> Bool {
        guard let process, let index = process.nodeIndex(id: task.nodeID) else { return false }
        let node = process.nodes[index]
        return node.assignee != nil || !node.candidateUsers.isEmpty || !node.candidateGroups.isEmpty
    }

    public static func mayPerform(_ task: OpenTask, _ user: Principal, declared: Bool) -> Bool {
        if let assignee = task.assignee { return assignee == user.id }
        if task.candidates.isEmpty { return declared ? user.isAdmin : true }
        return task.candidates.contains(user.id)
    }

    /// Claiming: the candidates (or, without any, as `mayPerform`), whether claimed or not; who
    /// claimed it first wins, the others get a conflict.
    public static func mayClaim(_ task: OpenTask, _ user: Principal, declared: Bool) -> Bool {
        if task.assignee == user.id { return true }
        if task.candidates.isEmpty { return declared ? user.isAdmin : true }
        return task.candidates.contains(user.id)
    }

    public static func maySee(startedBy: String?, participants: [String], _ user: Principal) -> Bool {
        user.isAdmin || startedBy == user.id || participants.contains(user.id)
    }

    /// Cancelling an instance: administrators, and the person who started it unless it is in
    /// an incident.
    public static func mayCancel(startedBy: String?, inIncident: Bool, _ user: Principal) -> Bool {
        user.isAdmin || (startedBy == user.id && !inIncident)
    }

    static func refuseTask(_ task: OpenTask, _ user: Principal) -> APIError {
        if let assignee = task.assignee, assignee != user.id {
            return APIError(
                .conflict, "claimed", "task '\(task.nodeID)' is claimed by \(assignee); only they may complete it")
        }
        if task.candidates.isEmpty {
            return APIError.forbidden(
                "task '\(task.nodeID)' names performers the directory does not know; only administrators may perform it"
            )
        }
        return APIError.forbidden(
            "\(user.id) may not perform task '\(task.nodeID)' (candidates: \(task.candidates.joined(separator: ", ")))")
    }
}
