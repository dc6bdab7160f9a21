import Engine
import Foundation
import Integrations
import Testing

@Suite struct MailMessageTests {
    /// An e-mail node's message to a large group: the To and Cc lists are folded into lines of
    /// at most 78 characters (every header but the Message-ID), the multipart boundary is at most 70 (RFC 2046) whatever the node
    /// id, and the same arguments give the same bytes.
    @Test func anEmailToAGroupIsFoldedAndTheBoundaryIsShort() throws {
        let to = (1...40).map { "warehouse.worker\($0)@example.ru" }
        let key = "0b6f7a8c-2d4e-4f6a-8b9c-0d1e2f3a4b5c-ServiceTask_SendConfirmationToTheCustomer-12"
        func build() -> [UInt8] {
            MailMessage.build(
                from: "shop@example.ru", to: to, cc: ["sales@example.ru"], subject: "Заказ", text: "t",
                html: "<p>h</p>",
                key: key, date: Date(timeIntervalSince1970: 1_767_261_600), instance: "i-1")
        }
        let text = String(decoding: build(), as: UTF8.self)
        #expect(build() == build())
        let lines = text.components(separatedBy: "\r\n")
        // A Message-ID cannot be folded: it keeps RFC 5322's hard limit of 998.
        let folded = lines.filter { !$0.hasPrefix("Message-ID: ") }
        #expect(folded.allSatisfy { $0.count <= 78 }, "\(folded.filter { $0.count > 78 })")
        #expect(lines.allSatisfy { $0.utf8.count <= 998 })
        let toLines = lines.drop { !$0.hasPrefix("To: ") }.prefix { $0.hasPrefix("To: ") || $0.hasPrefix(" ") }
        #expect(toLines.count > 10)
        #expect(toLines.joined().dropFirst("To: ".count) == Substring(to.joined(separator: ", ")))
        let type = try #require(lines.first { $0.hasPrefix("Content-Type: multipart/alternative; boundary=") })
        let boundary = type.dropFirst("Content-Type: multipart/alternative; boundary=\"".count).dropLast()
        #expect(boundary.count <= 70 && boundary.hasPrefix("procrun-"))
        #expect(lines.contains("--\(boundary)--"))
    }

    func notification(subject: String, name: String?, text: String = "a\nb") -> OutgoingNotification {
        OutgoingNotification(
            key: "i-1-notify-2", process: "P", instance: "i-1", node: "w", user: "u", name: name, email: "u@example.ru",
            message: "m",
            subject: subject, text: text, createdAt: Date(timeIntervalSince1970: 1_767_261_600))
    }

    /// A long Russian subject becomes encoded words of at most 75 characters, folded, each whole
    /// UTF-8 characters; every line ends in CRLF, none is longer than 78 characters.
    @Test func headersAreEncodedFoldedAndCRLF() throws {
        let subject = String(repeating: "Ошибка в процессе «Заказ клиента» ", count: 4)
        let bytes = MailMessage.build(
            notification(subject: subject, name: "Иван \"Иванов\""), from: "bpm@example.ru", to: "u@example.ru")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.count <= 78 }, "\(lines.filter { $0.count > 78 })")
        #expect(lines.contains("Date: Thu, 01 Jan 2026 10:00:00 +0000"))
        #expect(lines.contains("Message-ID: <i-1-notify-2@example.ru>"))
        let subjectLines = lines.drop { !$0.hasPrefix("Subject: ") }.prefix {
            $0.hasPrefix("Subject: ") || $0.hasPrefix(" ")
        }
        #expect(subjectLines.count > 1)
        var decoded = ""
        for line in subjectLines {
            let word = line.replacingOccurrences(of: "Subject: ", with: "").trimmingCharacters(in: .whitespaces)
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?=") && word.count <= 75)
            let payload = word.dropFirst(10).dropLast(2)
            let data = try #require(Data(base64Encoded: String(payload)))
            // Each word decodes on its own: no character is split between two.
            decoded += try #require(String(data: data, encoding: .utf8))
        }
        #expect(decoded == subject)
        #expect(lines.contains { $0.hasPrefix("To: =?UTF-8?B?") && $0.hasSuffix(" <u@example.ru>") })
    }

    /// A process or node name with CR LF cannot add a header; ASCII stays readable.
    @Test func lineBreaksInNamesCannotInjectHeaders() {
        let bytes = MailMessage.build(
            notification(subject: "Bad\r\nBcc: evil@example.com", name: "Evil\r\nBcc: x@y"), from: "a@b",
            to: "u@example.ru")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("\r\nBcc:"))
        let plain = String(
            decoding: MailMessage.build(
                notification(subject: "Process failed", name: "John Smith"), from: "a@b", to: "u@c"), as: UTF8.self)
        #expect(plain.contains("\r\nSubject: Process failed\r\n"))
        #expect(plain.contains("\r\nTo: John Smith <u@c>\r\n"))
        #expect(MailMessage.isPlainAddress("ivanov@example.ru"))
        #expect(
            !MailMessage.isPlainAddress("a b@c") && !MailMessage.isPlainAddress("a@b\r\nRCPT TO:<x@y>")
                && !MailMessage.isPlainAddress("nobody"))
    }

    /// A display name with a comma or angle brackets stays one mailbox: it is a quoted string.
    @Test func punctuationInANameCannotAddRecipients() {
        func to(_ name: String) -> String? {
            String(
                decoding: MailMessage.build(notification(subject: "s", name: name), from: "a@b", to: "u@c"),
                as: UTF8.self
            )
            .components(separatedBy: "\r\n").first { $0.hasPrefix("To: ") }
        }
        #expect(to("Doe, John") == #"To: "Doe, John" <u@c>"#)
        #expect(to(#"Eve <eve@evil.example>, Bob "B\"#) == #"To: "Eve <eve@evil.example>, Bob \"B\\" <u@c>"#)
    }
}
