import Foundation
import Testing
import Values

/// The SMTP receiver of the tests (Fixtures/smtp_server.py): records every message it accepts,
/// envelope and raw DATA bytes, to a file; stops when its standard input closes.
final class SMTPReceiver: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    let record: URL
    let port: Int

    var url: String { "smtp://127.0.0.1:\(port)" }

    /// `refuseFirst`: so many messages are refused (451) before the server accepts any.
    init(refuseFirst: Int = 0) throws {
        record = FileManager.default.temporaryDirectory.appendingPathComponent("procrun-smtp-\(UUID().uuidString).txt")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", CLI.packageRoot.appendingPathComponent("Tests/ProcrunCLITests/Fixtures/smtp_server.py").path,
            record.path, String(refuseFirst),
        ]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
            line.append(contentsOf: byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw CocoaError(.fileReadCorruptFile) }
        self.port = port
    }

    /// What arrived so far, one string per message (envelope, then the DATA bytes).
    var messages: [String] {
        let text = (try? String(contentsOf: record, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "==== MESSAGE\r\n").dropFirst().map {
            $0.components(separatedBy: "==== END\r\n")[0]
        }
    }

    /// The messages refused (451) so far, as `messages`.
    var refused: [String] {
        let text = (try? String(contentsOf: record, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "==== REFUSED\r\n").dropFirst().map {
            $0.components(separatedBy: "==== END\r\n")[0]
        }
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: record)
    }
}

/// One e-mail as it arrived: its headers (unfolded) and its body, decoded.
struct ReceivedMail {
    var envelope: [String]
    var headers: [(name: String, value: String)]
    var body: String
    var raw: String

    init(_ text: String) {
        raw = text
        let parts = text.components(separatedBy: "\r\nDATA\r\n")
        envelope = parts[0].components(separatedBy: "\r\n")
        let data = parts.count > 1 ? parts[1] : ""
        let split = data.components(separatedBy: "\r\n\r\n")
        var headers: [(String, String)] = []
        for line in split[0].components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), let last = headers.popLast() {
                headers.append((last.0, last.1 + "\r\n" + line))
            } else if let colon = line.firstIndex(of: ":") {
                headers.append(
                    (
                        String(line[..<colon]),
                        String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                    ))
            }
        }
        self.headers = headers
        let encoded = split.dropFirst().joined(separator: "\r\n\r\n").replacingOccurrences(of: "\r\n", with: "")
        body = Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? "<not base64: \(encoded)>"
    }

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    /// A header with its RFC 2047 `=?UTF-8?B?…?=` words decoded.
    func decoded(_ name: String) -> String? {
        guard let value = header(name) else { return nil }
        var result = ""
        for word in value.components(separatedBy: "\r\n ") {
            var rest = Substring(word)
            while let start = rest.range(of: "=?UTF-8?B?"), let end = rest[start.upperBound...].range(of: "?=") {
                result += rest[..<start.lowerBound]
                let bytes = Data(base64Encoded: String(rest[start.upperBound..<end.lowerBound])) ?? Data()
                result += String(decoding: bytes, as: UTF8.self)
                rest = rest[end.upperBound...]
            }
            result += rest
        }
        return result
    }
}

