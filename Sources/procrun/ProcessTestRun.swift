import BPMNLoader
import Engine
import Expressions
import Foundation
import Integrations
import ProcessModel
import Runtime
import Values

/// A `*.test.json` file, read and checked: its process, directory and test cases.
struct ProcessTestFile {
    struct Case {
        var name: String
        var instructions: [JSONObject]
        var live: Bool
    }

    let path: String
    let processFile: String
    let xml: [UInt8]
    let definitions: Definitions
    let process: ProcessDefinition
    let directory: JSONValue?
    let cases: [Case]

    static let actions: Set<String> = [
        "CREATE_PROCESS_INSTANCE", "COMPLETE_USER_TASK", "PUBLISH_MESSAGE", "BROADCAST_SIGNAL", "INCREASE_TIME",
        "MOCK_WEBHOOK", "MOCK_JOB", "MOCK_TASK", "RESOLVE_INCIDENT",
    ]
    static let assertions: Set<String> = [
        "ASSERT_PROCESS_INSTANCE", "ASSERT_ELEMENT_INSTANCES", "ASSERT_USER_TASK", "ASSERT_VARIABLES",
        "ASSERT_NOTIFICATIONS", "ASSERT_JOB_REQUESTS", "ASSERT_INCIDENT",
    ]
    /// Camunda Process Test's spellings of the same instructions (its JSON test cases).
    static let aliases: [String: String] = [
        "ASSERT_ELEMENT_INSTANCE": "ASSERT_ELEMENT_INSTANCES", "CORRELATE_MESSAGE": "PUBLISH_MESSAGE",
        "MOCK_JOB_WORKER_COMPLETE_JOB": "MOCK_TASK", "MOCK_JOB_WORKER_THROW_BPMN_ERROR": "MOCK_TASK",
    ]

    /// An instruction in procrun's spelling: Camunda Process Test's selectors
    /// (`elementSelector`, `elementSelectors`, `userTaskSelector`: `{elementId}` or
    /// `{elementName}`), states (`IS_COMPLETED`), `signalName`, `errorCode` and `jobType` (a
    /// Zeebe task definition type: the tasks of that type) read as procrun's.
    static func normalized(_ instruction: JSONObject, in process: ProcessDefinition) -> JSONObject {
        var instruction = instruction
        for key in ["elementSelector", "userTaskSelector"] {
            if case .object(let selector)? = instruction[key] {
                for name in ["elementId", "elementName"] where selector[name] != nil {
                    instruction[name] = selector[name]
                }
            }
        }
        if case .array(let selectors)? = instruction["elementSelectors"] {
            let ids = selectors.compactMap { $0.objectValue?["elementId"] }
            let names = selectors.compactMap { $0.objectValue?["elementName"] }
            if !ids.isEmpty { instruction["elementIds"] = .array(ids) }
            if !names.isEmpty { instruction["elementNames"] = .array(names) }
        }
        if instruction["elementIds"] == nil, instruction["elementNames"] == nil,
            instruction["type"]?.stringValue?.hasPrefix("ASSERT_ELEMENT_INSTANCE") == true
        {
            if let id = instruction["elementId"] { instruction["elementIds"] = [id] }
            if let name = instruction["elementName"] { instruction["elementNames"] = [name] }
        }
        if case .string(var state)? = instruction["state"] {
            if state.hasPrefix("IS_") { state.removeFirst(3) }
            if state == "NOT_ACTIVE" { state = "NOT_ACTIVATED" }
            instruction["state"] = .string(state)
        }
        if instruction["name"] == nil, let signal = instruction["signalName"] { instruction["name"] = signal }
        if instruction["error"] == nil, let code = instruction["errorCode"] { instruction["error"] = code }
        if instruction["elementId"] == nil, instruction["elementName"] == nil,
            case .string(let jobType)? = instruction["jobType"],
            let node = process.nodes.first(where: {
                $0.skippedImplementation == "zeebe:taskDefinition type '\(jobType)'"
            })
        {
            instruction["elementId"] = .string(node.id)
        }
        return instruction
    }

