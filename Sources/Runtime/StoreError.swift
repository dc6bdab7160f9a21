import Engine
import Foundation
import Values

/// Why a store command could not do what it was asked. Each case carries the facts, and its
/// `kind` decides the exit code and the HTTP status in one place (`Kind.exitCode`,
/// `Kind.httpStatus`), so the command line and a server answer the same error alike.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No instance has this id (or a unique prefix of it). `tooShort`: the typed id was shorter
    /// than an abbreviation may be.
    case noSuchInstance(id: String, store: String, tooShort: Bool = false)
    /// The typed prefix matches several instances (the first few are named).
    case ambiguousInstance(typed: String, store: String, matches: [String], more: Bool)
    /// The instance's process has no task of that id or name.
    case noSuchTask(task: String, instance: String)
    /// A message from outside that no stored instance waits for (with that correlation key)
    /// and no deployed process starts with.
    case noReceiver(message: String, correlationKey: String?)
    /// The task was completed already (by another command, perhaps at the same moment).
    case taskAlreadyCompleted(task: String, instance: String, by: String?, at: Date)
    /// The task exists in the process but is not open in the instance now.
    case taskNotOpen(task: String, instance: String, status: InstanceStatus, open: [String])
    /// Another command completed the task between this command's read and its write.
    case taskCompletedMeanwhile(task: String, instance: String)
    /// Someone else claimed the task.
    case taskClaimed(task: String, instance: String, by: String)
    /// Another command changed the instance between this command's read and its write.
    case instanceChangedMeanwhile(instance: String)
    /// The instance has ended (completed or terminated): there is nothing to cancel.
    case instanceEnded(instance: String, status: String)
    /// `retry` or `skip` of an instance that is not in an incident.
    case notInIncident(instance: String, status: InstanceStatus)
    /// `skip` of an incident of the step budget: no node failed, so there is nothing to skip.
    case nothingToSkip(instance: String, budget: Int, node: String)
    /// The instance's definition is not in the store.
    case definitionMissing(definition: Int64)
    /// The stored definition no longer loads (a newer procrun refuses what an older one took).
    case definitionNoLongerLoads(definition: Int64, errors: [String])
    /// The instance's stored state cannot be decoded.
    case corruptState(instance: String, store: String, detail: String)
    /// The stored state names an element its definition does not contain (`subject`: "element
    /// 'Task_gone' (tokens.0.node)"); `waiting`: the instance waits there, rather than its
    /// history naming it. procrun does not guess where such an instance stands.
    case stateNamesMissingElement(instance: String, store: String, subject: String, waiting: Bool, definition: String)
    /// The stored state has a format newer than this procrun reads.
    case stateFromNewerProcrun(instance: String, store: String, subject: String)
    /// The store could not be opened, read or written.
    case unavailable(store: String, reason: Unavailability)

    /// Why a store is unavailable; `detail` is SQLite's own words.
    public enum Unavailability: Sendable, Equatable {
        case diskFull(detail: String)
        case readOnly(detail: String)
        case locked(detail: String)
        case damaged(detail: String)
        case cannotOpen(detail: String)
        case newerSchema(version: String)
        case failed(detail: String)
        /// An error that is not SQLite's (a file system error, say).
        case other(writing: Bool, detail: String)
    }

    /// What kind of failure this is, for exit codes and HTTP statuses.
    public enum Kind: Sendable {
        /// The command names something the store does not have (an instance, a task): invalid input.
        case notFound
        /// The instance is not in the state the command needs, usually because another command
        /// changed it first (a task already completed, an instance no longer in an incident).
        /// Nothing was changed.
        case conflict
        /// The store could not be opened, read or written (disk full, I/O error, a busy lock that
        /// never came free, a state that cannot be decoded). Nothing of the step was committed.
        case unavailable

        /// The exit code of the command line (see the README's table).
        public var exitCode: Int32 {
            switch self {
            case .notFound: 2
            case .conflict: 5
            case .unavailable: 6
            }
        }

        /// The HTTP status a server answers with.
        public var httpStatus: Int {
            switch self {
            case .notFound: 404
            case .conflict: 409
            case .unavailable: 503
            }
        }
    }

    /// Whether the error concerns one instance that cannot be read (its state or its
    /// definition), rather than the whole store: work for other instances can go on.
    public var isAboutOneInstance: Bool {
        switch self {
        case .corruptState, .stateNamesMissingElement, .stateFromNewerProcrun, .definitionMissing,
            .definitionNoLongerLoads:
            true
        default: false
        }
    }

    public var kind: Kind {
        switch self {
        case .noSuchInstance, .ambiguousInstance, .noSuchTask, .noReceiver: .notFound
        case .taskAlreadyCompleted, .taskNotOpen, .taskCompletedMeanwhile, .taskClaimed, .instanceChangedMeanwhile,
            .instanceEnded,
            .notInIncident,
            .nothingToSkip:
            .conflict
        case .definitionMissing, .definitionNoLongerLoads, .corruptState, .stateNamesMissingElement,
            .stateFromNewerProcrun, .unavailable:
            .unavailable
        }
    }

    public var message: String {
        switch self {
        case .corruptState(let instance, _, _), .stateNamesMissingElement(let instance, _, _, _, _),
            .stateFromNewerProcrun(let instance, _, _):
            problem + "; `procrun cancel \(instance) --force` terminates it, `procrun check` lists every such instance"
        default: problem
        }
    }

    /// The message without what to do about it (as `procrun check` lists the instance).
    public var problem: String {
        switch self {
        case .noSuchInstance(let id, let store, let tooShort):
            "no instance '\(id)' in the store '\(store)'"
                + (tooShort ? " (an abbreviated id needs at least 4 characters)" : "")
        case .ambiguousInstance(let typed, let store, let matches, let more):
            "instance id '\(typed)' is ambiguous in the store '\(store)': " + matches.joined(separator: ", ")
                + (more ? ", …" : "")
        case .noSuchTask(let task, let instance):
            "no open task '\(task)' in instance '\(instance)'"
        case .noReceiver(let message, let key):
            "no instance waits for message '\(message)'\(key.map { " with correlation key '\($0)'" } ?? "") and no "
                + "deployed process starts with it; nothing was changed"
        case .taskClaimed(let task, let instance, let by):
            "task '\(task)' of instance '\(instance)' is claimed by \(by); nothing was changed"
        case .taskAlreadyCompleted(let task, let instance, let by, let at):
            "task '\(task)' of instance '\(instance)' is already completed\(by.map { " by \($0)" } ?? "") (at \(Timestamp.rfc3339(at))); "
                + "nothing was changed"
        case .taskNotOpen(let task, let instance, let status, let open):
            "task '\(task)' is not open in instance '\(instance)' (\(status.rawValue); open tasks: "
                + (open.isEmpty ? "none" : open.map { "'\($0)'" }.joined(separator: ", ")) + "); nothing was changed"
        case .taskCompletedMeanwhile(let task, let instance):
            "task '\(task)' of instance '\(instance)' was completed by another command meanwhile; nothing was changed"
        case .instanceChangedMeanwhile(let instance):
            "instance '\(instance)' was changed by another command meanwhile; nothing of this step was committed"
        case .instanceEnded(let instance, let status):
            "instance '\(instance)' is already \(status); nothing was changed"
        case .notInIncident(let instance, let status):
            "instance '\(instance)' is \(status.rawValue), not in an incident; nothing was changed"
        case .nothingToSkip(let instance, let budget, let node):
            "instance '\(instance)' stopped on its step budget of \(budget) steps at '\(node)', not on a failed step: "
                + "there is nothing to skip; `procrun retry` runs another \(budget) steps, `procrun cancel` ends it; nothing was changed"
        case .definitionMissing(let definition):
            "definition \(definition) is missing from the store"
        case .definitionNoLongerLoads(let definition, let errors):
            "stored definition \(definition) no longer loads: " + errors.joined(separator: "; ")
        case .corruptState(let instance, let store, let detail):
            "instance '\(instance)' in the store '\(store)' has a corrupted state (\(detail))"
        case .stateNamesMissingElement(let instance, let store, let subject, let waiting, let definition):
            "instance '\(instance)' in the store '\(store)' \(waiting ? "waits at" : "refers to") \(subject), "
                + "which \(definition) does not contain; procrun does not guess where the instance stands"
        case .stateFromNewerProcrun(let instance, let store, let subject):
            "instance '\(instance)' in the store '\(store)' was stored by a newer procrun (\(subject))"
        case .unavailable(let store, let reason):
            switch reason {
            case .diskFull(let detail):
                "the store '\(store)' could not be written: disk full or I/O error (\(detail)); nothing of this step was committed"
            case .readOnly(let detail):
                "the store '\(store)' is read-only (\(detail)); nothing of this step was committed"
            case .locked(let detail):
                "the store '\(store)' stayed locked by another process for 30 s (\(detail)); nothing of this step was committed"
            case .damaged(let detail):
                "the store '\(store)' is damaged or not a procrun store (\(detail))"
            case .cannotOpen(let detail):
                "the store '\(store)' cannot be opened (\(detail))"
            case .newerSchema(let version):
                "the store '\(store)' was written by a newer procrun (schema \(version)); upgrade procrun to open it"
            case .failed(let detail):
                "the store '\(store)' failed (\(detail)); nothing of this step was committed"
            case .other(let writing, let detail):
                "the store '\(store)' could not be \(writing ? "written" : "read"): \(detail)"
            }
        }
    }

    public var description: String { message }
}
