import BPMNLoader
import Engine
import Foundation
import ProcessModel
import Runtime
import Values

/// `swift run -c release conformance DIR`: runs betsy-layout conformance cases in-process.
/// DIR/cases/*/case.json and DIR/invalid/rules.json; contract in the suite's README.

struct Input {
    var number: Int
    var variables: JSONObject
    var startParallelFirst: Bool
    var delayMs: Double
    var expected: [String]
}

// BPMN's own rules throughout: a message start event needs an operationRef or a sender (EXT128).
let options = LoadOptions(opaqueScripts: true, bareConditions: .juel, messagesFromOutside: false)

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("conformance: error: \(message)\n".utf8))
    exit(2)
}

func readJSON(_ path: String) -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): no such file") }
    do { return try JSONParser.parse([UInt8](data), file: path) } catch { fail(error.description) }
}

/// Runs one input and returns the trace betsy's harness would have read, and why deployment
/// failed when it did.
func trace(file: String, processID: String, input: Input) async -> (trace: [String], problem: String) {
    var trace: [String] = []
    let result = BPMNLoader.load(path: file, options: options)
    var deploymentProblem = result.errors.first.map { $0.message } ?? ""
    var engine: Engine?
    if let process = result.definitions?.process(id: processID) {
        do { engine = try Engine(process: process, scripts: TokenScriptRunner()) } catch {
            deploymentProblem = error.diagnostics.first?.message ?? ""
        }
    }
    guard let definitions = result.definitions, !result.hasErrors, let engine else {
        trace.append("ERROR_deployment")
        if input.expected == ["ERROR_deployment"] { return (trace, deploymentProblem) }
        return (collapse(trace, expected: input.expected), deploymentProblem)
    }
    // The runtime on the in-memory store, on a virtual clock: timers and retries pass at once.
    let scheduler = ManualScheduler()
    let store = MemoryStore()
    let runtime = ProcessRuntime(store: store, performer: NoWebhooks(), scheduler: scheduler)
    runtime.makeEngine = { try Engine(process: $0, scripts: TokenScriptRunner(), maxSteps: $1) }
    runtime.loadOptions = options
    runtime.recordsStarted = true
    runtime.instanceLimit = 1_000
    let xml = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
    // The other processes of the file: started first (betsy's ParallelProcess), or by a message.
    let partners = definitions.processes.filter { $0.id != processID }.compactMap {
        try? Engine(process: $0, scripts: TokenScriptRunner())
    }
    let horizon = scheduler.now.addingTimeInterval(max(input.delayMs, 1) / 1000)
    var main: Instance?
    do {
        func start(_ engine: Engine, id: String, context: JSONObject) throws {
            _ = try runtime.start(
                file: file, xml: xml, process: engine.process, context: context, answers: nil, directory: nil,
                initiator: "betsy",
                simulatePeople: true, id: id, engine: engine,
                partners: partners.filter { $0.process.id != engine.process.id })
        }
        if input.startParallelFirst, let other = partners.first(where: { $0.process.id == "ParallelProcess" }) {
            // It runs until it waits before the main process starts.
            try start(other, id: "parallel", context: [:])
            try await runtime.runDueJobs()
        }
        try start(engine, id: "main", context: input.variables)
        try await runtime.drainStarted(horizon: horizon, everything: true)
        main = try store.instance("main")?.instance
    } catch {
        trace.append("ERROR_runtime")
        return (collapse(trace, expected: input.expected), "\(error)")
    }
    guard let instance = main else {
        return (collapse(trace + ["ERROR_runtime"], expected: input.expected), "no instance")
    }
    let instances = runtime.started.compactMap { try? store.instance($0)?.instance }
    var log: [String] = []
    for other in instances where other.id != instance.id { log += other.log.filter { $0.hasPrefix("#") } }
    log += instance.log
    trace += instance.log.filter { !$0.hasPrefix("#") }
    if instance.status == .incident { trace.append("ERROR_runtime") }
    if instance.uncaughtError != nil { trace.append("ERROR_thrownErrorEvent") }
    if input.expected.contains("MARKER_exists") && log.contains("#MARKER") { trace.append("MARKER_exists") }
    if input.expected.contains("DATA_correct") && log.contains("#DATA:String") { trace.append("DATA_correct") }
    if input.expected.contains("EXECUTION_parallel") && log.contains("#CREATE_TIMESTAMP_LOG_1")
        && log.contains("#CREATE_TIMESTAMP_LOG_2")
    {
        // Both timestamp scripts ran in one quiescent step of virtual time: their windows overlap.
        trace.append("EXECUTION_parallel")
    }
    return (collapse(trace, expected: input.expected), "")
}

