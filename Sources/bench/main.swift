import BPMNLoader
import CLibXML2
import Engine
import Foundation
import Integrations
import ProcessModel
import Runtime
import Store
import Values

/// `swift build -c release && .build/release/bench [FIGURE…]`: procrun's benchmarks, each the
/// median of several runs, beside the reference it is measured against in the same run.
/// Figures: interpreter, run, loader, webhooks, durable, memory, startup, json (default: all).

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

struct Options {
    var figures: [String] = []
    var rounds = 5
    var peers = "Tests/ProcrunCLITests/Fixtures/peers"
    var corpus = "Tests/ProcrunCLITests/Fixtures/miwg"
    var python = ProcessInfo.processInfo.environment["SPIFF_PYTHON"] ?? "/tmp/spiff/bin/python"
    var waitingInstances = 100_000
    var deliveries = 20_000
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        switch argument {
        case "--rounds": options.rounds = Int(arguments.popFirst() ?? "") ?? options.rounds
        case "--peers": options.peers = arguments.popFirst() ?? options.peers
        case "--corpus": options.corpus = arguments.popFirst() ?? options.corpus
        case "--python": options.python = arguments.popFirst() ?? options.python
        case "--instances": options.waitingInstances = Int(arguments.popFirst() ?? "") ?? options.waitingInstances
        case "--deliveries": options.deliveries = Int(arguments.popFirst() ?? "") ?? options.deliveries
        case "-h", "--help":
            print(
                "usage: bench [interpreter|run|loader|webhooks|durable|memory|startup|json|tests|serve]… [--rounds N] [--peers DIR] [--corpus DIR] [--python PATH] [--instances N] [--deliveries N]"
            )
            exit(0)
        default: options.figures.append(argument)
        }
    }
    if options.figures.isEmpty {
        options.figures = [
            "interpreter", "run", "loader", "webhooks", "durable", "memory", "startup", "json", "tests", "serve",
        ]
    }
    return options
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func secondsAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func format(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
}

func report(
    _ figure: String, _ value: Double, _ unit: String, runs: [Double], reference: (name: String, value: Double)? = nil,
    target: String
) {
    var line =
        "\(figure): procrun \(format(value)) \(unit) (median of \(runs.count): \(runs.map(format).joined(separator: ", ")))"
    if let reference {
        line +=
            "; \(reference.name) \(format(reference.value)) \(unit); ratio \(String(format: "%.2f", value / reference.value))×"
    }
    line += "; target: \(target)"
    print(line)
}

func run(_ executable: String, _ arguments: [String], stdout: FileHandle? = nil) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = stdout ?? pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = stdout == nil ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func residentKilobytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}

// MARK: 1. Interpreter

/// order_simple.bpmn with its two Python scripts read as FEEL (`round(x, 2)` is FEEL's
/// `decimal(x, 2)`), so procrun runs the same work SpiffWorkflow does.
func orderSimple(_ options: Options) throws -> Engine {
    let path = options.peers + "/order_simple.bpmn"
    guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("\(path): no such file") }
    let xml = String(decoding: data, as: UTF8.self)
        .replacingOccurrences(of: "scriptFormat=\"python\"", with: "scriptFormat=\"feel\"")
        .replacingOccurrences(of: "round(", with: "decimal(")
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: path)
    guard let process = result.definitions?.process(id: "order_simple"), !result.hasErrors else {
        throw BenchError(result.errors.map(\.description).joined(separator: "\n"))
    }
    return try Engine(process: process)
}

