import Foundation
import Testing
import Values

/// Objects keep insertion order at every size, and building one is linear: past
/// `JSONObject.indexThreshold` keys the object keeps a hash index of its keys.
@Suite struct JSONObjectTests {
    /// `{"key0":"value 0","key1":1,…}`: strings and numbers in turn.
    static func bigObjectText(keys: Int, extra: String = "") -> String {
        var text = "{"
        text.reserveCapacity(keys * 24)
        for i in 0..<keys {
            if i > 0 { text += ",\n" }
            text += i % 2 == 0 ? "\"key\(i)\":\"value \(i)\"" : "\"key\(i)\":\(i)"
        }
        return text + extra + "}"
    }

    // Before the index, each key was looked up by scanning every key before it: parsing this
    // object took tens of seconds (and 1,000,000 keys did not finish). Not timed here; it
    // finishes in well under a second now.
    @Test func parsesAnObjectOf200000KeysInOrder() throws {
        let count = 200_000
        let value = try JSONParser.parse(Self.bigObjectText(keys: count), file: "big.json")
        let object = try #require(value.objectValue)
        #expect(object.count == count)
        #expect(object.isIndexed)
        #expect(object.keys == (0..<count).map { "key\($0)" })
        for (i, (key, value)) in object.enumerated() {
            guard key == "key\(i)", value == (i % 2 == 0 ? .string("value \(i)") : .number(Double(i))) else {
                Issue.record("pair \(i) is \(key): \(value)")
                break
            }
        }
        for i in stride(from: 0, to: count, by: 997) {
            #expect(object["key\(i)"] == (i % 2 == 0 ? .string("value \(i)") : .number(Double(i))))
        }
        #expect(object["key\(count)"] == nil)
        #expect(object["key"] == nil)
    }

    @Test(arguments: [0, 17, 199_999])
    func findsADuplicateKeyInA200000KeyObject(duplicateOf index: Int) {
        let count = 200_000
        let text = Self.bigObjectText(keys: count, extra: ",\n\"key\(index)\":true")
        #expect {
            _ = try JSONParser.parse(text, file: "big.json")
        } throws: { error in
            guard let diagnostic = error as? Diagnostic else { return false }
            // Each pair is on a line of its own; the duplicate is on the line after the last one.
            return diagnostic.description == "big.json:\(count + 1):1: error: duplicate key \"key\(index)\""
        }
    }

    /// Sets, overwrites and removes keys of objects that grow past the index threshold and
    /// shrink back under it, and checks every look-up and the order against a plain list.
    @Test(arguments: [5, 16, 17, 40, 300])
    func setAndRemoveKeepOrderAcrossTheThreshold(size: Int) {
        var object = JSONObject()
        var model: [(key: String, value: JSONValue)] = []
        func check(_ step: String) {
            #expect(object.keys == model.map(\.key), "\(step): order")
            #expect(object.values == model.map(\.value), "\(step): values")
            #expect(object.isIndexed == (model.count > JSONObject.indexThreshold), "\(step): index")
            for i in 0..<(size + 2) {
                let key = "k\(i)"
                #expect(object[key] == model.first { $0.key == key }?.value, "\(step): \(key)")
            }
        }
        func set(_ key: String, _ value: JSONValue?) {
            object[key] = value
            if let i = model.firstIndex(where: { $0.key == key }) {
                if let value { model[i].value = value } else { model.remove(at: i) }
            } else if let value {
                model.append((key, value))
            }
        }
        for i in 0..<size { set("k\(i)", .number(Double(i))) }
        check("filled")
        // Overwriting keeps a key where it was.
        for i in stride(from: 0, to: size, by: 3) { set("k\(i)", .string("new \(i)")) }
        check("overwritten")
        // Removing from the middle, the front and the end, down below the threshold.
        var order = Array(0..<size)
        order.sort { ($0 * 7919) % (size + 1) < ($1 * 7919) % (size + 1) }
        for (n, i) in order.enumerated() {
            set("k\(i)", nil)
            if n % 5 == 0 || object.count == JSONObject.indexThreshold || object.count == JSONObject.indexThreshold + 1
            {
                check("removed \(n + 1)")
            }
        }
        #expect(object.isEmpty)
        // A key removed and set again goes to the end.
        for i in 0..<size { set("k\(i)", .number(Double(i))) }
        set("k0", nil)
        set("k0", "back")
        check("refilled")
        #expect(object.keys.last == "k0")
        set("missing", nil)
        check("removing a missing key")
    }

    @Test func equalityAndHashIgnoreOrderAndIndex() {
        let pairs = (0..<40).map { ("k\($0)", JSONValue.number(Double($0))) }
        let forward = JSONObject(pairs)
        var backward = JSONObject(pairs.reversed())
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        #expect(Set([JSONValue.object(forward), .object(backward)]).count == 1)
        backward["k3"] = 4
        #expect(forward != backward)
        // Shrunk to a small object (no index) and built small: still equal.
        var shrunk = forward
        for i in 3..<40 { shrunk["k\(i)"] = nil }
        #expect(!shrunk.isIndexed)
        #expect(shrunk == ["k0": 0, "k1": 1, "k2": 2])
        #expect(shrunk.hashValue == (["k2": 2, "k1": 1, "k0": 0] as JSONObject).hashValue)
    }

    @Test func codableRoundTripKeepsTheOrderOfALargeObject() throws {
        let object = JSONObject((0..<50_000).map { ("k\(49_999 - $0)", JSONValue.number(Double($0))) })
        let data = try JSONEncoder().encode(JSONValue.object(object))
        let decoded = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(decoded.objectValue?.keys == object.keys)
        #expect(decoded == .object(object))
    }

    @Test func stringsAreCheckedForWellFormedUTF8() throws {
        #expect(try JSONParser.parse(Array(#""Привет, 😀 €""#.utf8)) == "Привет, 😀 €")
        let malformed: [[UInt8]] = [
            [0xC0, 0xAF],  // overlong '/'
            [0xE0, 0x80, 0xAF],  // overlong
            [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
            [0xD0],  // cut short
            [0xFF],
        ]
        for bytes in malformed {
            #expect {
                _ = try JSONParser.parse([UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")], file: "bad.json")
            } throws: { ($0 as? Diagnostic)?.description == "bad.json:1:1: error: string is not valid UTF-8" }
        }
    }

    @Test func numbersReadTheSameOnTheFastPath() throws {
        let text = "[0, -0, 7, -42, 123456789012345, 9007199254740993, 1.5, -2e3, 10E-1]"
        let expected: [Double] = [0, -0.0, 7, -42, 123_456_789_012_345, 9_007_199_254_740_992, 1.5, -2000, 1]
        let numbers = try #require(try JSONParser.parse(text).arrayValue)
        #expect(numbers == expected.map(JSONValue.number))
        guard case .number(let negativeZero) = numbers[1] else {
            Issue.record("not a number")
            return
        }
        #expect(negativeZero.sign == .minus)
    }
}
