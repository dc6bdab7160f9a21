import Expressions
import Foundation
import Testing
import Values

/// Hostile expressions: flat chains of any length are read and evaluated by loops, and nesting
/// deeper than `FEELExpression.nestingLimit` is refused, never recursed into until the stack
/// overflows. (Before the limit, each of these crashed the process with SIGSEGV.)
@Suite struct NestingTests {
    static let limit = FEELExpression.nestingLimit
    static let message = "expression nested too deeply (limit \(FEELExpression.nestingLimit))"

    func isTooDeep(_ error: any Error, at offset: Int? = nil) -> Bool {
        guard let error = error as? ExpressionError else { return false }
        return error.isNestedTooDeeply && error.message == Self.message && (offset == nil || error.offset == offset)
    }

    @Test func aFlatChainOf100000TermsIsOneLevel() throws {
        let terms = 100_000
        let minus = try FEELExpression(Array(repeating: "1", count: terms).joined(separator: " - "))
        #expect(try minus.evaluate(in: [:]) == .number(Double(2 - terms)))
        let mixed = try FEELExpression((0..<terms).map { $0 % 2 == 0 ? "2" : "1" }.joined(separator: " * ") + " / 2")
        #expect(try mixed.evaluate(in: [:]) == .number(pow(2, Double(terms / 2 - 1))))
        let sum = try FEELExpression("=" + Array(repeating: "x", count: terms).joined(separator: " + ") + " > 0")
        #expect(try sum.evaluateCondition(in: ["x": 1]))
        let and = try FEELExpression(Array(repeating: "yes", count: terms).joined(separator: " and "))
        #expect(try and.evaluateCondition(in: ["yes": true]))
        let or = try FEELExpression("${" + Array(repeating: "no", count: terms).joined(separator: " || ") + " || yes}")
        #expect(try or.evaluateCondition(in: ["no": false, "yes": true]))
    }

