import Engine
import Expressions
import Foundation
import Testing
import Values

@Suite struct NotificationTextTests {
    let facts = NotificationText.Facts(
        process: "Заказ клиента", instance: "i-1", node: "Передать заказ", error: "HTTP 503 from http://x/",
        attempts: 21, user: "ivanov",
        name: "Иван Иванов")

    @Test func theDirectoryLocaleChoosesTheLanguageRussianByDefault() throws {
        let json: JSONValue = [
            "users": [
                ["id": "a", "locale": "en_US"], ["id": "b", "locale": "ru-RU"], ["id": "c"],
                ["id": "d", "locale": "EN"],
            ]
        ]
        let directory = try Directory(json: json, file: "org.json")
        #expect(
            ["a", "b", "c", "d"].map { NotificationText.language(of: directory.user($0)) } == [.en, .ru, .ru, .en])
        #expect(NotificationText.language(of: nil) == .ru)
        #expect(throws: Diagnostic.self) {
            try Directory(json: ["users": [["id": "x", "locale": "fr"]]], file: "o.json")
        }
        #expect(throws: Diagnostic.self) { try Directory(json: ["users": [["id": "x", "locale": 1]]], file: "o.json") }
    }

    @Test func defaultTextsInBothLanguages() {
        #expect(
            NotificationText.defaultText(facts, language: .ru)
                == "Процесс «Заказ клиента», экземпляр i-1: вебхук «Передать заказ» не выполнен после 21 попытки: HTTP 503 from http://x/"
        )
        var three = facts
        three.attempts = 3
        #expect(NotificationText.defaultText(three, language: .ru).contains("после 3 попыток"))
        three.attempts = 11
        #expect(NotificationText.defaultText(three, language: .ru).contains("после 11 попыток"))
        three.attempts = 1
        #expect(NotificationText.defaultText(three, language: .en).contains("failed after 1 try: HTTP 503"))
        #expect(NotificationText.subject(facts, language: .ru) == "Ошибка в процессе «Заказ клиента»: «Передать заказ»")
        #expect(NotificationText.subject(facts, language: .en) == "Process «Заказ клиента» failed at 'Передать заказ'")
    }

    @Test func aTemplateReadsTheFactsTheContextAndDates() throws {
        let template = try Template(
            #"{$name}, заказ {$order.number} ({$process}/{$instance}): «{$node}» — {$error}, {$attempts}; {$nope}{DateTime("D MMMM YYYY", {$due})}"#
        )
        let context: JSONObject = ["order": ["number": "A-7"], "due": "2026-03-05"]
        let text = NotificationText.render(
            template, facts: facts, context: context, language: .ru, now: Date(timeIntervalSince1970: 0),
            timeZone: TimeZone(identifier: "UTC")!)
        #expect(
            text
                == "Иван Иванов, заказ A-7 (Заказ клиента/i-1): «Передать заказ» — HTTP 503 from http://x/, 21; 5 марта 2026"
        )
    }
}