/// A process whose webhook fails at once (nothing listens on port 1) and notifies three
/// people: one Russian with e-mail, one English with e-mail, one without e-mail.
func notifyingBPMN(message: String? = nil) throws -> String {
    try CLI.temporaryFile(
        "n.bpmn",
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
        <process id="P" name="Заказ клиента" isExecutable="true">
        <startEvent id="s"/>
        <serviceTask id="w" name="Передать заказ"><extensionElements><procrun:webhook url="http://127.0.0.1:1/orders" timeout="2">
          <procrun:onError interrupt="stop"><procrun:notify user="ivanov"/><procrun:notify user="smith"/><procrun:notify user="nomail"/>\
        \(message.map { "<procrun:message>\($0)</procrun:message>" } ?? "")</procrun:onError>
        </procrun:webhook></extensionElements></serviceTask>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="w"/><sequenceFlow id="stop" sourceRef="w" targetRef="e"/>
        </process></definitions>
        """)
}

func notifyDirectory() throws -> String {
    try CLI.temporaryFile(
        "org.json",
        """
        {"users": [{"id": "ivanov", "name": "Иван Иванов", "email": "ivanov@example.ru", "locale": "ru_RU"},
                   {"id": "smith", "name": "John Smith", "email": "smith@example.com", "locale": "en"},
                   {"id": "nomail", "name": "Без почты"}]}
        """)
}

/// The `procrun notifications --json` list, by user.
func storedNotifications(_ store: String, user: String? = nil) throws -> [String: JSONObject] {
    let listed = try CLI.run(["notifications", "--store", store, "--json"] + (user.map { ["--user", $0] } ?? []))
    #expect(listed.status == 0, "\(listed.stderr)")
    var byUser: [String: JSONObject] = [:]
    for entry in try JSONParser.parse(listed.stdout).arrayValue ?? [] {
        if let object = entry.objectValue, let user = object["user"]?.stringValue { byUser[user] = object }
    }
    return byUser
}

@Suite(.serialized) struct NotificationCLITests {
    /// A store instance notifies; `start` has no channel, so the notifications stay pending; a
    /// `start --notify-url` with the receiver down tries once; then `worker --until-idle` with
    /// both channels delivers each by POST and e-mail; `procrun notifications` lists them.
    @Test func aWorkerDeliversByPostAndEmail() throws {
        let store = try temporaryStore()
        let bpmn = try notifyingBPMN()
        let directory = try notifyDirectory()
        let started = try CLI.run(["start", bpmn, "--directory", directory, "--store", store, "--json"])
        #expect(started.status == 0, "\(started.stderr)")
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        var listed = try storedNotifications(store)
        #expect(listed.keys.sorted() == ["ivanov", "nomail", "smith"])
        #expect(listed.values.allSatisfy { $0["status"] == "pending" && $0["attempts"] == 0 && $0["channel"] == .null })

        // A second instance, started with a notify URL nobody listens on: one failed try each.
        let down = try CLI.run([
            "start", bpmn, "--directory", directory, "--store", store, "--json", "--notify-url",
            "http://127.0.0.1:1/notify",
        ])
        #expect(down.status == 0, "\(down.stderr)")
        let second = try #require(try JSONParser.parse(down.stdout).objectValue?["instance"]?.stringValue)
        let all =
            try JSONParser.parse(try CLI.run(["notifications", "--store", store, "--json"]).stdout).arrayValue ?? []
        let tried = all.compactMap(\.objectValue).filter { $0["instance"]?.stringValue == second }
        #expect(tried.count == 3)
        #expect(tried.allSatisfy { $0["status"] == "pending" && $0["attempts"] == 1 })
        #expect(tried.allSatisfy { $0["reason"]?.stringValue?.hasPrefix("url: notify URL:") == true })

        let inbox = try Inbox()
        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        let worker = try CLI.run([
            "worker", "--until-idle", "--store", store, "--notify-url", inbox.url + "/notify", "--smtp-url", smtp.url,
            "--smtp-from",
            "procrun@example.ru",
        ])
        #expect(worker.status == 0, "\(worker.stderr)")
        let posted = inbox.stop()
        #expect(posted.components(separatedBy: "POST /notify HTTP/1.1").count == 7)
        for n in 1...3 {
            #expect(posted.contains("Idempotency-Key: \(id)-notify-\(n)\n"))
            #expect(posted.contains("Idempotency-Key: \(second)-notify-\(n)\n"))
        }
        #expect(posted.contains(#""user":"nomail","name":"Без почты","email":null"#))
        #expect(posted.contains(#""subject":"Ошибка в процессе «Заказ клиента»: «Передать заказ»""#))

        // Two instances × two people with an address; the one without gets none.
        let mails = smtp.messages.map(ReceivedMail.init)
        #expect(mails.count == 4)
        let ivanov = try #require(
            mails.first { $0.envelope.contains("RCPT TO:<ivanov@example.ru>") && $0.raw.contains(id) })
        #expect(ivanov.envelope.first?.hasPrefix("MAIL FROM:<procrun@example.ru>") == true)
        #expect(ivanov.header("From") == "procrun <procrun@example.ru>")
        #expect(ivanov.decoded("To") == "Иван Иванов <ivanov@example.ru>")
        #expect(ivanov.header("Subject")?.hasPrefix("=?UTF-8?B?") == true)
        #expect(ivanov.decoded("Subject") == "Ошибка в процессе «Заказ клиента»: «Передать заказ»")
        #expect(ivanov.header("Message-ID") == "<\(id)-notify-1@example.ru>")
        #expect(ivanov.header("MIME-Version") == "1.0")
        #expect(ivanov.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(ivanov.header("Content-Transfer-Encoding") == "base64")
        #expect(
            ivanov.header("Date")?.range(
                of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$"#, options: .regularExpression
            ) != nil)
        #expect(
            ivanov.body.hasPrefix(
                "Процесс «Заказ клиента», экземпляр \(id): вебхук «Передать заказ» не выполнен после 1 попытки: "))
        #expect(!ivanov.raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF line ends only")
        let smith = try #require(
            mails.first { $0.envelope.contains("RCPT TO:<smith@example.com>") && $0.raw.contains(id) })
        #expect(smith.decoded("Subject") == "Process «Заказ клиента» failed at 'Передать заказ'")
        #expect(smith.header("To") == "John Smith <smith@example.com>")
        #expect(
            smith.body.hasPrefix(
                "Process «Заказ клиента», instance \(id): webhook 'Передать заказ' failed after 1 try: "))

        listed = try storedNotifications(store)
        let delivered =
            try JSONParser.parse(try CLI.run(["notifications", "--store", store, "--json"]).stdout).arrayValue?
            .compactMap(\.objectValue) ?? []
        #expect(delivered.count == 6)
        for entry in delivered where entry["user"] != "nomail" {
            #expect(entry["status"] == "delivered")
            #expect(entry["channel"] == "email,url")
            #expect(entry["sentAt"]?.stringValue != nil)
        }
        for entry in delivered where entry["instance"]?.stringValue == second { #expect(entry["attempts"] == 2) }
        let nomail = try #require(listed["nomail"])
        #expect(nomail["status"] == "delivered")
        #expect(nomail["channel"] == "url")
        #expect(nomail["reason"] == "email: user 'nomail' has no e-mail address in the directory")

        // The text listing, of one user.
        let text = try CLI.run(["notifications", "--store", store, "--user", "smith"])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains("smith") && $0.contains("email,url") && $0.contains("delivered") })
    }

    /// kill -9 while a POST is in flight (the receiver answers after 2 s): nothing is marked
    /// delivered; once the dead worker's lock expires (10 s + 5 s), another worker sends the
    /// same notification again with the same Idempotency-Key — at least once.
    @Test func killDuringADeliverySendsItAgainWithTheSameKey() throws {
        let store = try temporaryStore()
        let bpmn = try notifyingBPMN()
        let directory = try notifyDirectory()
        let started = try CLI.run(["start", bpmn, "--directory", directory, "--store", store, "--json"])
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        let inbox = try Inbox(arguments: ["--delay", "2"])
        let worker = try spawn(["worker", "--store", store, "--notify-url", inbox.url + "/notify"])
        Thread.sleep(forTimeInterval: 1)  // the first POST is in flight
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        #expect(try storedNotifications(store).values.allSatisfy { $0["status"] == "pending" && $0["attempts"] == 0 })

        let resumed = try CLI.run(["worker", "--until-idle", "--store", store, "--notify-url", inbox.url + "/notify"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let posted = inbox.stop()
        #expect(posted.components(separatedBy: "Idempotency-Key: \(id)-notify-1\n").count == 3)
        let listed = try storedNotifications(store)
        #expect(
            listed.values.allSatisfy { $0["status"] == "delivered" && $0["channel"] == "url" && $0["attempts"] == 1 })
    }

    /// kill -9 during a retry wait (the SMTP server is down): the next worker, with the server
    /// up, sends the e-mail with the same Message-ID.
    @Test func aNotificationSurvivesKillDuringItsRetryWait() throws {
        let store = try temporaryStore()
        let bpmn = try notifyingBPMN()
        let directory = try notifyDirectory()
        let started = try CLI.run(["start", bpmn, "--directory", directory, "--store", store, "--json"])
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        let worker = try spawn(["worker", "--store", store, "--smtp-url", "smtp://127.0.0.1:1"])
        var tried: [String: JSONObject] = [:]
        for _ in 0..<50 {
            tried = try storedNotifications(store, user: "ivanov")
            if tried["ivanov"]?["attempts"] != 0 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        let failedTry = try #require(tried["ivanov"])
        #expect(failedTry["status"] == "pending")
        #expect(failedTry["reason"]?.stringValue?.hasPrefix("email: SMTP:") == true)

        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        let resumed = try CLI.run(
            ["worker", "--until-idle", "--store", store],
            environment: ["PROCRUN_SMTP_URL": smtp.url, "PROCRUN_SMTP_FROM": "bpm@example.ru"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let mails = smtp.messages.map(ReceivedMail.init)
        #expect(mails.count == 2)
        #expect(
            mails.contains {
                $0.header("Message-ID") == "<\(id)-notify-1@example.ru>"
                    && $0.envelope.contains("RCPT TO:<ivanov@example.ru>")
            })
        let listed = try storedNotifications(store)
        #expect(listed["ivanov"]?["status"] == "delivered")
        #expect(listed["ivanov"]?["channel"] == "email")
        #expect(listed["ivanov"]?["attempts"] != 0 && listed["ivanov"]?["attempts"] != 1)
        #expect(listed["nomail"]?["status"] == "failed")
        #expect(listed["nomail"]?["reason"] == "email: user 'nomail' has no e-mail address in the directory")
    }

    /// `run` in memory sends through the same channels, e-mail too, with the process's template.
    @Test func runDeliversDirectlyWithTheProcessTemplate() throws {
        let bpmn = try notifyingBPMN(
            message:
                "Заказ {$order.number}: «{$node}» в «{$process}» ({$instance}), попыток {$attempts}, {$name}: {$error} {$missing}[{DateTime(\"YYYY\")}]"
        )
        let directory = try notifyDirectory()
        let context = try CLI.temporaryFile("c.json", #"{"order": {"number": "A-7"}}"#)
        let inbox = try Inbox()
        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        let result = try CLI.run([
            bpmn, "--context", context, "--directory", directory, "--notify-url", inbox.url + "/notify", "--smtp-url",
            smtp.url, "--smtp-from",
            "procrun@example.ru",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("✉ notified ivanov"))
        // nomail has no address: a warning, the POST still went out.
        #expect(
            result.stderr.contains(
                "notification to nomail by email failed: user 'nomail' has no e-mail address in the directory"))
        let posted = inbox.stop()
        #expect(posted.components(separatedBy: "POST /notify HTTP/1.1").count == 4)
        let mails = smtp.messages.map(ReceivedMail.init)
        #expect(mails.count == 2)
        let ivanov = try #require(mails.first { $0.envelope.contains("RCPT TO:<ivanov@example.ru>") })
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(ivanov.body.hasPrefix("Заказ A-7: «Передать заказ» в «Заказ клиента» ("))
        #expect(ivanov.body.contains("), попыток 1, Иван Иванов: Failed to connect"))
        #expect(ivanov.body.hasSuffix(" [\(year)]"))
        #expect(ivanov.decoded("Subject") == "Ошибка в процессе «Заказ клиента»: «Передать заказ»")
    }

    /// Bad flags are invalid input before anything runs.
    /// `run` in memory keeps nothing: a notification the channel refuses is tried once, and
    /// each failure is one warning naming the person and the channel; the run goes on.
    @Test func runWarnsOncePerFailedNotification() throws {
        let bpmn = try notifyingBPMN()
        let directory = try notifyDirectory()
        let result = try CLI.run([bpmn, "--directory", directory, "--notify-url", "http://127.0.0.1:1/notify"])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter {
            $0.hasPrefix("procrun: warning: notification to ")
        }
        let notified = result.stdout.split(separator: "\n").filter { $0.contains("✉ notified ") }
        #expect(!notified.isEmpty && warnings.count == notified.count, "\(result.stdout)\(result.stderr)")
        #expect(warnings.allSatisfy { $0.contains(" by url failed: ") }, "\(warnings)")
    }

    @Test func badChannelFlagsAreRefused() throws {
        let bpmn = try notifyingBPMN()
        let url = try CLI.run([bpmn, "--notify-url", "ftp://x"])
        #expect(url.status == 2)
        #expect(url.stderr.contains("--notify-url 'ftp://x' is not an http:// or https:// URL"))
        let smtp = try CLI.run(["worker", "--until-idle", "--store", try temporaryStore(), "--smtp-url", "http://x"])
        #expect(smtp.status == 2)
        #expect(smtp.stderr.contains("--smtp-url 'http://x' is not an smtp:// or smtps:// URL"))
        let from = try CLI.run([bpmn, "--smtp-url", "smtp://127.0.0.1:1", "--smtp-from", "a b@c"])
        #expect(from.status == 2)
        #expect(from.stderr.contains("--smtp-from 'a b@c' is not an e-mail address"))
    }
}