    init(path: String) throws {
        self.path = path
        let location = SourceLocation(file: path, line: 1, column: 1)
        func fail(_ message: String) -> ExitWith { Inputs.fail([.error(at: location, message)]) }
        guard case .object(let root) = try Inputs.readJSON(path) else {
            throw fail("a test file is a JSON object with \"process\" and \"testCases\"")
        }
        let folder = (path as NSString).deletingLastPathComponent
        func relative(_ file: String) -> String {
            file.hasPrefix("/") || folder.isEmpty ? file : (folder as NSString).appendingPathComponent(file)
        }
        guard case .string(let processName)? = root["process"] else {
            throw fail("\"process\" (the BPMN file) is missing")
        }
        processFile = relative(processName)
        guard let data = FileManager.default.contents(atPath: processFile) else {
            throw fail("\"process\": cannot read '\(processFile)'")
        }
        xml = [UInt8](data)
        let result = BPMNLoader.load(bytes: xml, file: processFile)
        for diagnostic in result.diagnostics where diagnostic.severity == .error { printError(diagnostic.description) }
        guard !result.hasErrors, let definitions = result.definitions else { throw ExitWith(code: Exit.invalidInput) }
        self.definitions = definitions
        let wanted = root["processId"]?.stringValue
        guard
            let process = wanted.map({ definitions.process(id: $0) })
                ?? definitions.processes.first(where: \.isExecutable) ?? definitions.processes.first
        else {
            throw fail("\"processId\": '\(wanted ?? "")' is not a process of '\(processFile)'")
        }
        self.process = process
        if case .string(let file)? = root["directory"] {
            let json = try Inputs.readJSON(relative(file))
            do {
                _ = try Directory(json: json, file: relative(file))
            } catch {
                throw Inputs.fail([error])
            }
            directory = json
        } else {
            directory = nil
        }
        guard case .array(let list)? = root["testCases"], !list.isEmpty else {
            throw fail("\"testCases\" must be a non-empty list")
        }
        var cases: [Case] = []
        for (index, item) in list.enumerated() {
            guard case .object(let testCase) = item, case .string(let name)? = testCase["name"],
                case .array(let steps)? = testCase["instructions"]
            else { throw fail("testCases[\(index)] needs a \"name\" and a list of \"instructions\"") }
            var instructions: [JSONObject] = []
            for (number, step) in steps.enumerated() {
                guard case .object(var instruction) = step, case .string(let type)? = instruction["type"] else {
                    throw fail("testCases[\(index)].instructions[\(number)] needs a \"type\"")
                }
                let canonical = Self.aliases[type] ?? type
                guard Self.actions.contains(canonical) || Self.assertions.contains(canonical) else {
                    throw fail(
                        "testCases[\(index)] «\(name)», instruction \(number + 1): unknown type '\(type)' (known: \((Self.actions.union(Self.assertions)).sorted().joined(separator: ", ")))"
                    )
                }
                instruction = Self.normalized(instruction, in: process)
                instruction["type"] = .string(canonical)
                for key in ["elementId", "elementName"] where instruction[key] != nil {
                    guard let element = instruction[key]?.stringValue, Self.node(element, key: key, in: process) != nil
                    else {
                        throw fail(
                            "testCases[\(index)] «\(name)», instruction \(number + 1) (\(canonical)): \(key) '\(instruction[key].map { $0.stringValue ?? JSONWriter.string($0) } ?? "")' is not an element of process '\(process.id)'"
                        )
                    }
                }
                if let problem = Self.problem(of: instruction, type: canonical, in: process) {
                    throw fail("testCases[\(index)] «\(name)», instruction \(number + 1) (\(canonical)): \(problem)")
                }
                instructions.append(instruction)
            }
            cases.append(Case(name: name, instructions: instructions, live: testCase["live"] == true))
        }
        self.cases = cases
    }