func interpreter(_ options: Options) throws {
    let engine = try orderSimple(options)
    let now = Date()
    let context: JSONObject = ["amount": 1500]
    func instance(_ i: Int) {
        var (instance, effects) = engine.start(id: "i\(i)", context: context, initiator: "bench", now: now)
        while case .openTask(let token, _)? = effects.first(where: { if case .openTask = $0 { true } else { false } }) {
            effects = engine.handle(
                .taskCompleted(token: token, by: "bench", variables: JSONObject()), in: &instance, now: now)
        }
        precondition(
            instance.status == .completed && instance.context["fee"] == 30,
            "order_simple did not complete as SpiffWorkflow does")
    }
    for i in 0..<2_000 { instance(i) }
    let perRound = 20_000
    var rates: [Double] = []
    for _ in 0..<options.rounds {
        let time = seconds { for i in 0..<perRound { instance(i) } }
        rates.append(Double(perRound) / time)
    }
    var reference: (String, Double)?
    if FileManager.default.isExecutableFile(atPath: options.python) {
        let (_, output) = try run(
            options.python,
            [
                options.peers + "/spiff_run.py", options.peers + "/order_simple.bpmn", "--process", "order_simple",
                "--data",
                options.peers + "/order_high.json", "--repeat", "2000", "--rounds", String(options.rounds), "--warmup",
                "200",
            ])
        if case .object(let json)? = try? JSONParser.parse(Array(output.utf8), file: "spiff"),
            case .number(let rate)? = json["median_instances_per_second"]
        {
            reference = ("SpiffWorkflow 3.2.0", rate)
        }
    } else {
        print(
            "interpreter: SpiffWorkflow not found at \(options.python) (python3 -m venv /tmp/spiff && /tmp/spiff/bin/pip install SpiffWorkflow==3.2.0)"
        )
    }
    report(
        "interpreter", median(rates), "instances/s", runs: rates, reference: reference, target: "≥ 100× SpiffWorkflow")
}

/// `run` in memory: order_simple through the runner `procrun run` uses (people simulated, every
/// effect carried out), against the bare engine loop of `interpreter` in the same round; the
/// ratio is what the runner costs on top of the engine.
func runner(_ options: Options) async throws {
    let engine = try orderSimple(options)
    let context: JSONObject = ["amount": 1500]
    let now = Date()
    func bare(_ i: Int) {
        var (instance, effects) = engine.start(id: "i\(i)", context: context, initiator: "bench", now: now)
        while case .openTask(let token, _)? = effects.first(where: { if case .openTask = $0 { true } else { false } }) {
            effects = engine.handle(
                .taskCompleted(token: token, by: "bench", variables: JSONObject()), in: &instance, now: now)
        }
        precondition(instance.status == .completed && instance.context["fee"] == 30, "order_simple did not complete")
    }
    let perRound = 5_000
    let ours = RunnerBench(engine: engine, context: context)
    for i in 0..<500 {
        bare(i)
        try await ours.run(i)
    }
    var rates: [Double] = []
    var references: [Double] = []
    for _ in 0..<options.rounds {
        let time = try await secondsAsync { for i in 0..<perRound { try await ours.run(i) } }
        rates.append(Double(perRound) / time)
        // `BENCH_RUN_ONLY=1`: the runner alone, to compare it with another build's without the
        // reference loop's noise in the same process.
        if ProcessInfo.processInfo.environment["BENCH_RUN_ONLY"] != nil { continue }
        references.append(Double(perRound) / seconds { for i in 0..<perRound { bare(i) } })
    }
    report(
        "run", median(rates), "instances/s", runs: rates,
        reference: references.isEmpty ? nil : ("the bare engine loop", median(references)),
        target: "run in memory no more than 10% slower than before the runtime")
}

// MARK: 2. Loader