    @Test func chainsStillShortCircuitAndReportTypeErrors() throws {
        // `missing` is never read: the chain stops at the first false / true, as nested and/or would.
        #expect(
            try FEELExpression("yes and no and missing").evaluateCondition(in: ["yes": true, "no": false]) == false)
        #expect(try FEELExpression("no or yes or missing").evaluateCondition(in: ["yes": true, "no": false]) == true)
        #expect(try FEELExpression("10 - 2 - 3 + 1").evaluate(in: [:]) == 6)
        #expect(try FEELExpression("2 * 3 / 4 * 2").evaluate(in: [:]) == 3)
        #expect(try FEELExpression("1 + 2 * 3 - 4 / 2 = 5 and 1 < 2 or false").evaluateCondition(in: [:]))
        #expect(try FEELExpression("\"a\" + \"b\" + \"c\"").evaluate(in: [:]) == "abc")
        #expect { try FEELExpression("yes and 1 and yes").evaluate(in: ["yes": true]) } throws: {
            ($0 as? ExpressionError)?.message == "'and' needs booleans, got number 1"
        }
        #expect { try FEELExpression("1 - 1 - \"x\"").evaluate(in: [:]) } throws: {
            ($0 as? ExpressionError)?.message == "'-' needs numbers, got number and string"
        }
    }

    @Test func aLongFieldPathIsReadByALoop() throws {
        let path = Array(repeating: "a", count: 100_000).joined(separator: ".")
        let expression = try FEELExpression(path + " = 1")
        #expect { try expression.evaluate(in: ["a": ["a": 5]]) } throws: {
            ($0 as? ExpressionError)?.message == "'a.a' is number, it has no field 'a'"
        }
        #expect(
            try FEELExpression("customer.address.city").evaluate(in: ["customer": ["address": ["city": "Москва"]]])
                == "Москва")
        #expect {
            try FEELExpression("customer.address.zip").evaluate(in: ["customer": ["address": ["city": "Москва"]]])
        } throws: {
            ($0 as? ExpressionError)?.message == "'customer.address' has no field 'zip'"
        }
    }

    @Test(arguments: [
        // (text, the offset of the first token past the limit)
        (String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000), limit),
        (String(repeating: "-", count: 100_000) + "1", limit),
        (String(repeating: "- ", count: 100_000) + "1", limit * 2),
        ("${" + String(repeating: "!", count: 100_000) + "true}", limit + 2),
        ("${" + String(repeating: "not ", count: 100_000) + "true}", 2 + 4 * limit),
        (String(repeating: "not(", count: 10_000) + "true" + String(repeating: ")", count: 10_000), 4 * limit + 3),
        (
            String(repeating: "string length(", count: 10_000) + "\"\"" + String(repeating: ")", count: 10_000),
            14 * limit + 13
        ),
        // Each method call wraps the calls before it; the 65th one's '(' is past the limit.
        ("${s" + String(repeating: ".toUpperCase()", count: 100_000) + "}", 3 + 14 * limit + 12),
    ])
    func nestingPastTheLimitIsRefused(text: String, offset: Int) {
        #expect { try FEELExpression(text) } throws: { isTooDeep($0, at: offset) }
    }

    @Test func theLimitItselfIsAccepted() throws {
        let limit = Self.limit
        let parens = String(repeating: "(", count: limit) + "1" + String(repeating: ")", count: limit)
        #expect(try FEELExpression(parens).evaluate(in: [:]) == 1)
        #expect { try FEELExpression("(" + parens + ")") } throws: { isTooDeep($0, at: limit) }
        #expect(try FEELExpression(String(repeating: "-", count: limit) + "1").evaluate(in: [:]) == 1)
        #expect { try FEELExpression(String(repeating: "-", count: limit + 1) + "1") } throws: {
            isTooDeep($0, at: limit)
        }
        let calls = String(repeating: "not(", count: limit) + "true" + String(repeating: ")", count: limit)
        #expect(try FEELExpression(calls).evaluateCondition(in: [:]))
        let methods = "${s" + String(repeating: ".toUpperCase()", count: limit) + "}"
        #expect(try FEELExpression(methods).evaluate(in: ["s": "a"]) == "A")
        #expect { try FEELExpression("${s.toUpperCase()" + methods.dropFirst(3)) } throws: { isTooDeep($0) }
    }

    @Test func aScriptLineNestedTooDeeplyIsRefusedWithItsLine() {
        let deep = String(repeating: "(", count: 1000) + "1" + String(repeating: ")", count: 1000)
        #expect { try FEELScript("a = 1\nb = \(deep)") } throws: { error in
            guard let error = error as? ExpressionError else { return false }
            return error.isNestedTooDeeply && error.message == "script line 2: \(Self.message)"
        }
        #expect { try FEELScript("a = 1\nb = a +\(String(repeating: "-", count: 100_000))1") } throws: { error in
            (error as? ExpressionError)?.isNestedTooDeeply == true
        }
        // A flat chain in a script is fine.
        #expect(throws: Never.self) {
            try FEELScript("a = 0\nb = " + Array(repeating: "a", count: 50_000).joined(separator: " + "))
        }
    }

    /// The syntax tree is never deeper than the limit: each operator chain, unary operator,
    /// call and field read from a computed value is a level, as is each parenthesis.
    @Test func operatorsInsideParenthesesCountToo() throws {
        let limit = Self.limit
        // Each `(1 + …)` is two levels: the parenthesis and the sum inside it.
        let sums = String(repeating: "(1 + ", count: limit / 2) + "1" + String(repeating: ")", count: limit / 2)
        #expect(try FEELExpression(sums).evaluate(in: [:]) == .number(Double(limit / 2 + 1)))
        // The 33rd `(` (at offset 5 × 32) would be level 65.
        #expect { try FEELExpression("(1 + " + sums + ")") } throws: { isTooDeep($0, at: 5 * (limit / 2)) }
        // Reading a field from a computed value is a level; a variable's path is not.
        let computed =
            String(repeating: "(", count: limit - 1) + "not(true).a" + String(repeating: ")", count: limit - 1)
        #expect { try FEELExpression(computed).evaluate(in: [:]) } throws: {
            ($0 as? ExpressionError)?.message == "'value' is boolean, it has no field 'a'"
        }
        #expect { try FEELExpression("(" + computed + ")") } throws: { isTooDeep($0) }
        let path = String(repeating: "(", count: limit) + "c" + String(repeating: ").a", count: limit)
        var nested: JSONValue = 7
        for _ in 0..<limit { nested = ["a": nested] }
        #expect(try FEELExpression(path).evaluate(in: ["c": nested]) == 7)
    }

    /// The deepest expressions the parser accepts, in every shape that stacks nodes, are parsed,
    /// evaluated and destroyed on a thread with a small stack: 512 KiB (a secondary thread's on
    /// macOS; Linux gives every thread 8 MiB) when optimized, 2 MiB in a debug build, whose
    /// frames are several times larger.
    @Test func theDeepestAcceptedExpressionsFitInASmallStack() throws {
        let limit = Self.limit
        // Every precedence level inside each parenthesis: or, and, comparison, sum, product.
        let everyLevel =
            String(repeating: "(false or true and 1 = 1 + 2 * ", count: limit / 6) + "x"
            + String(repeating: ")", count: limit / 6)
        let fields = String(repeating: "(", count: limit / 2) + "c" + String(repeating: ").a", count: limit / 2)
        let unary = String(repeating: "-(", count: limit / 2) + "x" + String(repeating: ")", count: limit / 2)
        let methods = "${s" + String(repeating: ".toUpperCase()", count: limit) + "}"
        let calls = String(repeating: "not(", count: limit - 1) + "x = 1" + String(repeating: ")", count: limit - 1)
        let texts = [everyLevel, fields, unary, methods, calls]
        let results = Results()
        let thread = Thread {
            for text in texts {
                do {
                    let expression = try FEELExpression(text)
                    let value = try? expression.evaluate(in: ["x": 1, "s": "a", "c": ["a": ["a": 1]]])
                    results.append(value.map { JSONWriter.string($0) } ?? "evaluation error")
                } catch {
                    results.append("error: \(error)")
                }
            }
            results.finish()
        }
        #if DEBUG
            thread.stackSize = 2 << 20
        #else
            thread.stackSize = 512 << 10
        #endif
        thread.start()
        results.wait()
        #expect(
            results.values == [
                "evaluation error",  // `2 * (…)` multiplies by a boolean, found after recursing to the bottom
                "evaluation error",  // `c.a.a` is 1, which has no field `a`
                (limit / 2) % 2 == 0 ? "1" : "-1",
                "\"A\"",
                (limit - 1) % 2 == 0 ? "true" : "false",
            ])
    }
}

/// Results handed from a thread to the test.
final class Results: @unchecked Sendable {
    private let lock = NSCondition()
    private var items: [String] = []
    private var done = false

    func append(_ item: String) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    func finish() {
        lock.lock()
        done = true
        lock.broadcast()
        lock.unlock()
    }

    func wait() {
        lock.lock()
        while !done { lock.wait() }
        lock.unlock()
    }

    var values: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