    /// What is wrong with an instruction that can be told before it runs, or nil.
    static func problem(of instruction: JSONObject, type: String, in process: ProcessDefinition) -> String? {
        switch type {
        case "INCREASE_TIME":
            guard let text = instruction["duration"]?.stringValue, let seconds = parseDuration(text), seconds >= 0
            else {
                return "duration must be an ISO-8601 duration (PT10M)"
            }
        case "PUBLISH_MESSAGE", "BROADCAST_SIGNAL":
            if instruction["name"]?.stringValue == nil {
                return "give the \(type == "BROADCAST_SIGNAL" ? "signal" : "message")'s name"
            }
        case "MOCK_WEBHOOK", "MOCK_JOB":
            if let responses = instruction["responses"] {
                guard case .array(let list) = responses, !list.isEmpty else {
                    return "responses must be a non-empty list"
                }
                for response in list {
                    guard case .object(let object) = response else { return "each response is an object" }
                    if let status = object["status"] {
                        guard case .number(let code) = status, code >= 100, code < 600, code == code.rounded() else {
                            return
                                "status \(JSONWriter.string(status)) is not an HTTP status (a number from 100 to 599)"
                        }
                    }
                    if let error = object["error"], error.stringValue == nil { return "error must be a string" }
                }
            }
        case "ASSERT_PROCESS_INSTANCE":
            if let state = instruction["state"]?.stringValue,
                !["ACTIVE", "COMPLETED", "TERMINATED", "INCIDENT"].contains(state.uppercased())
            {
                return "state '\(state)' is not ACTIVE, COMPLETED, TERMINATED or INCIDENT"
            }
        case "ASSERT_ELEMENT_INSTANCES":
            if let state = instruction["state"]?.stringValue,
                !["ACTIVE", "COMPLETED", "NOT_ACTIVATED"].contains(state.uppercased())
            {
                return "state '\(state)' is not ACTIVE, COMPLETED or NOT_ACTIVATED"
            }
            for (key, single) in [("elementIds", "elementId"), ("elementNames", "elementName")] {
                guard let value = instruction[key] else { continue }
                guard case .array(let list) = value else { return "\(key) must be a list" }
                for item in list where item.stringValue.flatMap({ node($0, key: single, in: process) }) == nil {
                    return
                        "\(single) '\(item.stringValue ?? JSONWriter.string(item))' is not an element of process '\(process.id)'"
                }
            }
        default:
            break
        }
        return nil
    }

    /// A node by id (`elementId`) or name (`elementName`).
    static func node(_ text: String, key: String, in process: ProcessDefinition) -> Int? {
        key == "elementName" ? process.nodes.firstIndex { $0.name == text } : process.nodeIndex(id: text)
    }
}

/// One test case run in memory on a virtual clock, with mocked integrations.
final class ProcessTestRun {
    let suite: ProcessTestFile
    let testCase: ProcessTestFile.Case
    let clock: ManualScheduler
    let store = MemoryStore()
    let book: MockBook
    let runtime: ProcessRuntime<MemoryStore>
    let process: ProcessDefinition
    var instanceID: String?
    var definitionIDs: [Int64] = []

    init(suite: ProcessTestFile, testCase: ProcessTestFile.Case) async throws {
        self.suite = suite
        self.testCase = testCase
        clock = ManualScheduler(start: Date(timeIntervalSince1970: 1_767_261_600))
        book = MockBook()
        var process = suite.process
        // A task procrun cannot run (`camunda:class`, a Zeebe job type) is a job the test answers
        // with MOCK_TASK; one the test does not mock fails the case, as an unmocked webhook does.
        for node in process.nodes.indices where process.nodes[node].skippedImplementation != nil {
            process.nodes[node].integration = IntegrationNode(
                type: "task", config: MockTaskConfig(), onError: nil, location: process.nodes[node].location)
        }
        self.process = process
        let virtual = clock
        let environment = RenderEnvironment(
            now: virtual.now, timeZone: TimeZone(identifier: "UTC")!, environment: ProcessInfo.processInfo.environment)
        let performer = HTTPWebhookPerformer(
            userAgent: "procrun/\(procrunVersion)", timeZone: TimeZone(identifier: "UTC")!, clock: { virtual.now })
        let mocks = book
        let handlers: [any JobHandler] =
            testCase.live
            ? [
                HTTPJobHandler(performer),
                MockJobHandler(type: "task", book: mocks, http: HTTPJobHandler(performer), environment: environment),
            ]
            : ["webhook", "email", "task"].map {
                MockJobHandler(type: $0, book: mocks, http: HTTPJobHandler(performer), environment: environment)
            }
        runtime = ProcessRuntime(store: store, handlers: handlers, scheduler: clock)
        runtime.recordsStarted = true
        runtime.instanceLimit = 100
        runtime.maxJobsPerPass = 500
        for other in suite.definitions.processes where other.isExecutable {
            let definition = try runtime.deploy(
                file: suite.processFile, xml: suite.xml, process: other.id == process.id ? process : other)
            definitionIDs.append(definition.id)
        }
    }

