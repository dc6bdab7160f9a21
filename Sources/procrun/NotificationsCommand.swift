import ArgumentParser
import Engine
import Foundation
import Integrations
import Runtime
import Store
import Values

/// `--notify-url`, `--smtp-url`, `--smtp-from` (else `PROCRUN_NOTIFY_URL`, `PROCRUN_SMTP_URL`,
/// `PROCRUN_SMTP_FROM`): where notifications go.
struct NotifyOptions: ParsableArguments {
    @Option(help: "POST every notification as JSON to this URL (default: $PROCRUN_NOTIFY_URL).")
    var notifyURL: String?

    @Option(
        help:
            "E-mail notifications and procrun:email nodes through this SMTP server, smtp://host:port; a password may be {$secrets.NAME} (default: $PROCRUN_SMTP_URL)."
    )
    var smtpURL: String?

    @Option(help: "The sender address of e-mails (default: $PROCRUN_SMTP_FROM, else procrun@localhost).")
    var smtpFrom: String?

    /// The setting of a flag, else of its environment variable.
    func setting(_ flag: String?, _ variable: String) -> String? {
        let value = flag ?? ProcessInfo.processInfo.environment[variable]
        return value?.isEmpty == true ? nil : value
    }

    /// Sets a runtime's notification channels and its `email` job handler (`procrun:email`
    /// nodes go through the same SMTP server).
    func configure<Store: RuntimeStore>(_ runtime: ProcessRuntime<Store>, userAgent: String, timeZone: TimeZone) throws
    {
        runtime.channels = try channels(userAgent: userAgent)
        runtime.onLeftJob = warnLeft
        runtime.register(
            SMTPEmailHandler(
                url: setting(smtpURL, "PROCRUN_SMTP_URL"),
                from: setting(smtpFrom, "PROCRUN_SMTP_FROM") ?? "procrun@localhost",
                timeZone: timeZone))
    }

    /// The configured channels, checked: a bad URL or sender is invalid input (exit 2).
    func channels(userAgent: String) throws -> [any NotificationChannel] {
        var channels: [any NotificationChannel] = []
        if let url = setting(notifyURL, "PROCRUN_NOTIFY_URL") {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw Inputs.fail([.error(at: nil, "--notify-url '\(url)' is not an http:// or https:// URL")])
            }
            channels.append(HTTPNotificationChannel(url: url, userAgent: userAgent))
        }
        if let url = setting(smtpURL, "PROCRUN_SMTP_URL") {
            guard url.hasPrefix("smtp://") || url.hasPrefix("smtps://"),
                !url.contains(where: { $0.isWhitespace || $0.isNewline })
            else {
                throw Inputs.fail([.error(at: nil, "--smtp-url '\(url)' is not an smtp:// or smtps:// URL")])
            }
            let from = setting(smtpFrom, "PROCRUN_SMTP_FROM") ?? "procrun@localhost"
            guard MailMessage.isPlainAddress(from) else {
                throw Inputs.fail([.error(at: nil, "--smtp-from '\(from)' is not an e-mail address (local@domain)")])
            }
            channels.append(SMTPNotificationChannel(url: url, from: from))
        } else if smtpFrom != nil {
            throw Inputs.fail([.error(at: nil, "--smtp-from needs --smtp-url (or PROCRUN_SMTP_URL)")])
        }
        return channels
    }
}

/// A job a runtime left for another worker (an e-mail without an SMTP server): said once, on stderr.
@Sendable func warnLeft(_ job: Job, _ reason: String) {
    printError(
        "procrun: warning: a job of instance \(job.instanceID) is left pending for a worker that can run it: \(reason)")
}

struct NotificationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "List the notifications in the store's outbox and how their delivery went.",
        discussion: """
            One line per notified person: time, instance, node, user, channel, status (pending, delivered, failed \
            with the reason), tries, time sent. Read-only: the store is never written or migrated.
            """)
    @Option(help: "Only the notifications of this user id.") var user: String?
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let store = try InstanceStore(path: storeOptions.path, readOnly: true)
        let notifications = try store.storedNotifications(user: user)
        if storeOptions.json {
            print(JSONWriter.string(.array(notifications.map(Self.json)), pretty: true))
            return
        }
        if notifications.isEmpty {
            print("no notifications")
            return
        }
        for n in notifications {
            let status =
                n.status.rawValue
                + (n.status != .delivered || n.lastError != nil ? n.lastError.map { " (\($0))" } ?? "" : "")
            let sent = n.sentAt.map(Timestamp.rfc3339) ?? "-"
            print(
                "\(Timestamp.rfc3339(n.outgoing.createdAt))  \(n.outgoing.instance)  \(Trace.pad(n.outgoing.node, 16)) \(Trace.pad(n.outgoing.user, 12)) "
                    + "\(Trace.pad(n.channel ?? "-", 10)) tries \(n.attempts)  sent \(sent)  \(status)")
        }
    }

    static func json(_ n: StoredNotification) -> JSONValue {
        [
            "instance": .string(n.outgoing.instance), "node": .string(n.outgoing.node),
            "user": .string(n.outgoing.user),
            "email": n.outgoing.email.map(JSONValue.string) ?? .null, "subject": .string(n.outgoing.subject),
            "text": .string(n.outgoing.text),
            "channel": n.channel.map(JSONValue.string) ?? .null, "status": .string(n.status.rawValue),
            "reason": n.lastError.map(JSONValue.string) ?? .null, "attempts": .number(Double(n.attempts)),
            "createdAt": .string(Timestamp.rfc3339(n.outgoing.createdAt)),
            "sentAt": n.sentAt.map { .string(Timestamp.rfc3339($0)) } ?? .null,
            "idempotencyKey": .string(n.outgoing.key),
        ]
    }
}
