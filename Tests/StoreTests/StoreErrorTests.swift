import Engine
import Foundation
import Testing
import Values

@testable import Store

/// Store errors are typed: each case names its facts, and its kind maps to one exit code and
/// one HTTP status.
@Suite struct StoreErrorTests {
    @Test func kindsMapToTheDocumentedExitCodesAndStatuses() {
        #expect(StoreError.Kind.notFound.exitCode == 2 && StoreError.Kind.notFound.httpStatus == 404)
        #expect(StoreError.Kind.conflict.exitCode == 5 && StoreError.Kind.conflict.httpStatus == 409)
        #expect(StoreError.Kind.unavailable.exitCode == 6 && StoreError.Kind.unavailable.httpStatus == 503)
    }

    @Test func eachCaseHasItsKindAndMessage() {
        let at = Date(timeIntervalSince1970: 1_764_600_000)
        let cases: [(StoreError, StoreError.Kind, String)] = [
            (
                .noSuchInstance(id: "abc", store: "s.sqlite", tooShort: true), .notFound,
                "no instance 'abc' in the store 's.sqlite' (an abbreviated id needs at least 4 characters)"
            ),
            (
                .ambiguousInstance(typed: "12ab", store: "s", matches: ["12ab1", "12ab2"], more: true), .notFound,
                "instance id '12ab' is ambiguous in the store 's': 12ab1, 12ab2, …"
            ),
            (.noSuchTask(task: "Оплата", instance: "i"), .notFound, "no open task 'Оплата' in instance 'i'"),
            (
                .taskAlreadyCompleted(task: "Принять заказ", instance: "i", by: "ivanov", at: at), .conflict,
                "task 'Принять заказ' of instance 'i' is already completed by ivanov (at \(Timestamp.rfc3339(at))); nothing was changed"
            ),
            (
                .taskNotOpen(task: "t", instance: "i", status: .waiting, open: ["a", "b"]), .conflict,
                "task 't' is not open in instance 'i' (waiting; open tasks: 'a', 'b'); nothing was changed"
            ),
            (
                .taskNotOpen(task: "t", instance: "i", status: .completed, open: []), .conflict,
                "task 't' is not open in instance 'i' (completed; open tasks: none); nothing was changed"
            ),
            (
                .instanceChangedMeanwhile(instance: "i"), .conflict,
                "instance 'i' was changed by another command meanwhile; nothing of this step was committed"
            ),
            (
                .notInIncident(instance: "i", status: .waiting), .conflict,
                "instance 'i' is waiting, not in an incident; nothing was changed"
            ),
            (
                .instanceEnded(instance: "i", status: "terminated"), .conflict,
                "instance 'i' is already terminated; nothing was changed"
            ),
            (
                .corruptState(instance: "i", store: "s", detail: "at 'tokens': bad"), .unavailable,
                "instance 'i' in the store 's' has a corrupted state (at 'tokens': bad); `procrun cancel i --force` terminates it, `procrun check` lists every such instance"
            ),
            (
                .unavailable(store: "s", reason: .diskFull(detail: "SQLite error 13")), .unavailable,
                "the store 's' could not be written: disk full or I/O error (SQLite error 13); nothing of this step was committed"
            ),
            (
                .unavailable(store: "s", reason: .newerSchema(version: "v9")), .unavailable,
                "the store 's' was written by a newer procrun (schema v9); upgrade procrun to open it"
            ),
        ]
        for (error, kind, message) in cases {
            #expect(error.kind == kind, "\(error)")
            #expect(error.message == message)
            #expect("\(error)" == message)
        }
    }

    /// Errors come from the store as cases, not strings: a caller can tell them apart.
    @Test func theStoreThrowsCases() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "procrun-errors-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s.sqlite").path
        let store = try InstanceStore(path: path)
        #expect(throws: StoreError.noSuchInstance(id: "nope-nope", store: path)) { try store.resolve("nope-nope") }
        #expect(throws: StoreError.noSuchInstance(id: "ab", store: path, tooShort: true)) { try store.resolve("ab") }
    }
}
