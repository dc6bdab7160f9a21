/// A JSON value: the type of every context variable.
///
/// Numbers are doubles, as in JavaScript and FEEL; integral values print without a fraction.
/// Objects keep the order their keys were first set in, so a context prints back the way
/// the user wrote it.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The name of the value's type, as messages show it.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "list"
        case .object: "context"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Follows a dotted path (`customer.address.city`) through nested objects.
    public func value(atPath path: some Sequence<Substring>) -> JSONValue? {
        var current = self
        for key in path {
            guard case .object(let object) = current, let next = object[String(key)] else { return nil }
            current = next
        }
        return current
    }
}

/// An insertion-ordered JSON object.
///
/// Keys and values live in two parallel arrays, in the order keys were first set. Small objects
/// (the handful of keys a process context carries) look keys up by scanning, which beats hashing
/// at that size. Past `indexThreshold` keys the object also keeps a hash index of key positions,
/// so that building an object of n keys (a parsed webhook reply, a `--directory` file) costs
/// O(n) and a look-up O(1) on average, however large it grows. Removing a key is O(n), as
/// removing from the middle of an array is; the index goes again once the object is small.
public struct JSONObject: Sendable, Hashable, Sequence {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []
    /// Positions of the keys by hash; `nil` while the object has `indexThreshold` keys or fewer.
    private var index: KeyIndex?

    /// Up to this many keys, look-ups scan the keys; above it, an index is kept.
    public static let indexThreshold = 16

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Whether the object keeps a key index (it has more than `indexThreshold` keys).
    public var isIndexed: Bool { index != nil }

    /// The position of `key` in `keys`, if it is set.
    func position(of key: String) -> Int? {
        if let index { return index.find(key, hash: key.hashValue, in: keys)?.position }
        return keys.firstIndex(of: key)
    }

    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = position(of: key) else { return nil }
            return values[position]
        }
        set {
            if let newValue {
                if let position = appendIfAbsent(key, newValue) { values[position] = newValue }
            } else if index != nil {
                if let (position, slot) = index!.find(key, hash: key.hashValue, in: keys) {
                    remove(at: position, slot: slot)
                }
            } else if let position = keys.firstIndex(of: key) {
                remove(at: position, slot: nil)
            }
        }
    }

    /// Appends `key` with `value` unless the key is set already; returns the position of the key
    /// that is set (and then changes nothing). One hash and one probe per call on a large object.
    mutating func appendIfAbsent(_ key: String, _ value: JSONValue) -> Int? {
        if index != nil {
            if let position = index!.positionOrInsert(key, hash: key.hashValue, in: keys, newPosition: keys.count) {
                return position
            }
            keys.append(key)
            values.append(value)
            return nil
        }
        if let position = keys.firstIndex(of: key) { return position }
        if keys.count == keys.capacity {
            // Grow to at least 8 at once: an object built key by key (a process context) would
            // otherwise reallocate both arrays at 1, 2 and 4 keys.
            let capacity = Swift.max(8, keys.count * 2)
            keys.reserveCapacity(capacity)
            values.reserveCapacity(capacity)
        }
        keys.append(key)
        values.append(value)
        if keys.count > JSONObject.indexThreshold { index = KeyIndex(keys) }
        return nil
    }

    /// Replaces the value of the last key (the parser appends a key before it reads its value).
    mutating func setLastValue(_ value: JSONValue) {
        values[values.count - 1] = value
    }

    private mutating func remove(at position: Int, slot: Int?) {
        keys.remove(at: position)
        values.remove(at: position)
        guard index != nil, let slot else { return }
        if keys.count <= JSONObject.indexThreshold {
            index = nil
        } else {
            index!.remove(slot: slot, position: position)
        }
    }

    /// Sets the value at a path of keys (`["customer", "city"]`), making the objects on the way
    /// (a value on the way that is not an object is replaced by one).
    public mutating func set(_ value: JSONValue, atPath path: ArraySlice<String>) {
        guard let key = path.first else { return }
        if path.count == 1 {
            self[key] = value
            return
        }
        var inner = self[key]?.objectValue ?? JSONObject()
        inner.set(value, atPath: path.dropFirst())
        self[key] = .object(inner)
    }

    /// Sets every key of `other`, overwriting existing ones (a shallow merge).
    public mutating func merge(_ other: JSONObject) {
        for (key, value) in other { self[key] = value }
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: JSONValue)> {
        zip(keys, values).lazy.map { (key: $0, value: $1) }.makeIterator()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs where rhs[key] != value { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for (key, value) in zip(keys, values).sorted(by: { $0.0 < $1.0 }) {
            hasher.combine(key)
            hasher.combine(value)
        }
    }
}

