import Testing
import Values

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValueAndKeepsKeyOrder() throws {
        let value = try JSONParser.parse(
            #"{"b": 1, "a": [true, false, null, -2.5e1, "x\u0041\n"], "c": {"д": "Привет"}}"#)
        guard case .object(let object) = value else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys == ["b", "a", "c"])
        #expect(object["a"] == [true, false, nil, -25, "xA\n"])
        #expect(object["c"] == ["д": "Привет"])
        #expect(JSONWriter.string(value) == #"{"b":1,"a":[true,false,null,-25,"xA\n"],"c":{"д":"Привет"}}"#)
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == "😀")
    }

    @Test(arguments: [
        ("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, "expected ':'"),
        ("{\"a\": 1,}", 1, 9, "expected a string key"),
        ("[1, 2", 1, 6, "expected ',' or ']'"),
        ("{\"a\": 01}", 1, 7, "leading zeros"),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key"),
        ("\"abc", 1, 1, "unterminated string"),
        ("{\"ключ\": tru}", 1, 10, "expected a JSON value"),
        ("[1] 2", 1, 5, "unexpected content"),
    ])
    func reportsLineAndColumn(text: String, line: Int, column: Int, message: String) {
        #expect {
            _ = try JSONParser.parse(text, file: "ctx.json")
        } throws: { error in
            guard let diagnostic = error as? Diagnostic else { return false }
            return diagnostic.location == SourceLocation(file: "ctx.json", line: line, column: column)
                && diagnostic.message.contains(message)
                && diagnostic.description.hasPrefix("ctx.json:\(line):\(column): error: ")
        }
    }

    @Test func refusesDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: Diagnostic.self) { try JSONParser.parse(deep) }
    }

    @Test func writesIntegersWithoutFractionAndEscapesControls() {
        #expect(JSONWriter.string([3, 0.5, "a\u{1}b"]) == #"[3,0.5,"a\u0001b"]"#)
    }

    /// Where a value of a valid document stands, for messages about what it says.
    @Test func locatesTheValueAtAPath() {
        let text = "\u{FEFF}{\"a\": 1,\n \"ключ\\n\": {\"b\": [10, {\"c\": \"я\"}, 30]},\n \"d\": []}"
        let bytes = Array(text.utf8)
        func at(_ path: [JSONParser.PathStep]) -> String? {
            JSONParser.location(of: path, in: bytes, file: "f.json").map { "\($0.line):\($0.column)" }
        }
        #expect(at([]) == "1:2")
        #expect(at(["a"]) == "1:8")
        #expect(at(["ключ\n", "b", 1, "c"]) == "2:29")
        #expect(at(["ключ\n", "b", 2]) == "2:35")
        // A path beyond the document: the deepest value it reaches.
        #expect(at(["ключ\n", "b", 3]) == "2:18")
        #expect(at(["d", 0]) == "3:7")
        #expect(at(["missing"]) == "1:2")
        // A document cut short is no crash (the BOM counts as a column, as in parse errors).
        #expect(JSONParser.location(of: ["a", 0], in: Array("{\"a\": ".utf8), file: "f") == nil)
        #expect(JSONParser.location(of: ["b"], in: Array("{\"a\": [".utf8), file: "f") == nil)
    }
}
