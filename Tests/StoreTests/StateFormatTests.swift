import BPMNLoader
import Engine
import Foundation
import GRDB
import ProcessModel
import Store
import Testing
import Values

/// Stored states name elements by id (format 2 on) and read older ones (format 1, by index).
@Suite struct StateFormatTests {
    static let xml = """
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
        <process id="P" isExecutable="true"><startEvent id="s"/><parallelGateway id="fork"/>
        <userTask id="u" name="Проверить «заказ»"/><scriptTask id="calc"><script>total = price * 2
        note = "строка с \\"кавычками\\" и \\\\ слэшем"</script></scriptTask>
        <subProcess id="sub"><startEvent id="s2"/><intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration xsi:type="tFormalExpression">PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e2"/>
        <sequenceFlow id="i1" sourceRef="s2" targetRef="wait"/><sequenceFlow id="i2" sourceRef="wait" targetRef="e2"/></subProcess>
        <parallelGateway id="join"/><endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="fork"/><sequenceFlow id="f2" sourceRef="fork" targetRef="u"/><sequenceFlow id="f3" sourceRef="fork" targetRef="calc"/>
        <sequenceFlow id="f4" sourceRef="fork" targetRef="sub"/><sequenceFlow id="f5" sourceRef="u" targetRef="join"/><sequenceFlow id="f6" sourceRef="calc" targetRef="join"/>
        <sequenceFlow id="f7" sourceRef="sub" targetRef="join"/><sequenceFlow id="f8" sourceRef="join" targetRef="e"/></process></definitions>
        """

