import Expressions
import Values

/// Users, groups and the org structure (`--directory org.json`):
/// `{"users": [{"id", "name", "email"?, "locale"?}], "groups": {"Name": ["user id", …]},
///   "orgUnits": [{"name", "members": [...], "children": [...]}]}`.
public struct Directory: Sendable {
    public struct User: Sendable, Hashable {
        public var id: String
        public var name: String
        public var email: String?
        /// The language notifications reach this person in: "ru", "ru_RU", "en", "en_US", …
        /// (nil: Russian).
        public var locale: String?

        public init(id: String, name: String, email: String? = nil, locale: String? = nil) {
            self.id = id
            self.name = name
            self.email = email
            self.locale = locale
        }
    }

    public struct OrgUnit: Sendable {
        public var name: String
        public var members: [String]
        public var children: [OrgUnit]
    }

    public var users: [User] = []
    public var groups: [(name: String, members: [String])] = []
    public var orgUnits: [OrgUnit] = []
    /// The JSON this directory was read from (what a store keeps with the instance).
    public private(set) var source: JSONValue?

    public init() {}

    /// Reads the directory format; errors name the file and the offending entry.
    public init(json: JSONValue, file: String) throws(Diagnostic) {
        source = json
        func fail(_ message: String) -> Diagnostic {
            .error(at: SourceLocation(file: file, line: 1, column: 1), message)
        }
        guard case .object(let root) = json else {
            throw fail("the directory must be a JSON object with users, groups and orgUnits")
        }
        for key in root.keys where !["users", "groups", "orgUnits"].contains(key) {
            throw fail("unknown key \"\(key)\" in the directory (known: users, groups, orgUnits)")
        }
        if let users = root["users"] {
            guard case .array(let list) = users else { throw fail("\"users\" must be a list") }
            for (i, entry) in list.enumerated() {
                guard case .object(let user) = entry, case .string(let id)? = user["id"] else {
                    throw fail("users[\(i)] needs a string \"id\"")
                }
                var locale: String?
                if let value = user["locale"] {
                    guard case .string(let text) = value, NotificationText.Language(locale: text) != nil else {
                        throw fail(
                            "users[\(i)].locale must be a language such as \"ru\", \"ru_RU\", \"en\" or \"en_US\"")
                    }
                    locale = text
                }
                self.users.append(
                    User(
                        id: id, name: user["name"]?.stringValue ?? id, email: user["email"]?.stringValue, locale: locale
                    ))
            }
        }
        if let groups = root["groups"] {
            guard case .object(let map) = groups else {
                throw fail("\"groups\" must be an object of group name → list of user ids")
            }
            for (name, members) in map {
                guard case .array(let list) = members, list.allSatisfy({ $0.stringValue != nil }) else {
                    throw fail("group \"\(name)\" must be a list of user ids")
                }
                self.groups.append((name, list.compactMap(\.stringValue)))
            }
        }
        func unit(_ value: JSONValue, _ path: String) throws(Diagnostic) -> OrgUnit {
            guard case .object(let object) = value, case .string(let name)? = object["name"] else {
                throw fail("\(path) needs a string \"name\"")
            }
            var members: [String] = []
            if let list = object["members"] {
                guard case .array(let items) = list, items.allSatisfy({ $0.stringValue != nil }) else {
                    throw fail("\(path).members must be a list of user ids")
                }
                members = items.compactMap(\.stringValue)
            }
            var children: [OrgUnit] = []
            if let list = object["children"] {
                guard case .array(let items) = list else { throw fail("\(path).children must be a list") }
                for (i, item) in items.enumerated() { children.append(try unit(item, "\(path).children[\(i)]")) }
            }
            return OrgUnit(name: name, members: members, children: children)
        }
        if let units = root["orgUnits"] {
            guard case .array(let items) = units else { throw fail("\"orgUnits\" must be a list") }
            for (i, item) in items.enumerated() { orgUnits.append(try unit(item, "orgUnits[\(i)]")) }
        }
    }

    public func user(_ id: String) -> User? { users.first { $0.id == id } }

    public func group(_ name: String) -> [String]? { groups.first { $0.name == name }?.members }

    /// Members of the org unit named `name` and of every unit below it, head unit first.
    public func orgUnit(_ name: String) -> [String]? {
        func find(_ units: [OrgUnit]) -> OrgUnit? {
            for unit in units {
                if unit.name == name { return unit }
                if let found = find(unit.children) { return found }
            }
            return nil
        }
        guard let unit = find(orgUnits) else { return nil }
        var result: [String] = []
        func collect(_ unit: OrgUnit) {
            for member in unit.members where !result.contains(member) { result.append(member) }
            for child in unit.children { collect(child) }
        }
        collect(unit)
        return result
    }
}

extension Directory {
    /// Resolves recipients to user ids, each once, in the order configured.
    public func users(for recipients: [ResolvedRecipient]) -> [String] {
        var users: [String] = []
        for recipient in recipients {
            let ids: [String]
            switch recipient {
            case .user(let id): ids = [id]
            case .group(let name): ids = group(name) ?? []
            case .orgUnit(let name): ids = orgUnit(name) ?? []
            }
            for id in ids where !users.contains(id) { users.append(id) }
        }
        return users
    }
}
