import BPMNLoader
import Engine
import Expressions
import Foundation
import Integrations
import ProcessModel
import Runtime
import Values

/// A BPMN file that test cases run, read and loaded once per test file.
struct ProcessTestModel {
    let file: String
    let xml: [UInt8]
    let definitions: Definitions
}

/// A `*.test.json` file, read and checked: its process, directory and test cases.
struct ProcessTestFile {
    struct Case {
        var name: String
        var instructions: [JSONObject]
        var live: Bool
        /// The BPMN file the case runs: the file's `process`, or the case's own.
        var model: ProcessTestModel
        /// The process the case's instructions name elements of until a CREATE_PROCESS_INSTANCE
        /// names another (`processId` of the case, of the file, or the first executable one).
        var process: ProcessDefinition
    }

    let path: String
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
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file"
            throw Inputs.fail([.error(at: nil, "\(path): \(reason)")])
        }
        let bytes = [UInt8](data)
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes, file: path)
        } catch {
            throw Inputs.fail([error])
        }
        /// A refusal at the value the path leads to (`FILE:LINE:COL`).
        func fail(_ message: String, at steps: [JSONParser.PathStep] = []) -> ExitWith {
            let location =
                JSONParser.location(of: steps, in: bytes, file: path)
                ?? SourceLocation(file: path, line: 1, column: 1)
            return Inputs.fail([.error(at: location, message)])
        }
        guard case .object(let root) = document else {
            throw fail("a test file is a JSON object with \"process\" and \"testCases\"")
        }
        let folder = (path as NSString).deletingLastPathComponent
        func relative(_ file: String) -> String {
            file.hasPrefix("/") || folder.isEmpty ? file : (folder as NSString).appendingPathComponent(file)
        }
        var models: [String: ProcessTestModel] = [:]
        /// The BPMN file a `process` key names, loaded once; its errors refuse the test file.
        func model(_ value: JSONValue?, at steps: [JSONParser.PathStep]) throws -> ProcessTestModel {
            guard case .string(let name)? = value else {
                throw fail("\"process\" (the BPMN file, relative to the test file) is missing", at: steps)
            }
            let file = relative(name)
            if let known = models[file] { return known }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw fail("\"process\": cannot read '\(file)'", at: steps + ["process"])
            }
            let xml = [UInt8](data)
            let result = BPMNLoader.load(bytes: xml, file: file)
            for diagnostic in result.diagnostics where diagnostic.severity == .error {
                printError(diagnostic.description)
            }
            guard !result.hasErrors, let definitions = result.definitions else {
                throw ExitWith(code: Exit.invalidInput)
            }
            let loaded = ProcessTestModel(file: file, xml: xml, definitions: definitions)
            models[file] = loaded
            return loaded
        }
        /// A process of a file by `processId` (at `steps`), or its first executable process.
        func process(_ id: JSONValue?, of model: ProcessTestModel, at steps: [JSONParser.PathStep]) throws
            -> ProcessDefinition
        {
            guard let id else {
                guard
                    let first = model.definitions.processes.first(where: \.isExecutable)
                        ?? model.definitions.processes.first
                else { throw fail("'\(model.file)' has no process") }
                return first
            }
            guard let text = id.stringValue, let found = model.definitions.process(id: text) else {
                throw fail(
                    "\"processId\": \(id.stringValue.map { "'\($0)'" } ?? JSONWriter.string(id)) is not a process of '\(model.file)' (its processes: \(model.definitions.processes.map(\.id).joined(separator: ", ")))",
                    at: steps)
            }
            return found
        }
        let fileModel = root["process"] == nil ? nil : try model(root["process"], at: [])
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
            throw fail("\"testCases\" must be a non-empty list", at: ["testCases"])
        }
        var cases: [Case] = []
        for (index, item) in list.enumerated() {
            let at: [JSONParser.PathStep] = ["testCases", .index(index)]
            guard case .object(let testCase) = item, case .string(let name)? = testCase["name"],
                case .array(let steps)? = testCase["instructions"]
            else { throw fail("testCases[\(index)] needs a \"name\" and a list of \"instructions\"", at: at) }
            let caseModel: ProcessTestModel
            if testCase["process"] != nil {
                caseModel = try model(testCase["process"], at: at)
            } else if let fileModel {
                caseModel = fileModel
            } else {
                throw fail(
                    "\"process\" (the BPMN file, relative to the test file) is missing, for the file or the case",
                    at: at)
            }
            // The case's process: its processId, else that of its first CREATE_PROCESS_INSTANCE,
            // else the file's.
            let firstCreate = steps.firstIndex {
                let type = $0.objectValue?["type"]?.stringValue
                return type == "CREATE_PROCESS_INSTANCE" && $0.objectValue?["processId"] != nil
            }
            let caseProcess =
                if testCase["processId"] != nil {
                    try process(testCase["processId"], of: caseModel, at: at + ["processId"])
                } else if let firstCreate {
                    try process(
                        steps[firstCreate].objectValue?["processId"], of: caseModel,
                        at: at + ["instructions", .index(firstCreate), "processId"])
                } else {
                    try process(
                        caseModel.file == fileModel?.file ? root["processId"] : nil, of: caseModel, at: ["processId"])
                }
            var current = caseProcess
            var instructions: [JSONObject] = []
            for (number, step) in steps.enumerated() {
                let here = at + ["instructions", .index(number)]
                guard case .object(var instruction) = step, case .string(let type)? = instruction["type"] else {
                    throw fail("testCases[\(index)].instructions[\(number)] needs a \"type\"", at: here)
                }
                let canonical = Self.aliases[type] ?? type
                guard Self.actions.contains(canonical) || Self.assertions.contains(canonical) else {
                    throw fail(
                        "testCases[\(index)] «\(name)», instruction \(number + 1): unknown type '\(type)' (known: \((Self.actions.union(Self.assertions)).sorted().joined(separator: ", ")))",
                        at: here + ["type"])
                }
                if canonical == "CREATE_PROCESS_INSTANCE", instruction["processId"] != nil {
                    current = try process(instruction["processId"], of: caseModel, at: here + ["processId"])
                }
                instruction = Self.normalized(instruction, in: current)
                instruction["type"] = .string(canonical)
                let label = "testCases[\(index)] «\(name)», instruction \(number + 1) (\(canonical))"
                for key in ["elementId", "elementName"] where instruction[key] != nil {
                    guard let element = instruction[key]?.stringValue, Self.node(element, key: key, in: current) != nil
                    else {
                        throw fail(
                            "\(label): \(key) '\(instruction[key].map { $0.stringValue ?? JSONWriter.string($0) } ?? "")' is not an element of process '\(current.id)'",
                            at: here + [.key(key)])
                    }
                }
                if let (field, problem) = Self.problem(of: instruction, type: canonical, in: current) {
                    throw fail("\(label): \(problem)", at: here + field)
                }
                instructions.append(instruction)
            }
            cases.append(
                Case(
                    name: name, instructions: instructions, live: testCase["live"] == true, model: caseModel,
                    process: caseProcess))
        }
        self.cases = cases
    }

    /// What is wrong with an instruction that can be told before it runs (and the path to the
    /// field at fault, within the instruction), or nil.
    static func problem(of instruction: JSONObject, type: String, in process: ProcessDefinition) -> (
        [JSONParser.PathStep], String
    )? {
        switch type {
        case "INCREASE_TIME":
            guard let text = instruction["duration"]?.stringValue, let seconds = parseDuration(text), seconds >= 0
            else {
                return (["duration"], "duration must be an ISO-8601 duration (PT10M)")
            }
        case "PUBLISH_MESSAGE", "BROADCAST_SIGNAL":
            if instruction["name"]?.stringValue == nil {
                return ([], "give the \(type == "BROADCAST_SIGNAL" ? "signal" : "message")'s name")
            }
        case "MOCK_WEBHOOK", "MOCK_JOB":
            if let responses = instruction["responses"] {
                guard case .array(let list) = responses, !list.isEmpty else {
                    return (["responses"], "responses must be a non-empty list")
                }
                for (index, response) in list.enumerated() {
                    let at: [JSONParser.PathStep] = ["responses", .index(index)]
                    guard case .object(let object) = response else { return (at, "each response is an object") }
                    if let status = object["status"] {
                        guard case .number(let code) = status, code >= 100, code < 600, code == code.rounded() else {
                            return (
                                at + ["status"],
                                "status \(JSONWriter.string(status)) is not an HTTP status (a number from 100 to 599)"
                            )
                        }
                    }
                    if let error = object["error"], error.stringValue == nil {
                        return (at + ["error"], "error must be a string")
                    }
                }
            }
        case "ASSERT_PROCESS_INSTANCE":
            if let state = instruction["state"]?.stringValue,
                !["ACTIVE", "COMPLETED", "TERMINATED", "INCIDENT"].contains(state.uppercased())
            {
                return (["state"], "state '\(state)' is not ACTIVE, COMPLETED, TERMINATED or INCIDENT")
            }
        case "ASSERT_ELEMENT_INSTANCES":
            if let state = instruction["state"]?.stringValue,
                !["ACTIVE", "COMPLETED", "NOT_ACTIVATED"].contains(state.uppercased())
            {
                return (["state"], "state '\(state)' is not ACTIVE, COMPLETED or NOT_ACTIVATED")
            }
            for (key, single) in [("elementIds", "elementId"), ("elementNames", "elementName")] {
                guard let value = instruction[key] else { continue }
                guard case .array(let list) = value else { return ([.key(key)], "\(key) must be a list") }
                for (index, item) in list.enumerated()
                where item.stringValue.flatMap({ node($0, key: single, in: process) }) == nil {
                    return (
                        [.key(key), .index(index)],
                        "\(single) '\(item.stringValue ?? JSONWriter.string(item))' is not an element of process '\(process.id)'"
                    )
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
    /// The processes of the case's file as the case runs them (tasks procrun cannot run mocked), by id.
    let processes: [String: ProcessDefinition]
    /// The process whose elements the instructions name: the case's, then that of the last
    /// CREATE_PROCESS_INSTANCE.
    private(set) var process: ProcessDefinition
    var instanceID: String?
    var definitionIDs: [Int64] = []

    init(suite: ProcessTestFile, testCase: ProcessTestFile.Case) async throws {
        self.suite = suite
        self.testCase = testCase
        clock = ManualScheduler(start: Date(timeIntervalSince1970: 1_767_261_600))
        book = MockBook()
        // A task procrun cannot run (`camunda:class`, a Zeebe job type) is a job the test answers
        // with MOCK_TASK; one the test does not mock fails the case, as an unmocked webhook does.
        var processes: [String: ProcessDefinition] = [:]
        for var process in testCase.model.definitions.processes {
            for node in process.nodes.indices where process.nodes[node].skippedImplementation != nil {
                process.nodes[node].integration = IntegrationNode(
                    type: "task", config: MockTaskConfig(), onError: nil, location: process.nodes[node].location)
            }
            processes[process.id] = process
        }
        self.processes = processes
        process = processes[testCase.process.id] ?? testCase.process
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
        for other in testCase.model.definitions.processes where other.isExecutable || other.id == process.id {
            let definition = try runtime.deploy(
                file: testCase.model.file, xml: testCase.model.xml, process: processes[other.id] ?? other)
            definitionIDs.append(definition.id)
        }
    }

    static func element(_ instruction: JSONObject, in process: ProcessDefinition) -> Int? {
        if let id = instruction["elementId"]?.stringValue { return process.nodeIndex(id: id) }
        if let name = instruction["elementName"]?.stringValue { return process.nodes.firstIndex { $0.name == name } }
        return nil
    }

    /// The instances this case ran (of its processes, and of others its messages or signals started).
    var instances: [Instance] {
        runtime.started.compactMap { try? store.instance($0)?.instance }
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
            if let id = instruction["processId"]?.stringValue {
                guard let chosen = processes[id] else { throw TestFailure("'\(id)' is not a process of the file") }
                process = chosen
            }
            instanceID = try runtime.start(
                file: testCase.model.file, xml: testCase.model.xml, process: process, context: variables,
                answers: nil, directory: suite.directory, initiator: initiator)
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