/// An open-addressing hash table (linear probing, at most half full) from keys to their
/// positions in a `JSONObject`'s key array. Each slot packs the upper 32 bits of the key's hash
/// with its position + 1 (0: empty), so growing the table never hashes a key again and a probe
/// compares strings only when the hash bits agree. Swift's `Hasher` is seeded per process, so
/// input cannot be crafted to collide.
struct KeyIndex: Sendable {
    private var slots: [UInt64]

    init(_ keys: [String]) {
        slots = [UInt64](repeating: 0, count: KeyIndex.capacity(for: keys.count))
        for (position, key) in keys.enumerated() { place(KeyIndex.tag(key.hashValue), position) }
    }

    private static func capacity(for count: Int) -> Int {
        var size = 64
        while size < count * 2 { size *= 2 }
        return size
    }

    private static func tag(_ hash: Int) -> UInt64 { UInt64(bitPattern: Int64(hash)) >> 32 }

    private var mask: Int { slots.count - 1 }

    /// The key's position and the slot that holds it.
    func find(_ key: String, hash: Int, in keys: [String]) -> (position: Int, slot: Int)? {
        let tag = KeyIndex.tag(hash)
        var slot = Int(truncatingIfNeeded: tag) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if entry >> 32 == tag {
                let position = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if keys[position] == key { return (position, slot) }
            }
            slot = (slot + 1) & mask
        }
    }

    /// The position of `key` if the table has it; otherwise records the key at `newPosition`
    /// (the caller appends it there) and returns nil.
    mutating func positionOrInsert(_ key: String, hash: Int, in keys: [String], newPosition: Int) -> Int? {
        precondition(newPosition < Int(UInt32.max), "a JSON object of more than 4 billion keys")
        if (newPosition + 1) * 2 > slots.count {
            let old = slots
            slots = [UInt64](repeating: 0, count: slots.count * 2)
            for entry in old where entry != 0 {
                place(entry >> 32, Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1)
            }
        }
        let tag = KeyIndex.tag(hash)
        var slot = Int(truncatingIfNeeded: tag) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 {
                slots[slot] = tag << 32 | UInt64(newPosition + 1)
                return nil
            }
            if entry >> 32 == tag {
                let position = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if keys[position] == key { return position }
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func place(_ tag: UInt64, _ position: Int) {
        var slot = Int(truncatingIfNeeded: tag) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = tag << 32 | UInt64(position + 1)
    }

    /// Forgets the key in `slot`, which was at `position`; the keys after it move down by one.
    mutating func remove(slot: Int, position: Int) {
        // Backward-shift deletion keeps every probe sequence unbroken without tombstones.
        var hole = slot
        var next = slot
        while true {
            next = (next + 1) & mask
            let entry = slots[next]
            if entry == 0 { break }
            let home = Int(truncatingIfNeeded: entry >> 32) & mask
            // The entry may move into the hole unless its home lies cyclically in (hole, next].
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if !stays {
                slots[hole] = entry
                hole = next
            }
        }
        slots[hole] = 0
        let removed = UInt64(position + 1)
        for i in slots.indices where slots[i] & 0xFFFF_FFFF > removed { slots[i] -= 1 }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode(TaggedObject.self).object)
        }
    }

    /// Objects are tagged so that their ordered list of pairs is not read back as a list.
    private struct TaggedObject: Codable {
        var object: JSONObject
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n): try container.encode(n)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(TaggedObject(object: o))
        }
    }
}

/// Encoded as a list of `[key, value]` pairs, so that key order survives a round trip.
extension JSONObject: Codable {
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init()
        while !container.isAtEnd {
            var pair = try container.nestedUnkeyedContainer()
            let key = try pair.decode(String.self)
            self[key] = try pair.decode(JSONValue.self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for (key, value) in self {
            var pair = container.nestedUnkeyedContainer()
            try pair.encode(key)
            try pair.encode(value)
        }
    }
}
