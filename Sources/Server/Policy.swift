import Runtime

/// Who may do what: the role rules of the server, in one place.
///
/// - Only administrators deploy definitions (any definition: above all those with a webhook,
///   e-mail or other integration node), see configuration, and retry, skip or cancel incidents.
/// - A person completes or claims a task only if they are its assignee (who claimed it), or,
///   while nobody has claimed it, one of its candidates (its candidate users, the members of
///   its candidate groups and of the org unit or group named after its lane, as the directory
///   resolved them when the task opened). A task with no candidates at all is open to everyone.
///   Administrators are held to the same rule: they act through incidents, not others' tasks.
/// - A person sees the instances they started or took part in (completed a task of);
///   administrators see all.
public enum Policy {
    public static func mayDeploy(_ user: Principal) -> Bool { user.isAdmin }

    public static func mayOperateIncidents(_ user: Principal) -> Bool { user.isAdmin }

    public static func mayPerform(_ task: OpenTask, _ user: Principal) -> Bool {
        if let assignee = task.assignee { return assignee == user.id }
        return task.candidates.isEmpty || task.candidates.contains(user.id)
    }

    /// Claiming: the candidates (or anyone, without candidates), whether claimed or not; who
    /// claimed it first wins, the others get a conflict.
    public static func mayClaim(_ task: OpenTask, _ user: Principal) -> Bool {
        task.candidates.isEmpty || task.candidates.contains(user.id) || task.assignee == user.id
    }

    public static func maySee(startedBy: String?, participants: [String], _ user: Principal) -> Bool {
        user.isAdmin || startedBy == user.id || participants.contains(user.id)
    }

    /// Cancelling an instance: administrators, and the person who started it.
    public static func mayCancel(startedBy: String?, _ user: Principal) -> Bool {
        user.isAdmin || startedBy == user.id
    }

    static func refuseTask(_ task: OpenTask, _ user: Principal) -> APIError {
        if let assignee = task.assignee, assignee != user.id {
            return APIError(
                .conflict, "claimed", "task '\(task.nodeID)' is claimed by \(assignee); only they may complete it")
        }
        return APIError.forbidden(
            "\(user.id) may not perform task '\(task.nodeID)' (candidates: \(task.candidates.joined(separator: ", ")))")
    }
}
