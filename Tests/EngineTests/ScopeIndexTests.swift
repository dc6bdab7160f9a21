import BPMNLoader
import Foundation
import ProcessModel
import Testing

@testable import Engine

@Suite struct ScopeIndexTests {
    /// An engine's start events and event sub-processes by scope, found once, are the ones the
    /// process lists by scanning its nodes, in the same order: for a nested model here and for
    /// every process of the MIWG reference files that an engine prepares.
    @Test func theScopeIndexListsWhatAScanFinds() throws {
        let nested = try engine(
            """
            <startEvent id="s"/><subProcess id="outer"><startEvent id="os"/>
            <subProcess id="inner"><startEvent id="is"/><endEvent id="ie"/><sequenceFlow id="i1" sourceRef="is" targetRef="ie"/></subProcess>
            <subProcess id="e1" triggeredByEvent="true"><startEvent id="e1s"><signalEventDefinition signalRef="go"/></startEvent><endEvent id="e1e"/>
            <sequenceFlow id="e11" sourceRef="e1s" targetRef="e1e"/></subProcess>
            <endEvent id="oe"/><sequenceFlow id="o1" sourceRef="os" targetRef="inner"/><sequenceFlow id="o2" sourceRef="inner" targetRef="oe"/></subProcess>
            <subProcess id="e2" triggeredByEvent="true"><startEvent id="e2s"><signalEventDefinition signalRef="stop"/></startEvent><endEvent id="e2e"/>
            <sequenceFlow id="e21" sourceRef="e2s" targetRef="e2e"/></subProcess>
            <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="outer"/><sequenceFlow id="f2" sourceRef="outer" targetRef="e"/>
            """)
        var engines = [nested]
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ProcrunCLITests/Fixtures/miwg/reference")
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".bpmn") {
            for process in BPMNLoader.load(path: folder.appendingPathComponent(file).path).definitions?.processes ?? []
            {
                if let prepared = try? Engine(process: process) { engines.append(prepared) }
            }
        }
        #expect(engines.count > 10)
        var subProcessesSeen = 0
        for engine in engines {
            let process = engine.process
            for scope in Set(process.nodes.map(\.scope)) + [nil] {
                #expect(
                    engine.startEvents(inScope: scope) == process.startEvents(inScope: scope),
                    "\(process.id) scope \(String(describing: scope))")
                #expect(
                    engine.eventSubProcesses(inScope: scope) == process.eventSubProcesses(inScope: scope),
                    "\(process.id)")
                subProcessesSeen += engine.eventSubProcesses(inScope: scope).count
            }
        }
        #expect(
            nested.eventSubProcesses(inScope: nil).count == 1
                && nested.startEvents(inScope: nested.process.nodeIndex(id: "outer")) == [
                    nested.process.nodeIndex(id: "os")!
                ])
        #expect(subProcessesSeen >= 2)
    }
}