/// betsy's `ERROR` rule: every deployment/runtime error becomes one `ERROR`.
func collapse(_ trace: [String], expected: [String]) -> [String] {
    guard expected.contains("ERROR") else { return trace }
    let kept = trace.filter { $0 != "ERROR_deployment" && $0 != "ERROR_runtime" }
    return kept.count < trace.count ? kept + ["ERROR"] : kept
}

struct NoWebhooks: WebhookPerformer {
    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        .failed(status: nil, message: "no webhooks in conformance runs", retryable: false)
    }
}

let arguments = CommandLine.arguments.dropFirst()
guard let directory = arguments.first else { fail("usage: conformance DIR") }
let root = URL(fileURLWithPath: directory)
var passed = 0
var failed = 0
var groups: [String: (pass: Int, fail: Int)] = [:]

let casesURL = root.appendingPathComponent("cases")
let caseNames = ((try? FileManager.default.contentsOfDirectory(atPath: casesURL.path)) ?? []).sorted()
for name in caseNames {
    let caseFile = casesURL.appendingPathComponent(name).appendingPathComponent("case.json").path
    guard FileManager.default.fileExists(atPath: caseFile) else { continue }
    guard case .object(let spec) = readJSON(caseFile) else { fail("\(caseFile): not an object") }
    let processFile = casesURL.appendingPathComponent(name).appendingPathComponent(
        spec["process_file"]?.stringValue ?? "\(name).bpmn"
    ).path
    let processID = spec["process_id"]?.stringValue ?? name
    let group = spec["group"]?.stringValue ?? "?"
    for case .object(let raw) in spec["inputs"]?.arrayValue ?? [] {
        var delay = 0.0
        if case .number(let n)? = raw["delay_ms"] { delay = n }
        var number = 0
        if case .number(let n)? = raw["test_case_number"] { number = Int(n) }
        let input = Input(
            number: number, variables: raw["variables"]?.objectValue ?? JSONObject(),
            startParallelFirst: raw["start_parallel_process_first"] == true, delayMs: delay,
            expected: raw["expected_trace"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let (actual, deploymentProblem) = await trace(file: processFile, processID: processID, input: input)
        let ok = actual.sorted() == input.expected.sorted()
        if ok { passed += 1 } else { failed += 1 }
        groups[group, default: (0, 0)].pass += ok ? 1 : 0
        groups[group, default: (0, 0)].fail += ok ? 0 : 1
        let why = !ok && actual.contains("ERROR_deployment") ? " (\(deploymentProblem))" : ""
        print("\(ok ? "PASS" : "FAIL") \(name) #\(number) expected \(input.expected) actual \(actual)\(why)")
    }
}

let rulesFile = root.appendingPathComponent("invalid/rules.json").path
if FileManager.default.fileExists(atPath: rulesFile) {
    for case .object(let rule) in readJSON(rulesFile).arrayValue ?? [] {
        guard let file = rule["file"]?.stringValue else { continue }
        let path = root.appendingPathComponent("invalid").appendingPathComponent(file).path
        let result = BPMNLoader.load(path: path, options: options)
        var refused = result.hasErrors
        var reason = result.errors.first?.description ?? ""
        if !refused, let definitions = result.definitions {
            // Deployment also fails when no process can run.
            let engines = definitions.processes.map { process in
                Result { try Engine(process: process, scripts: TokenScriptRunner()) }
            }
            if let failure = engines.first(where: { if case .failure = $0 { true } else { false } }),
                case .failure(let error) = failure
            {
                refused = true
                reason = "\(error)"
            }
        }
        if refused { passed += 1 } else { failed += 1 }
        groups["invalid", default: (0, 0)].pass += refused ? 1 : 0
        groups["invalid", default: (0, 0)].fail += refused ? 0 : 1
        print(
            "\(refused ? "PASS" : "FAIL") invalid \(file) (\(rule["rule"]?.stringValue ?? "?")) \(refused ? reason.split(separator: "\n").first.map(String.init) ?? "" : "accepted")"
        )
    }
}

for (group, counts) in groups.sorted(by: { $0.key < $1.key }) {
    print("group \(group): \(counts.pass) passed, \(counts.fail) failed")
}
print("\(passed) passed, \(failed) failed")