    static func load(_ xml: String) throws -> ProcessDefinition {
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "s.bpmn")
        return try #require(result.definitions?.processes.first, "\(result.errors)")
    }

    /// A waiting instance with every kind of element reference set.
    static func waitingInstance(_ engine: Engine) -> Instance {
        let context: JSONObject = [
            "price": 21.5, "nested": ["list": [1, "два", nil, true], "empty": [:]], "tab\tkey": "x\u{01}y",
        ]
        var (instance, _) = engine.start(
            id: "i-1", context: context, initiator: "иванов", now: Date(timeIntervalSince1970: 1_800_000_000.125))
        let node = { (id: String) in engine.process.nodeIndex(id: id)! }
        instance.compensable = [node("u"), node("calc")]
        instance.firedComplexGateways = ["\(node("join"))/0"]
        instance.endNode = node("e")
        instance.caughtTriggers = [1: [0]]
        return instance
    }

    @Test func theCurrentFormatNamesElementsByIdAndRoundTrips() throws {
        let engine = try Engine(process: try Self.load(Self.xml))
        let instance = Self.waitingInstance(engine)
        #expect(instance.status == .waiting && !instance.timers.isEmpty && !instance.scopes.isEmpty)
        let bytes = StateEncoding.encode(instance, codec: engine.stateCodec)
        let json = String(decoding: bytes, as: UTF8.self)
        #expect(json.hasPrefix("{\"format\":3,\"id\":\"i-1\","))
        for part in [
            "\"node\":\"u\",\"scope\":0,\"arrivedVia\":\"f2\",\"state\":{\"waitingTask\":{}}",
            "\"timers\":[{\"id\":1,\"token\":", "\"node\":\"wait\",",
            "\"event\":\"left\",\"node\":\"fork\",\"flows\":[\"f2\",\"f3\",\"f4\"]", "\"endNode\":\"e\"",
            "\"firedComplexGateways\":[\"join/0\"]",
            "\"compensable\":[\"u\",\"calc\"]", "\"scopes\":[{\"id\":1,\"node\":\"sub\",",
        ] {
            #expect(json.contains(part), "\(part) in \(json)")
        }
        #expect(
            json.range(
                of: #""(node|arrivedVia|endNode)":[0-9]|"flows":\[[0-9]|"compensable":\[[0-9]"#,
                options: .regularExpression) == nil)

        let decoded = try engine.stateCodec.decode(Data(bytes))
        #expect(StateEncoding.encode(decoded, codec: engine.stateCodec) == bytes)
        #expect(
            decoded.tokens == instance.tokens && decoded.scopes == instance.scopes && decoded.timers == instance.timers)
        #expect(decoded.path == instance.path && decoded.history.map(\.flows) == instance.history.map(\.flows))
        #expect(
            decoded.firedComplexGateways == instance.firedComplexGateways && decoded.compensable == instance.compensable
        )
        #expect(decoded.endNode == instance.endNode && decoded.caughtTriggers == instance.caughtTriggers)
        #expect(decoded.context == instance.context)
    }

    /// A loader that orders the elements differently still finds what a state waits at.
    @Test func aStateFindsItsElementsInAProcessOrderedDifferently() throws {
        let engine = try Engine(process: try Self.load(Self.xml))
        let instance = Self.waitingInstance(engine)
        let bytes = Data(StateEncoding.encode(instance, codec: engine.stateCodec))
        // The same process with its elements in another order.
        let reordered = Self.xml
            .replacingOccurrences(of: "<startEvent id=\"s\"/><parallelGateway id=\"fork\"/>", with: "")
            .replacingOccurrences(
                of: "<parallelGateway id=\"join\"/><endEvent id=\"e\"/>",
                with:
                    "<endEvent id=\"e\"/><parallelGateway id=\"join\"/><parallelGateway id=\"fork\"/><startEvent id=\"s\"/>"
            )
            .replacingOccurrences(of: "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"fork\"/>", with: "")
            .replacingOccurrences(
                of: "</process>", with: "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"fork\"/></process>")
        let other = try StateCodec(process: Self.load(reordered))
        #expect(other.process.nodeIndex(id: "u") != engine.process.nodeIndex(id: "u"))
        let moved = try other.decode(bytes)
        let ids = { (process: ProcessDefinition, instance: Instance) in
            instance.tokens.map { process.nodes[$0.node].id }
        }
        #expect(ids(other.process, moved) == ids(engine.process, instance))
        #expect(moved.timers.map { other.process.nodes[$0.node].id } == ["wait"])
        #expect(
            moved.history.map { other.process.nodes[$0.node].id }
                == instance.history.map { engine.process.nodes[$0.node].id })
        #expect(
            moved.tokens.compactMap { $0.arrivedVia.map { other.process.flows[$0].id } }
                == instance.tokens.compactMap { $0.arrivedVia.map { engine.process.flows[$0].id } })
        #expect(moved.firedComplexGateways == ["\(other.process.nodeIndex(id: "join")!)/0"])
        #expect(StateEncoding.encode(moved, codec: other) == Array(bytes))
    }

    /// Nodes of a called process run in place are named by their prefixed ids (`invoice/approve`).
    @Test func calledProcessesRunInPlaceAreNamedByTheirPrefixedIds() throws {
        let xml = """
            <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
            <process id="Main" isExecutable="true"><startEvent id="s"/><callActivity id="invoice" calledElement="Billing"/><endEvent id="e"/>
            <sequenceFlow id="f1" sourceRef="s" targetRef="invoice"/><sequenceFlow id="f2" sourceRef="invoice" targetRef="e"/></process>
            <process id="Billing" isExecutable="false"><startEvent id="bs"/><userTask id="approve"/><endEvent id="be"/>
            <sequenceFlow id="b1" sourceRef="bs" targetRef="approve"/><sequenceFlow id="b2" sourceRef="approve" targetRef="be"/></process>
            </definitions>
            """
        let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "c.bpmn")
        let engine = try Engine(process: try #require(result.definitions?.process(id: "Main"), "\(result.errors)"))
        let (instance, _) = engine.start(
            id: "c-1", context: JSONObject(), initiator: "u", now: Date(timeIntervalSince1970: 1_800_000_000))
        let bytes = StateEncoding.encode(instance, codec: engine.stateCodec)
        let json = String(decoding: bytes, as: UTF8.self)
        #expect(json.contains("\"node\":\"invoice/approve\",\"scope\":1,\"arrivedVia\":\"invoice/b1\""), "\(json)")
        let decoded = try engine.stateCodec.decode(Data(bytes))
        #expect(decoded.tokens == instance.tokens && decoded.scopes == instance.scopes)
        #expect(decoded.openTasks.map { engine.process.nodes[$0.node].id } == ["invoice/approve"])
    }

    @Test func unknownElementsAndNewerFormatsAreRefused() throws {
        let engine = try Engine(process: try Self.load(Self.xml))
        let json = String(
            decoding: StateEncoding.encode(Self.waitingInstance(engine), codec: engine.stateCodec), as: UTF8.self)
        let token = try #require(
            engine.stateCodec.decode(Data(json.utf8)).tokens.firstIndex { engine.process.nodes[$0.node].id == "u" })
        #expect(throws: StateError.unknownElement(id: "gone", path: "tokens.\(token).node")) {
            try engine.stateCodec.decode(
                Data(
                    json.replacingOccurrences(of: "\"node\":\"u\",\"scope\"", with: "\"node\":\"gone\",\"scope\"").utf8)
            )
        }
        #expect(throws: StateError.unknownElement(id: "f_gone", path: "tokens.\(token).arrivedVia")) {
            try engine.stateCodec.decode(
                Data(json.replacingOccurrences(of: "\"arrivedVia\":\"f2\"", with: "\"arrivedVia\":\"f_gone\"").utf8))
        }
        #expect(throws: StateError.unknownElement(id: "gone", path: "timers.0.node")) {
            try engine.stateCodec.decode(
                Data(
                    json.replacingOccurrences(
                        of: "\"node\":\"wait\",\"startedAt\"", with: "\"node\":\"gone\",\"startedAt\""
                    ).utf8))
        }
        #expect(throws: StateError.newerFormat(4)) {
            try engine.stateCodec.decode(
                Data(json.replacingOccurrences(of: "{\"format\":3,", with: "{\"format\":4,").utf8))
        }
    }

    /// States written by procrun before ids (the fixture store, format 1) read as the same
    /// instances as their format 2 rewrite, each element the same.
    @Test func formatOneStatesOfTheFixtureReadAsTheCurrentFormat() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-v1-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let copy = directory.appendingPathComponent("store.sqlite").path
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("store-v1.sqlite").path, toPath: copy)
        let rows = try DatabaseQueue(path: copy).read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT instance.id, state, xml, file, definition.processId FROM instance JOIN definition ON definition.id = definitionId"
            )
        }
        #expect(rows.count == 5)
        var waitedAt: Set<String> = []
        for row in rows {
            let state: Data = row["state"]
            let raw = try #require(try JSONParser.parse(String(decoding: state, as: UTF8.self)).objectValue)
            #expect(raw["format"] == nil)
            let xml: [UInt8] = Array((row["xml"] as Data))
            let process = try #require(
                BPMNLoader.load(bytes: xml, file: row["file"]).definitions?.process(id: row["processId"]))
            let codec = StateCodec(process: process)
            let old = try codec.decode(state)
            // The same indices the old procrun wrote: the same loader orders the same file alike.
            let rawNodes = raw["tokens"]?.arrayValue?.compactMap { token -> Int? in
                if case .number(let index) = token.objectValue?["node"] { Int(index) } else { nil }
            }
            #expect(rawNodes == old.tokens.map(\.node))
            let rewritten = StateEncoding.encode(old, codec: codec)
            #expect(String(decoding: rewritten, as: UTF8.self).hasPrefix("{\"format\":3,"))
            let new = try codec.decode(Data(rewritten))
            #expect(StateEncoding.encode(new, codec: codec) == rewritten)
            #expect(
                new.tokens == old.tokens && new.scopes == old.scopes && new.timers == old.timers
                    && new.multiInstances == old.multiInstances)
            #expect(new.path == old.path && new.context == old.context && new.incident == old.incident)
            for token in new.tokens
            where token.state == .waitingTask || token.state == .waitingEvent || token.state == .waitingJob {
                waitedAt.insert(process.nodes[token.node].id)
            }
            for timer in new.timers { waitedAt.insert("timer " + process.nodes[timer.node].id) }
            for run in new.multiInstances { waitedAt.insert("multi-instance " + process.nodes[run.node].id) }
        }
        #expect(
            waitedAt == [
                "Task_accept", "Task_assemble", "Task_webhook", "Task_inner", "Timer_wait", "timer Timer_wait",
                "multi-instance Task_inner", "Task_call",
            ])

        // The store reads them the same way.
        let store = try InstanceStore(path: copy)
        for row in rows {
            let id: String = row["id"]
            #expect(try store.instance(id)?.instance.id == id)
        }
    }
}
