import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Store
import Testing
import Values

/// A channel that fails a user's first tries as scripted, recording each try's time and key.
final class ScriptedChannel: NotificationChannel, @unchecked Sendable {
    let name = "url"
    let timeout = 1.0
    private let lock = NSLock()
    private var failures: [String: Int]
    private let clock: ManualScheduler
    private(set) var tries: [(user: String, key: String, time: Date)] = []

    init(failures: [String: Int], clock: ManualScheduler) {
        self.failures = failures
        self.clock = clock
    }

    func send(_ notification: OutgoingNotification) async -> ChannelOutcome {
        lock.withLock {
            tries.append((notification.user, notification.key, clock.now))
            let left = failures[notification.user, default: 0]
            guard left > 0 else { return .sent }
            failures[notification.user] = left - 1
            return .failed("HTTP 503 from the notify URL")
        }
    }
}

let notifyingXML = """
    <?xml version="1.0" encoding="UTF-8"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
    <process id="P" name="Склад" isExecutable="true">
    <startEvent id="s"/>
    <serviceTask id="w"><extensionElements><procrun:webhook url="http://127.0.0.1:9/x">
      <procrun:onError interrupt="f2"><procrun:notify user="ivanov"/><procrun:notify user="petrov"/></procrun:onError>
    </procrun:webhook></extensionElements></serviceTask>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="w"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/>
    </process></definitions>
    """

@Suite struct NotificationDeliveryTests {
    /// Five tries, 1, 2, 4 and 8 s apart, each with the same key; then `failed` with the last
    /// error. A person whose third try goes through is delivered after three.
    @Test func triesFiveTimesWithDoublingDelays() async throws {
        let clock = ManualScheduler()
        let start = clock.now
        let runner = DurableRunner(
            store: try InstanceStore(path: temporaryStore()), performer: CountingPerformer(failFirst: 1),
            scheduler: clock)
        let process = try #require(
            BPMNLoader.load(bytes: Array(notifyingXML.utf8), file: "n.bpmn").definitions?.processes.first)
        let id = try runner.start(
            file: "n.bpmn", xml: Array(notifyingXML.utf8), process: process, context: [:], answers: nil, directory: nil,
            initiator: "boss")
        try await runner.drain(instance: id)
        // No channel yet: the notifications wait in the outbox.
        #expect(try runner.store.storedNotifications().map(\.status) == [.pending, .pending])

        let channel = ScriptedChannel(failures: ["ivanov": 100, "petrov": 2], clock: clock)
        runner.channels = [channel]
        try await runner.work(untilIdle: true)
        let ivanov = channel.tries.filter { $0.user == "ivanov" }
        #expect(ivanov.map { $0.time.timeIntervalSince(start) } == [0, 1, 3, 7, 15])
        #expect(Set(ivanov.map(\.key)) == ["\(id)-notify-1"])
        #expect(channel.tries.filter { $0.user == "petrov" }.map { $0.time.timeIntervalSince(start) } == [0, 1, 3])

        let stored = try runner.store.storedNotifications()
        #expect(stored.map(\.outgoing.user) == ["ivanov", "petrov"])
        #expect(
            stored[0].status == .failed && stored[0].attempts == 5 && stored[0].channel == nil
                && stored[0].sentAt == nil)
        #expect(stored[0].lastError == "url: HTTP 503 from the notify URL")
        #expect(stored[1].status == .delivered && stored[1].attempts == 3 && stored[1].channel == "url")
        #expect(stored[1].sentAt == start.addingTimeInterval(3))
        // The text is Russian (no directory, no locale).
        #expect(
            stored[1].outgoing.text.hasPrefix(
                "Процесс «Склад», экземпляр \(id): вебхук «w» не выполнен после 1 попытки: "))
        #expect(try runner.store.storedNotifications(user: "petrov").count == 1)

        // Nothing is sent twice once it is done.
        try await runner.work(untilIdle: true)
        #expect(channel.tries.count == 8)
    }
}