    static func element(_ instruction: JSONObject, in process: ProcessDefinition) -> Int? {
        if let id = instruction["elementId"]?.stringValue { return process.nodeIndex(id: id) }
        if let name = instruction["elementName"]?.stringValue { return process.nodes.firstIndex { $0.name == name } }
        return nil
    }

    /// The instances of the tested process this case ran (not those of other processes of the
    /// file that its messages or signals started).
    var instances: [Instance] {
        runtime.started.compactMap { try? store.instance($0)?.instance }.filter { $0.processID == process.id }
    }
    var instance: Instance? { instanceID.flatMap { try? store.instance($0)?.instance } }

    var pathText: String {
        guard let instance, instance.processID == process.id else { return "" }
        return instance.path.map { process.nodes[$0].id }.joined(separator: " → ")
    }

    /// Runs the instructions in order; the first failure, described, or nil.
    func execute() async -> String? {
        for (number, instruction) in testCase.instructions.enumerated() {
            let type = instruction["type"]?.stringValue ?? ""
            do {
                try await perform(instruction, type: type)
                if runtime.jobsRun > Self.jobBudget {
                    throw TestFailure(
                        "stopped after \(runtime.jobsRun) jobs and timer firings: the process loops without time passing (a case may run \(Self.jobBudget))"
                    )
                }
                if let node = book.unmockedNodes.first {
                    throw TestFailure(
                        "'\(node)' is an integration node this test does not mock: add a MOCK_WEBHOOK or MOCK_JOB for it (or \"live\": true)"
                    )
                }
            } catch let failure as TestFailure {
                var text = "instruction \(number + 1) \(type): \(failure.message)"
                if !pathText.isEmpty { text += "\npath so far: \(pathText)" }
                return text
            } catch {
                return "instruction \(number + 1) \(type): \(error)"
            }
        }
        return nil
    }

    /// The jobs and timer firings one case may run.
    static let jobBudget = 2_000

    struct TestFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    func node(_ instruction: JSONObject) throws -> Int {
        guard let node = Self.element(instruction, in: process) else {
            throw TestFailure("give an elementId or elementName")
        }
        return node
    }

    func requireInstance() throws -> Instance {
        guard let instance else { throw TestFailure("no process instance yet: CREATE_PROCESS_INSTANCE comes first") }
        return instance
    }

