import Foundation
import Testing
import Values

/// A process that e-mails the customer and the warehouse group, then (optionally) notifies the
/// manager with a notify node.
func emailBPMN(email: String? = nil, onError: String = "", boundary: Bool = false, notify: Bool = false) throws
    -> String
{
    let node =
        email ?? """
            <procrun:email subject="Заказ {$orderId} готов" to="{$customer.email}" cc="sales@example.ru, {$customer.email}">
              <procrun:recipient group="Склад"/>
              <procrun:text>Здравствуйте, {$customer.name}! Заказ {$orderId} собран.</procrun:text>
              <procrun:html><![CDATA[<p>Заказ <b>{$orderId}</b> собран.</p>]]></procrun:html>\(onError)
            </procrun:email>
            """
    return try CLI.temporaryFile(
        "mail.bpmn",
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1">
        <error id="Err" errorCode="email-failed"/>
        <process id="Mail" name="Отгрузка" isExecutable="true">
        <startEvent id="s"/>
        <serviceTask id="Task_mail" name="Письмо клиенту"><extensionElements>
        \(node)
        </extensionElements></serviceTask>
        \(boundary ? #"<boundaryEvent id="Mail_failed" attachedToRef="Task_mail"><errorEventDefinition errorRef="Err"/></boundaryEvent><endEvent id="End_call"/><sequenceFlow id="f9" sourceRef="Mail_failed" targetRef="End_call"/>"# : "")
        \(notify ? #"<sendTask id="Task_tell" name="Сообщить менеджеру"><extensionElements><procrun:notify subject="Заказ {$orderId}"><procrun:recipient variable="manager"/><procrun:recipient group="Склад"/><procrun:message>{$name}, заказ {$orderId} отправлен клиенту {$customer.name}.</procrun:message></procrun:notify></extensionElements></sendTask>"# : #"<task id="Task_tell"/>"#)
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="Task_mail"/><sequenceFlow id="f2" sourceRef="Task_mail" targetRef="Task_tell"/>
        <sequenceFlow id="f3" sourceRef="Task_tell" targetRef="e"/>
        </process></definitions>
        """)
}

func mailDirectory() throws -> String {
    try CLI.temporaryFile(
        "org.json",
        """
        {"users": [{"id": "sidorov", "name": "Пётр Сидоров", "email": "sidorov@example.ru"},
                   {"id": "nomail", "name": "Без почты"},
                   {"id": "kozlov", "name": "Олег Козлов", "email": "kozlov@example.ru", "locale": "ru"}],
         "groups": {"Склад": ["sidorov", "nomail"]}}
        """)
}

func mailContext() throws -> String {
    try CLI.temporaryFile(
        "c.json",
        #"{"orderId": "ЗК-2026-00417", "manager": "kozlov", "customer": {"name": "Анна", "email": "anna@example.com"}}"#
    )
}

/// A MIME part of a multipart body: its headers and its base64 body decoded.
func mimeParts(_ mail: ReceivedMail) -> [(type: String, body: String)] {
    guard let type = mail.header("Content-Type"), let range = type.range(of: "boundary=\"") else { return [] }
    let boundary = String(type[range.upperBound...].prefix { $0 != "\"" })
    let data = mail.raw.components(separatedBy: "\r\nDATA\r\n").last ?? ""
    return data.components(separatedBy: "--\(boundary)").dropFirst().compactMap { part in
        let pieces = part.components(separatedBy: "\r\n\r\n")
        guard pieces.count == 2,
            let header = pieces[0].components(separatedBy: "\r\n").first(where: {
                $0.hasPrefix("Content-Type:")
            })
        else { return nil }
        let body = Data(base64Encoded: pieces[1].replacingOccurrences(of: "\r\n", with: "")) ?? Data()
        return (String(header.dropFirst("Content-Type: ".count)), String(decoding: body, as: UTF8.self))
    }
}

@Suite(.serialized) struct EmailCLITests {
    /// `run`: the e-mail goes out through a real SMTP server on 127.0.0.1 to `to`, `cc` and the
    /// group's people with an address (each once), UTF-8 subject in RFC 2047 words, text and
    /// HTML as multipart/alternative; the notify node's message reaches the manager and the
    /// group by the same SMTP server.
    @Test func runSendsTheEmailAndTheNotification() throws {
        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        let result = try CLI.run([
            "run", try emailBPMN(notify: true), "--context", try mailContext(), "--directory", try mailDirectory(),
            "--smtp-url", smtp.url, "--smtp-from", "shop@example.ru", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        let id = try #require(report["instance"]?.stringValue)
        let jobs = report["jobs"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(jobs.map { $0["type"] } == ["email"])
        #expect(jobs.first?["outcome"] == "delivered")
        #expect(jobs.first?["idempotencyKey"]?.stringValue == "\(id)-Task_mail-1")
        #expect(report["webhooks"] == .array([]))

        let mails = smtp.messages.map(ReceivedMail.init)
        #expect(mails.count == 3)  // the e-mail, and the notification to kozlov and to sidorov
        let mail = try #require(mails.first { $0.header("Message-ID") == "<\(id)-Task_mail-1@example.ru>" })
        #expect(mail.envelope.first?.hasPrefix("MAIL FROM:<shop@example.ru>") == true)
        #expect(
            mail.envelope.filter { $0.hasPrefix("RCPT TO:") } == [
                "RCPT TO:<anna@example.com>", "RCPT TO:<sidorov@example.ru>", "RCPT TO:<sales@example.ru>",
            ])
        #expect(mail.header("To") == "anna@example.com, sidorov@example.ru")
        #expect(mail.header("Cc") == "sales@example.ru")
        #expect(mail.header("Subject")?.hasPrefix("=?UTF-8?B?") == true)
        #expect(mail.decoded("Subject") == "Заказ ЗК-2026-00417 готов")
        #expect(mail.header("Content-Type")?.hasPrefix("multipart/alternative; boundary=") == true)
        let parts = mimeParts(mail)
        #expect(parts.map(\.type) == ["text/plain; charset=utf-8", "text/html; charset=utf-8"])
        #expect(parts.first?.body == "Здравствуйте, Анна! Заказ ЗК-2026-00417 собран.")
        #expect(parts.last?.body == "<p>Заказ <b>ЗК-2026-00417</b> собран.</p>")
        #expect(!mail.raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF line ends only")

        let told = try #require(mails.first { $0.envelope.contains("RCPT TO:<kozlov@example.ru>") })
        #expect(told.decoded("Subject") == "Заказ ЗК-2026-00417")
        #expect(told.body == "Олег Козлов, заказ ЗК-2026-00417 отправлен клиенту Анна.")
        #expect(mails.contains { $0.envelope.contains("RCPT TO:<sidorov@example.ru>") && $0.body.hasPrefix("Пётр") })
        let notifications = report["notifications"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(notifications.map { $0["user"] } == ["kozlov", "sidorov", "nomail"])
        #expect(notifications.first?["node"] == "Task_tell")
        #expect(notifications.first?["message"] == "Олег Козлов, заказ ЗК-2026-00417 отправлен клиенту Анна.")
        #expect(result.stderr.contains("user 'nomail' has no e-mail address in the directory"))
    }

    /// A refused try is retried after the delay, with the same bytes (the same Message-ID and
    /// Date); the trace says so.
    @Test func aRefusedEmailIsRetriedWithTheSameBytes() throws {
        let smtp = try SMTPReceiver(refuseFirst: 1)
        defer { smtp.stop() }
        let result = try CLI.run([
            "run", try emailBPMN(onError: #"<procrun:onError retries="2" delay="0.2"/>"#), "--context",
            try mailContext(), "--directory", try mailDirectory(), "--smtp-url", smtp.url,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("try 1 of 3 failed: SMTP: "))
        #expect(result.stdout.contains("try 2: sent to 3 addresses"))
        #expect(result.stdout.contains("2 email tries, 0 notifications"))
        let refused = smtp.refused
        let accepted = smtp.messages
        #expect(refused.count == 1 && accepted.count == 1)
        #expect(refused == accepted)
    }

    /// The SMTP password comes from a secret in --smtp-url, read from the environment when the
    /// e-mail is sent: the server sees it in AUTH PLAIN; the store never holds it.
    @Test func theSMTPPasswordIsASecret() throws {
        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        let store = try temporaryStore()
        let url = "smtp://mailer:{$secrets.SMTP_PASSWORD}@127.0.0.1:\(smtp.port)"
        let result = try CLI.run(
            [
                "start", try emailBPMN(), "--context", try mailContext(), "--directory", try mailDirectory(),
                "--smtp-url", url, "--store", store,
            ], environment: ["PROCRUN_SECRET_SMTP_PASSWORD": "пароль s3cret"])
        #expect(result.status == 0, "\(result.stderr)")
        let mail = try #require(smtp.messages.map(ReceivedMail.init).first)
        let auth = try #require(mail.envelope.first { $0.hasPrefix("AUTH PLAIN ") })
        let credentials = Data(base64Encoded: String(auth.dropFirst("AUTH PLAIN ".count))) ?? Data()
        #expect(String(decoding: credentials, as: UTF8.self) == "\0mailer\0пароль s3cret")
        let dump = try String(contentsOfFile: store, encoding: .isoLatin1)
        #expect(!dump.contains("s3cret"))
    }

    /// Without an SMTP server the e-mail is not lost: `start` leaves its job pending, saying why;
    /// a worker with a server sends it later, and the notify node's messages after it (they wait
    /// in the store's outbox, as every notification does).
    @Test func withoutAServerTheEmailWaitsForAWorkerThatHasOne() throws {
        let store = try temporaryStore()
        let started = try CLI.run(
            [
                "start", try emailBPMN(notify: true), "--context", try mailContext(), "--directory",
                try mailDirectory(), "--store",
                store, "--json",
            ], environment: ["PROCRUN_SMTP_URL": ""])
        #expect(started.status == 4, "\(started.stderr)")
        #expect(started.stderr.contains("left pending for a worker that can run it: no SMTP server"))
        let id = try #require(try JSONParser.parse(started.stdout).objectValue?["instance"]?.stringValue)
        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        // `start` released the job it could not run: the worker takes it at once.
        let worker = try CLI.run(["worker", "--until-idle", "--store", store, "--smtp-url", smtp.url])
        #expect(worker.status == 0, "\(worker.stderr)")
        let mails = smtp.messages.map(ReceivedMail.init)
        #expect(mails.first?.header("Message-ID") == "<\(id)-Task_mail-1@localhost>")
        #expect(mails.count == 3)
        #expect(mails.contains { $0.header("Message-ID") == "<\(id)-notify-1@localhost>" && $0.body.hasPrefix("Олег") })
        let show = try CLI.run(["show", id, "--store", store, "--json"])
        #expect(try JSONParser.parse(show.stdout).objectValue?["status"] == "completed", "\(show.stdout)")
        let listed = try storedNotifications(store)
        #expect(listed["kozlov"]?["status"] == "delivered")
        #expect(listed["kozlov"]?["text"] == "Олег Козлов, заказ ЗК-2026-00417 отправлен клиенту Анна.")
    }

    /// After its last try the e-mail's error boundary event catches `email-failed`; a variable
    /// that is not set fails the first try before anything is sent.
    @Test func theBoundaryCatchesEmailFailed() throws {
        let smtp = try SMTPReceiver()
        defer { smtp.stop() }
        let node =
            #"<procrun:email subject="Заказ {$orderId}" to="{$missing}"><procrun:text>x</procrun:text></procrun:email>"#
        let result = try CLI.run([
            "run", try emailBPMN(email: node, boundary: true), "--context", try mailContext(), "--smtp-url", smtp.url,
            "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONParser.parse(result.stdout).objectValue)
        #expect(report["end"]?.objectValue?["id"] == "End_call")
        let tries = report["jobs"]?.arrayValue?.first?.objectValue?["tries"]?.arrayValue ?? []
        #expect(tries.first?.objectValue?["error"] == "variable 'missing' is not set")
        #expect(smtp.messages.isEmpty)
    }

    /// The loader refuses what an e-mail or notify node cannot be, with FILE:LINE:COL.
    @Test func badEmailAndNotifyNodesAreRefused() throws {
        let cases: [(String, String)] = [
            (
                #"<procrun:email to="a@b.c"><procrun:text>x</procrun:text></procrun:email>"#,
                "procrun:email needs a subject attribute"
            ),
            (
                #"<procrun:email subject="s"><procrun:text>x</procrun:text></procrun:email>"#,
                "procrun:email has nobody to send to"
            ),
            (#"<procrun:email subject="s" to="a@b.c"/>"#, "procrun:email needs a body"),
            (
                #"<procrun:email subject="{$secrets.KEY}" to="a@b.c"><procrun:text>x</procrun:text></procrun:email>"#,
                "procrun:email subject reads {$secrets.KEY}; an e-mail cannot carry secrets"
            ),
            (
                #"<procrun:email subject="s" to="a@b.c" bcc="x"><procrun:text>x</procrun:text></procrun:email>"#,
                "unknown attribute 'bcc' on procrun:email (known: cc, subject, timeout, to)"
            ),
            (
                #"<procrun:email subject="s" to="a@b.c"><procrun:recipient group="A" user="b"/><procrun:text>x</procrun:text></procrun:email>"#,
                "procrun:recipient names 2 recipients"
            ),
            (
                #"<procrun:email subject="s" to="a@b.c"><procrun:text>x</procrun:text><procrun:onError backoff="0.5"/></procrun:email>"#,
                "procrun:onError backoff '0.5' is not a factor from 1 to 100"
            ),
            (
                #"<procrun:notify><procrun:message>x</procrun:message></procrun:notify>"#,
                "procrun:notify needs at least one procrun:recipient"
            ),
            (
                #"<procrun:notify><procrun:recipient user="a"/></procrun:notify>"#,
                "procrun:notify needs a procrun:message"
            ),
        ]
        for (node, message) in cases {
            let file = try emailBPMN(email: node)
            let result = try CLI.run(["validate", file])
            #expect(result.status == 2, "\(node)")
            #expect(result.stderr.contains("\(file):7:"), "\(node): \(result.stderr)")
            #expect(result.stderr.contains("error: \(message)"), "\(node): \(result.stderr)")
        }
    }
}
