import Expressions
import Foundation
import Testing
import Values

@Suite struct FEELTests {
    let context: JSONObject =
        ([
            "amount": 1500, "name": "Иван", "vip": true, "customer": ["tier": "gold", "address": ["city": "Москва"]],
            "tags": ["a", "b"], "nothing": nil,
        ] as JSONValue).objectValue!

    func eval(_ text: String) throws -> JSONValue { try FEELExpression(text).evaluate(in: context) }

    @Test(arguments: ["amount > 1000", "=amount > 1000", "${amount > 1000}", "  = amount > 1000 ", "#{amount > 1000}"])
    func threeSpellingsAgree(text: String) throws {
        #expect(try FEELExpression(text).evaluateCondition(in: context) == true)
    }

    @Test func juelOperatorsOnlyInsideDollarBraces() throws {
        #expect(try eval("${amount == 1500 && vip || !vip}") == true)
        #expect(try eval("${!(amount < 10)}") == true)
        #expect(try eval("${amount gt 10 and not vip}") == false)
        for text in ["amount == 1500", "vip && true", "vip || false", "!vip"] {
            #expect(throws: ExpressionError.self) { try FEELExpression(text) }
        }
        #expect(throws: ExpressionError.self) { try FEELExpression("${amount = 1500}") }
    }

    /// What Camunda 8 connector templates write: contexts, lists, if-then-else, string() and
    /// the connector functions.
    @Test func contextsListsAndConditionals() throws {
        #expect(
            try eval(
                #"{orderId: name, "X-Amount": string(amount), nested: {city: customer.address.city}, "a b": [1, "два"]}"#
            )
                == ["orderId": "Иван", "X-Amount": "1500", "nested": ["city": "Москва"], "a b": [1, "два"]])
        #expect(try eval("{}") == .object(JSONObject()))
        #expect(try eval("[]") == [])
        #expect(try eval("[amount, [vip]]") == [1500, [true]])
        #expect(try eval(#"if amount > 1000 then "big" else "small""#) == "big")
        #expect(try eval(#"if nothing then 1 else 2"#) == 2)
        #expect(try eval(#"if vip then if amount < 10 then "a" else "b" else "c""#) == "b")
        #expect(try eval("string(vip) + string(1.5) + string(nothing = null)") == "true1.5true")
        #expect(
            try eval(#"bpmnError("not-found", "no " + name)"#) == [
                "errorType": "bpmnError", "code": "not-found", "message": "no Иван",
            ])
        #expect(try eval(#"jobError("retry")"#) == ["errorType": "jobError", "message": "retry"])
        for (text, message) in [
            ("{a: 1, a: 2}", "the key 'a' appears twice"), ("{a 1}", "expected ':' after key 'a', found number 1"),
            ("[1, 2", "expected ',' or ']', found end of expression"),
            ("if vip then 1", "expected 'else', found end of expression"),
            ("{a: 1", "expected ',' or '}', found end of expression"),
        ] {
            do {
                _ = try FEELExpression(text)
                Issue.record("\(text) was read")
            } catch {
                #expect(error.message == message, "\(text)")
            }
        }
        // Nesting is bounded as everywhere.
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: ExpressionError.self) { try FEELExpression(deep) }
    }

    @Test func comparisonsArithmeticAndLogic() throws {
        #expect(try eval("amount = 1500") == true)
        #expect(try eval("amount != 1500") == false)
        #expect(try eval("amount >= 1500 and amount <= 1500") == true)
        #expect(try eval("(amount + 500) * 2 / 4 - 1") == 999)
        #expect(try eval("-amount < 0") == true)
        #expect(try eval("name = \"Иван\" or false") == true)
        #expect(try eval("'a' + 'b'") == "ab")
        #expect(try eval("not(vip)") == false)
        #expect(try eval("nothing = null") == true)
        #expect(try eval("amount = null") == false)
        #expect(try eval("customer.address.city = \"Москва\"") == true)
    }

    @Test func builtins() throws {
        #expect(try eval("string length(name)") == 4)
        #expect(try eval("decimal(1500 * 0.02, 2)") == 30)
        #expect(try eval("decimal(2.5, 0)") == 2)
        #expect(try eval("decimal(3.5, 0)") == 4)
        #expect(try eval("contains(name, \"ва\")") == true)
        #expect(try eval("contains(tags, \"b\")") == true)
        #expect(try eval("starts with(customer.tier, \"go\")") == true)
        #expect(try eval("ends with(customer.tier, \"ld\")") == true)
        #expect(try eval("upper case(name)") == "ИВАН")
        #expect(try eval("lower case(\"ABC\")") == "abc")
    }

    @Test func evaluationFailuresAreErrorsNotFalse() {
        let cases: [(String, String)] = [
            ("missing > 1", "unknown variable 'missing'"),
            ("customer.rank = 1", "'customer' has no field 'rank'"),
            ("amount > \"1000\"", "cannot order number 1500 and string"),
            ("amount = \"1500\"", "cannot compare number 1500 with string"),
            ("amount and true", "'and' needs booleans"),
            ("amount / 0 > 1", "division by zero"),
            ("upper case(amount) = 1", "upper case() needs a string"),
            ("name.first = 1", "'name' is string, it has no field 'first'"),
        ]
        for (text, message) in cases {
            #expect {
                _ = try FEELExpression(text).evaluateCondition(in: context)
            } throws: { error in
                (error as? ExpressionError)?.message.contains(message) == true
            }
        }
    }

    @Test func nonBooleanConditionIsAnError() {
        #expect {
            _ = try FEELExpression("amount + 1").evaluateCondition(in: context)
        } throws: { error in
            (error as? ExpressionError)?.message == "condition gave number 1501, not a boolean"
        }
    }

    @Test func syntaxErrorsPointIntoTheText() {
        let cases: [(String, Int, String)] = [
            ("amount >", 8, "expression ends too early"),
            ("amount > > 1", 9, "expected a value"),
            ("(amount > 1", 11, "expected ')'"),
            ("foo(1)", 0, "unknown function 'foo'"),
            ("contains(\"a\")", 8, "contains() takes 2 arguments, not 1"),
            ("1 < amount < 3", 11, "comparisons cannot be chained"),
            ("= amount == 1", 9, "'==' is not FEEL"),
            ("amount # 1", 7, "unexpected character '#'"),
            ("", 0, "empty expression"),
        ]
        for (text, offset, message) in cases {
            #expect {
                _ = try FEELExpression(text)
            } throws: { error in
                guard let error = error as? ExpressionError else { return false }
                return error.offset == offset && error.message.contains(message)
            }
        }
    }

    @Test func scriptsAssignInOrder() throws {
        let script = try FEELScript("fee = amount * 0.02\n# comment\n\ntotal = amount + fee\nlabel = upper case(name)")
        let changes = try script.run(in: context)
        #expect(changes.keys == ["fee", "total", "label"])
        #expect(changes["total"] == 1530)
        #expect(changes["label"] == "ИВАН")
        #expect(throws: ExpressionError.self) { try FEELScript("just an expression") }
        #expect {
            _ = try FEELScript("a = 1\nb = missing").run(in: context)
        } throws: { ($0 as? ExpressionError)?.message.hasPrefix("script line 2 (b): unknown variable") == true }
    }
}