    func perform(_ instruction: JSONObject, type: String) async throws {
        switch type {
        case "MOCK_WEBHOOK", "MOCK_JOB", "MOCK_TASK":
            var nodes = [Int]()
            if case .string(let jobType)? = instruction["jobType"] {
                nodes = process.nodes.indices.filter {
                    process.nodes[$0].skippedImplementation == "zeebe:taskDefinition type '\(jobType)'"
                }
            }
            if nodes.isEmpty { nodes = [try node(instruction)] }
            var responses: [JSONObject] = []
            if case .array(let list)? = instruction["responses"] {
                responses = list.compactMap(\.objectValue)
            } else if type == "MOCK_TASK" {
                var response = JSONObject()
                if let variables = instruction["variables"] { response["variables"] = variables }
                if let error = instruction["error"] { response["error"] = error }
                responses = [response]
            } else {
                responses = [[:]]
            }
            for node in nodes { book.mock(process.nodes[node].id, responses: responses) }
        case "CREATE_PROCESS_INSTANCE":
            let variables = instruction["variables"]?.objectValue ?? JSONObject()
            let initiator = instruction["initiator"]?.stringValue ?? "test"
            instanceID = try runtime.start(
                file: suite.processFile, xml: suite.xml, process: process, context: variables, answers: nil,
                directory: suite.directory, initiator: initiator)
            try await settle()
        case "COMPLETE_USER_TASK":
            let instance = try requireInstance()
            let node = try node(instruction)
            let id = process.nodes[node].id
            let open = try store.read { try $0.openTasks(instance: instance.id) }
            guard let task = open.first(where: { $0.nodeID == id }) else {
                throw TestFailure(
                    "task '\(id)' is not waiting (open tasks: \(open.isEmpty ? "none" : open.map { "'\($0.nodeID)'" }.joined(separator: ", ")))"
                )
            }
            let by = instruction["by"]?.stringValue ?? task.candidates.first ?? "test"
            if !task.candidates.isEmpty && !task.candidates.contains(by) {
                throw TestFailure(
                    "\(by) may not perform task '\(id)' (candidates: \(task.candidates.joined(separator: ", ")))")
            }
            _ = try runtime.complete(
                instance: instance.id, task: id, by: by,
                variables: instruction["variables"]?.objectValue ?? JSONObject())
            try await settle()
        case "PUBLISH_MESSAGE":
            guard let name = instruction["name"]?.stringValue else { throw TestFailure("give the message's name") }
            let key = instruction["correlationKey"].map { RequestText.scalar($0) }
            let outcome = try runtime.correlate(
                message: name, correlationKey: key, variables: instruction["variables"]?.objectValue ?? JSONObject(),
                initiator: "test", directory: suite.directory, definitions: definitionIDs)
            if case .started(let id)? = outcome, instanceID == nil,
                (try? store.instance(id))??.instance.processID == process.id
            {
                instanceID = id
            }
            guard outcome != nil else { throw TestFailure("no instance waits for message '\(name)'") }
            try await settle()
        case "BROADCAST_SIGNAL":
            guard let name = instruction["name"]?.stringValue else { throw TestFailure("give the signal's name") }
            for id in runtime.started { _ = try runtime.apply(.signal(name: name), to: id) }
            try await settle()
        case "RESOLVE_INCIDENT":
            let instance = try requireInstance()
            guard instance.status == .incident else { throw TestFailure("the instance is not in an incident") }
            _ = try runtime.operate(.retryIncident, on: instance.id)
            try await settle()
        case "INCREASE_TIME":
            guard let text = instruction["duration"]?.stringValue, let seconds = parseDuration(text) else {
                throw TestFailure("duration must be an ISO-8601 duration (PT10M)")
            }
            let target = clock.now.addingTimeInterval(seconds)
            while let next = store.pendingJobs().map(\.dueAt).min(), next <= target, runtime.jobsRun <= Self.jobBudget {
                if next > clock.now { await clock.sleep(seconds: next.timeIntervalSince(clock.now)) }
                if try await runtime.runDueJobs() == 0 && next <= clock.now { break }
            }
            if target > clock.now { await clock.sleep(seconds: target.timeIntervalSince(clock.now)) }
            try await settle()
        default:
            try ProcessTestAssertions(run: self).check(instruction, type: type)
        }
    }

    /// Runs what is due now, and moves the clock on to retries of integration jobs (their
    /// delays take no wall time) as long as no timer falls due before them.
    func settle() async throws {
        while runtime.jobsRun <= Self.jobBudget {
            let ran = try await runtime.runDueJobs()
            let jobs = store.pendingJobs()
            guard let next = jobs.min(by: { $0.dueAt < $1.dueAt }) else { return }
            if next.dueAt <= clock.now {
                if ran == 0 { return }
                continue
            }
            guard next.kind == .retry || next.kind == .integration else { return }
            await clock.sleep(seconds: next.dueAt.timeIntervalSince(clock.now))
        }
    }
}