func loader(_ options: Options) throws {
    let root = URL(fileURLWithPath: options.corpus)
    guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
        throw BenchError("\(options.corpus): no such folder")
    }
    var files: [(path: String, bytes: [UInt8])] = []
    for case let url as URL in walker where url.pathExtension == "bpmn" && !url.path.contains("/malformed/") {
        if let data = FileManager.default.contents(atPath: url.path) { files.append((url.path, [UInt8](data))) }
    }
    let total = Double(files.reduce(0) { $0 + $1.bytes.count })
    let repeats = 20
    func procrun() {
        for file in files { _ = BPMNLoader.load(bytes: file.bytes, file: file.path) }
    }
    func libxml2() {
        for file in files {
            file.bytes.withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
                    if let document = xmlReadMemory(
                        chars, Int32(buffer.count), file.path, nil, procrun_xml_safe_options())
                    {
                        xmlFreeDoc(document)
                    }
                }
            }
        }
    }
    // `bench loader-procrun` / `loader-libxml2`: one pass of one side, to profile under callgrind.
    if options.figures.contains("loader-procrun") { return procrun() }
    if options.figures.contains("loader-libxml2") { return libxml2() }
    procrun()
    libxml2()
    var ours: [Double] = []
    var theirs: [Double] = []
    for _ in 0..<options.rounds {
        ours.append(total * Double(repeats) / 1e6 / seconds { for _ in 0..<repeats { procrun() } })
        theirs.append(total * Double(repeats) / 1e6 / seconds { for _ in 0..<repeats { libxml2() } })
    }
    // Both sides run back to back in each round; the machine's noise moves them together.
    let ratios = zip(ours, theirs).map { $0 / $1 }
    print(
        "loader: \(files.count) files, \(Int(total)) bytes; per-round ratio median \(String(format: "%.2f", median(ratios)))× (\(ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ")))"
    )
    report(
        "loader", median(ours), "MB/s", runs: ours, reference: ("libxml2 alone (parse to tree)", median(theirs)),
        target: "≥ 0.5× libxml2")
}

// MARK: 3. Webhooks