@Suite struct TemplateTests {
    @Test func parsesVariablesAndDateTimeWithEveryQuoteStyle() throws {
        let template = try Template(
            #"{$base}/orders/{$order.id}?d={DateTime("DD.MM.YYYY")}&x={DateTime('hh:mm', {$created})}&y={DateTime(«D MMMM», {$created}, “ru_RU”)} {"json": 1}"#
        )
        #expect(
            template.segments == [
                .variable(["base"]), .text("/orders/"), .variable(["order", "id"]), .text("?d="),
                .dateTime(format: "DD.MM.YYYY", variable: nil, locale: nil), .text("&x="),
                .dateTime(format: "hh:mm", variable: ["created"], locale: nil), .text("&y="),
                .dateTime(format: "D MMMM", variable: ["created"], locale: "ru_RU"), .text(#" {"json": 1}"#),
            ])
        #expect(template.variables == [["base"], ["order", "id"], ["created"], ["created"]])
    }

    @Test(arguments: [
        "{$}", "{$a b}", "{$open", #"{DateTime("x"}"#, #"{DateTime("x", {$d}, "fr_FR")}"#, "{DateTime(x)}",
    ])
    func refusesBrokenPlaceholders(text: String) {
        #expect(throws: ExpressionError.self) { try Template(text) }
    }

    @Test func dateTimeTokensInEnglishAndRussian() {
        let date = Date(timeIntervalSince1970: 1_767_225_600 + 9 * 3600 + 5 * 60 + 7)  // 2026-01-01 09:05:07 UTC
        let utc = TimeZone(identifier: "UTC")!
        let moscow = TimeZone(identifier: "Europe/Moscow")!
        #expect(DateFormat.format(date, "YYYY-MM-DD hh:mm:ss", timeZone: utc) == "2026-01-01 09:05:07")
        #expect(DateFormat.format(date, "YY M D DDD DDDD", timeZone: utc) == "26 1 1 1 001")
        #expect(DateFormat.format(date, "hh:mm", timeZone: moscow) == "12:05")
        #expect(DateFormat.format(date, "D MMMM YYYY", locale: .ruRU, timeZone: utc) == "1 января 2026")
        #expect(DateFormat.format(date, "MMMM", locale: .ruRU, timeZone: utc) == "январь")
        #expect(DateFormat.format(date, "MMM D, YYYY", locale: .enUS, timeZone: utc) == "Jan 1, 2026")
    }

    @Test func durations() {
        #expect(parseDuration("5") == 5)
        #expect(parseDuration("0.5") == 0.5)
        #expect(parseDuration("PT5S") == 5)
        #expect(parseDuration("PT1M30S") == 90)
        #expect(parseDuration("P1DT1H") == 90000)
        #expect(parseDuration("PT0.5S") == 0.5)
        #expect(parseDuration("soon") == nil)
        #expect(parseDuration("-1") == nil)
        #expect(parseDuration("P") == nil)
    }
}