func webhookProcess(port: UInt16, userTasks: Int = 0) throws -> (xml: [UInt8], process: ProcessDefinition) {
    let tasks = (0..<userTasks).map { "<userTask id=\"t\($0)\" name=\"Задача \($0)\"/>" }.joined()
    let chain = ["s"] + (0..<userTasks).map { "t\($0)" } + ["w", "e"]
    let flows = zip(chain, chain.dropFirst()).enumerated().map {
        "<sequenceFlow id=\"f\($0.offset)\" sourceRef=\"\($0.element.0)\" targetRef=\"\($0.element.1)\"/>"
    }
    let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" id="Bench">
        <process id="bench" name="Заказ" isExecutable="true"><startEvent id="s"/>\(tasks)
        <serviceTask id="w" name="Передать заказ"><extensionElements>
        <procrun:webhook url="http://127.0.0.1:\(port)/orders/{$serial}" method="POST" type="json" timeout="10">
        <procrun:param field="serial" name="serial_number"/><procrun:param field="customer"/><procrun:param field="amount"/>
        </procrun:webhook></extensionElements></serviceTask><endEvent id="e"/>
        \(flows.joined())
        </process></definitions>
        """
    let result = BPMNLoader.load(bytes: Array(xml.utf8), file: "bench.bpmn")
    guard let process = result.definitions?.processes.first, !result.hasErrors else {
        throw BenchError(result.errors.map(\.description).joined(separator: "\n"))
    }
    return (Array(xml.utf8), process)
}

let benchContext: JSONObject = ["serial": "SN-0001", "customer": "ООО Ромашка", "amount": 1500]

func webhooks(_ options: Options) async throws {
    let receiver = try Receiver()
    let engine = try Engine(process: try webhookProcess(port: receiver.port).process)
    let performer = HTTPWebhookPerformer(userAgent: "procrun-bench")
    let inFlight = 64
    let total = options.deliveries
    func procrun() async -> Double {
        let before = receiver.count
        let time = await secondsAsync {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<inFlight {
                    group.addTask {
                        var i = worker
                        while i < total {
                            // As `procrun run` does: the runtime on a new in-memory store.
                            let instance = try? await ProcessRuntime.simulate(
                                engine, id: "w\(i)", context: benchContext, initiator: "bench", performer: performer
                            ).first
                            precondition(
                                instance?.status == .completed,
                                "webhook instance did not complete: \(instance?.incident?.message ?? "")")
                            i += inFlight
                        }
                    }
                }
            }
        }
        precondition(receiver.count - before == total)
        return Double(total) / time
    }
    // curl: the same requests, 64 at a time, from a config file of URLs.
    let body = #"{"serial_number":"SN-0001","customer":"ООО Ромашка","amount":1500}"#
    let config = FileManager.default.temporaryDirectory.appendingPathComponent("bench-curl-\(UUID().uuidString).cfg")
    var lines = [
        "silent", "header = \"Content-Type: application/json\"",
        "data-binary = \"\(body.replacingOccurrences(of: "\"", with: "\\\""))\"",
    ]
    for _ in 0..<total { lines.append("url = \"http://127.0.0.1:\(receiver.port)/orders/SN-0001\"") }
    try lines.joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: config) }
    func curl() throws -> Double {
        let before = receiver.count
        let time = try seconds {
            _ = try run(
                "/usr/bin/curl", ["--parallel", "--parallel-max", String(inFlight), "-K", config.path],
                stdout: FileHandle.nullDevice)
        }
        precondition(receiver.count - before == total, "curl delivered \(receiver.count - before) of \(total)")
        return Double(total) / time
    }
    _ = await procrun()
    _ = try curl()
    var ours: [Double] = []
    var theirs: [Double] = []
    for _ in 0..<options.rounds {
        ours.append(await procrun())
        theirs.append(try curl())
    }
    report(
        "webhooks", median(ours), "deliveries/s", runs: ours,
        reference: ("curl --parallel --parallel-max 64", median(theirs)), target: "≥ 0.5× curl")
}

// MARK: 4. Durable steps

func durable(_ options: Options) async throws {
    let receiver = try Receiver()
    let (xml, process) = try webhookProcess(port: receiver.port, userTasks: 3)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try InstanceStore(path: directory.appendingPathComponent("store.sqlite").path)
    let runner = DurableRunner(store: store, performer: HTTPWebhookPerformer(userAgent: "procrun-bench"))
    let instances = 200
    let stepsPerInstance = 5.0  // start, three completed tasks, the webhook's outcome
    var phases = [0.0, 0.0, 0.0]
    func procrun() async throws -> Double {
        phases = [0, 0, 0]
        let time = try await secondsAsync {
            for _ in 0..<instances {
                var id = ""
                phases[0] += try seconds {
                    id = try runner.start(
                        file: "bench.bpmn", xml: xml, process: process, context: benchContext, answers: nil,
                        directory: nil, initiator: "bench")
                }
                phases[1] += try seconds {
                    for task in ["t0", "t1", "t2"] {
                        _ = try runner.complete(instance: id, task: task, by: "bench", variables: JSONObject())
                    }
                }
                phases[2] += try await secondsAsync { try await runner.runDueJobs(instance: id) }
            }
        }
        return Double(instances) * stepsPerInstance / time
    }
    _ = try await procrun()
    // Raw SQLite: the same number of transactions, each writing what a step writes.
    let size = try store.averageStateSize()
    let raw = try RawSQLite(path: directory.appendingPathComponent("raw.sqlite").path)
    let blob = [UInt8](repeating: 0x7B, count: size)
    func rawRate() throws -> Double {
        let time = try seconds {
            for i in 0..<instances {
                try raw.transaction(
                    insert: "r\(i)-\(UUID().uuidString)", blob: blob, updates: Int(stepsPerInstance) - 1)
            }
        }
        return Double(instances) * stepsPerInstance / time
    }
    _ = try rawRate()
    var ours: [Double] = []
    var theirs: [Double] = []
    for _ in 0..<options.rounds {
        ours.append(try await procrun())
        theirs.append(try rawRate())
    }
    print(
        "durable: time per instance: start \(format(phases[0] / Double(instances) * 1000)) ms, three tasks \(format(phases[1] / Double(instances) * 1000)) ms, webhook \(format(phases[2] / Double(instances) * 1000)) ms (last round)"
    )
    print(
        "durable: \(instances) instances × 5 committed steps; state \(size) bytes; WAL, synchronous=FULL, on \(directory.path)"
    )
    report(
        "durable", median(ours), "steps/s", runs: ours,
        reference: ("raw SQLite transactions (same rows and bytes, same disk)", median(theirs)), target: "≥ 1/3 raw")
}

// MARK: 5. Memory

func memory(_ options: Options) throws {
    let (xml, process) = try webhookProcess(port: 9, userTasks: 1)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("store.sqlite").path
    let store = try InstanceStore(path: path)
    let runner = DurableRunner(store: store, performer: HTTPWebhookPerformer(userAgent: "procrun-bench"))
    let rssBefore = residentKilobytes()
    let count = options.waitingInstances
    let time = try seconds {
        for _ in 0..<count {
            _ = try runner.start(
                file: "bench.bpmn", xml: xml, process: process, context: benchContext, answers: nil, directory: nil,
                initiator: "bench")
        }
    }
    try store.checkpoint()
    let waiting = try store.countInstances(status: "waiting")
    precondition(waiting == count, "\(waiting) of \(count) instances wait")
    let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    let rssAfter = residentKilobytes()
    print(
        "memory: \(count) instances waiting at a user task, started in \(format(time)) s (\(format(Double(count) / time))/s)"
    )
    print(
        "memory: store \(bytes) bytes = \(bytes / count) bytes per waiting instance (instance state \(try store.averageStateSize()) bytes, task and row overhead the rest); process RSS grew \(max(0, rssAfter - rssBefore)) KB (instances live in the store, not in memory)"
    )
}

// MARK: 6. Start-up

func startup(_ options: Options) throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "procrun"
    ).path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw BenchError("\(binary) is missing: swift build -c release first")
    }
    let file = "Processes/order.bpmn"
    func spawn() throws -> Int32 { try spawnQuietly(binary, ["validate", file]) }
    var times: [Double] = []
    _ = try spawn()
    for _ in 0..<max(options.rounds, 21) {
        var status: Int32 = 0
        times.append(try seconds { status = try spawn() } * 1000)
        precondition(status == 0, "procrun validate \(file) failed")
    }
    report("startup", median(times), "ms", runs: times, target: "< 20 ms for procrun validate \(file)")
}

/// Runs `binary` with `arguments`, its output to /dev/null, and waits for it: posix_spawn and
/// waitpid (Foundation's Process adds tens of milliseconds of its own). Returns the wait status.
func spawnQuietly(_ binary: String, _ arguments: [String]) throws -> Int32 {
    var pid: pid_t = 0
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { (text: String) in strdup(text) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    guard posix_spawn(&pid, binary, &actions, nil, argv, environ) == 0 else {
        throw BenchError("cannot start \(binary)")
    }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status
}

// MARK: 6b. Process tests

/// `procrun test` on 1,000 test cases of the order process (the first case of
/// Processes/order.test.json, repeated): the whole command, process start to exit.
func processTests(_ options: Options) throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "procrun"
    ).path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw BenchError("\(binary) is missing: swift build -c release first")
    }
    let root = FileManager.default.currentDirectoryPath
    guard
        case .object(var file)? = try? JSONParser.parse(
            Array(try Data(contentsOf: URL(fileURLWithPath: "Processes/order.test.json"))), file: "order.test.json"),
        case .array(let cases)? = file["testCases"], case .object(let first)? = cases.first
    else { throw BenchError("Processes/order.test.json is missing or not a test file") }
    file["process"] = .string(root + "/Processes/order.bpmn")
    file["directory"] = .string(root + "/Samples/org.json")
    file["testCases"] = .array(
        (0..<1_000).map { number in
            var copy = first
            copy["name"] = .string("case \(number)")
            return .object(copy)
        })
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-bench-\(getpid()).test.json").path
    try Data(JSONWriter.string(.object(file)).utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    func spawn() throws -> Int32 { try spawnQuietly(binary, ["test", path]) }
    var times: [Double] = []
    for _ in 0..<max(options.rounds, 5) {
        var status: Int32 = 0
        times.append(try seconds { status = try spawn() } * 1000)
        precondition(status == 0, "procrun test failed")
    }
    report("tests", median(times), "ms", runs: times, target: "< 1000 ms for 1,000 test cases of the order process")
}

// MARK: 7. JSON

/// One JSON object of `keys` keys, as a large webhook reply is: `{"key0":"Значение 0",…}`.
/// The values are flat, so the figure measures building the object, not allocating values.
func jsonObjectBytes(keys: Int) -> [UInt8] {
    var text = "{"
    text.reserveCapacity(keys * 36)
    for i in 0..<keys {
        if i > 0 { text += "," }
        text += "\"key\(i)\":\"Значение \(i)\""
    }
    text += "}"
    return Array(text.utf8)
}

/// Parsing one object of 10k, 100k and 1M keys: the time per key stays flat when building an
/// object is linear. Foundation's JSONSerialization parses the same bytes in the same round.
func json(_ options: Options) throws {
    var lastOurs: [Double] = []
    var lastReference = 0.0
    print("json: keys       procrun ms   ns/key   JSONSerialization ms   ns/key")
    for keys in [10_000, 100_000, 1_000_000] {
        let bytes = jsonObjectBytes(keys: keys)
        let data = Data(bytes)
        var ours: [Double] = []
        var theirs: [Double] = []
        for _ in 0..<options.rounds {
            var parsed: JSONValue = .null
            ours.append(try seconds { parsed = try JSONParser.parse(bytes, file: "bench.json") })
            precondition(parsed.objectValue?.count == keys, "parsed \(parsed.objectValue?.count ?? 0) of \(keys) keys")
            var reference: Any = 0
            theirs.append(try seconds { reference = try JSONSerialization.jsonObject(with: data) })
            precondition((reference as? [String: Any])?.count == keys, "JSONSerialization read a different object")
        }
        let (ourTime, theirTime) = (median(ours), median(theirs))
        let row = [
            String(keys).padding(toLength: 10, withPad: " ", startingAt: 0),
            format(ourTime * 1000).padding(toLength: 12, withPad: " ", startingAt: 0),
            format(ourTime * 1e9 / Double(keys)).padding(toLength: 8, withPad: " ", startingAt: 0),
            format(theirTime * 1000).padding(toLength: 22, withPad: " ", startingAt: 0),
            format(theirTime * 1e9 / Double(keys)),
        ]
        print("json: " + row.joined(separator: " "))
        lastOurs = ours
        lastReference = theirTime
    }
    report(
        "json", median(lastOurs) * 1000, "ms", runs: lastOurs.map { $0 * 1000 },
        reference: ("Foundation JSONSerialization", lastReference * 1000),
        target: "< 1000 ms for one object of 1,000,000 keys; ns/key flat from 10k to 1M")
}

let options = parseOptions()
do {
    for figure in options.figures {
        switch figure {
        case "interpreter": try interpreter(options)
        case "run": try await runner(options)
        case "loader", "loader-procrun", "loader-libxml2": try loader(options)
        case "webhooks": try await webhooks(options)
        case "durable": try await durable(options)
        case "memory": try memory(options)
        case "startup": try startup(options)
        case "json": try json(options)
        case "tests": try processTests(options)
        case "serve": try serveFigure(options)
        default:
            throw BenchError(
                "unknown figure '\(figure)' (interpreter, run, loader, webhooks, durable, memory, startup, json, tests, serve)"
            )
        }
    }
} catch {
    FileHandle.standardError.write(Data("bench: error: \(error)\n".utf8))
    exit(2)
}

/// Instances of `run` in memory, one at a time, as `procrun run` runs one: the runtime on a new
/// in-memory store starts it with simulated people and runs its jobs to the end.
struct RunnerBench {
    let engine: Engine
    let context: JSONObject
    let xml = Array("<order_simple/>".utf8)

    func run(_ i: Int) async throws {
        let store = MemoryStore()
        let runtime = ProcessRuntime(store: store, performer: NoWebhooks())
        let id = try runtime.start(
            file: "order_simple.bpmn", xml: xml, process: engine.process, context: context, answers: nil,
            directory: nil, initiator: "bench",
            simulatePeople: true, id: "r\(i)", engine: engine, partners: [])
        try await runtime.drain(instance: id)
        let instance = try store.instance(id)?.instance
        precondition(
            instance?.status == .completed && instance?.context["fee"] == 30,
            "order_simple did not complete in the runner")
    }
}

struct NoWebhooks: WebhookPerformer {
    func perform(_ call: WebhookCall) async -> WebhookOutcome {
        .failed(status: nil, message: "no webhooks here", retryable: false)
    }
}
