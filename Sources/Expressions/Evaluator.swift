import Foundation
import Values

/// Evaluates expression trees. Every failure is an error, never a silent `false`: an unknown
/// variable, a missing field, a type mismatch, a division by zero.
struct Evaluator {
    let context: JSONObject
    /// FEEL's own rule, as Camunda's connectors evaluate: an unknown variable, a missing field
    /// and a field of something that is not a context are `null`, not errors (conditions keep
    /// procrun's stricter rule).
    var nullForMissing = false

    /// Recurses only into nested nodes: an operator chain is folded by a loop, a field path is
    /// followed by a loop, so the recursion is as deep as the parser's nesting limit allows.
    func evaluate(_ node: ExpressionNode) throws(ExpressionError) -> JSONValue {
        switch node {
        case .literal(let value):
            return value
        case .variable(let path):
            guard let value = context[path[0]] else {
                if nullForMissing { return .null }
                throw ExpressionError("unknown variable '\(path[0])'")
            }
            return try follow(path.dropFirst(), from: value, named: path[..<1])
        case .member(let base, let fields):
            return try follow(fields[...], from: try evaluate(base), named: nil)
        case .negate(let operand):
            let value = try evaluate(operand)
            guard case .number(let n) = value else { throw ExpressionError("cannot negate \(value.typeName)") }
            return .number(-n)
        case .binary(let op, let lhs, let rhs):
            return try combine(try evaluate(lhs), op, rhs)
        case .chain(let first, let rest):
            var result = try evaluate(first)
            for (op, operand) in rest { result = try combine(result, op, operand) }
            return result
        case .call(let builtin, let arguments):
            return try call(builtin, arguments)
        case .context(let entries):
            var object = JSONObject()
            for (key, value) in entries { object[key] = try evaluate(value) }
            return .object(object)
        case .list(let items):
            var values: [JSONValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item)) }
            return .array(values)
        case .ifThenElse(let condition, let then, let otherwise):
            return try evaluate(try evaluate(condition) == .bool(true) ? then : otherwise)
        }
    }

    /// Reads `fields` in turn. `named` is the path that led to `value` (nil: a computed value);
    /// it is joined into a message only when a field is missing.
    private func follow(_ fields: ArraySlice<String>, from value: JSONValue, named: ArraySlice<String>?)
        throws(ExpressionError) -> JSONValue
    {
        var value = value
        for index in fields.indices {
            let field = fields[index]
            func path() -> String {
                guard let named else { return "value" }
                return (named + fields[fields.startIndex..<index]).joined(separator: ".")
            }
            guard case .object(let object) = value else {
                if nullForMissing { return .null }
                throw ExpressionError("'\(path())' is \(value.typeName), it has no field '\(field)'")
            }
            guard let next = object[field] else {
                if nullForMissing { return .null }
                throw ExpressionError("'\(path())' has no field '\(field)'")
            }
            value = next
        }
        return value
    }

    private func truth(_ value: JSONValue, for op: String) throws(ExpressionError) -> Bool {
        guard case .bool(let b) = value else {
            throw ExpressionError("'\(op)' needs booleans, got \(value.typeName) \(JSONWriter.string(value))")
        }
        return b
    }

    /// `left op right`, the way a chain applies each of its operators in turn: `and` and `or`
    /// do not evaluate their right operand once the result is known.
    private func combine(_ left: JSONValue, _ op: BinaryOperator, _ right: ExpressionNode) throws(ExpressionError)
        -> JSONValue
    {
        switch op {
        case .and: .bool(try truth(left, for: "and") ? try truth(try evaluate(right), for: "and") : false)
        case .or: .bool(try truth(left, for: "or") ? true : try truth(try evaluate(right), for: "or"))
        default: try apply(op, left, try evaluate(right))
        }
    }

    private func apply(_ op: BinaryOperator, _ left: JSONValue, _ right: JSONValue) throws(ExpressionError) -> JSONValue
    {
        switch op {
        case .equal, .notEqual:
            let equal: Bool
            switch (left, right) {
            case (.null, _), (_, .null): equal = left == right
            case (.number, .number), (.string, .string), (.bool, .bool), (.array, .array), (.object, .object):
                equal = left == right
            default:
                throw ExpressionError(
                    "cannot compare \(left.typeName) \(JSONWriter.string(left)) with \(right.typeName) \(JSONWriter.string(right))"
                )
            }
            return .bool(op == .equal ? equal : !equal)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: Int
            switch (left, right) {
            case (.number(let a), .number(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
            case (.string(let a), .string(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
            default:
                throw ExpressionError(
                    "cannot order \(left.typeName) \(JSONWriter.string(left)) and \(right.typeName) \(JSONWriter.string(right)) with '\(op.rawValue)'"
                )
            }
            switch op {
            case .less: return .bool(order < 0)
            case .lessOrEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case .add:
            switch (left, right) {
            case (.number(let a), .number(let b)): return .number(a + b)
            case (.string(let a), .string(let b)): return .string(a + b)
            default: throw ExpressionError("cannot add \(left.typeName) and \(right.typeName)")
            }
        case .subtract, .multiply, .divide:
            guard case .number(let a) = left, case .number(let b) = right else {
                throw ExpressionError("'\(op.rawValue)' needs numbers, got \(left.typeName) and \(right.typeName)")
            }
            switch op {
            case .subtract: return .number(a - b)
            case .multiply: return .number(a * b)
            default:
                if b == 0 { throw ExpressionError("division by zero") }
                return .number(a / b)
            }
        case .and, .or:
            fatalError("and/or short-circuit in combine(_:_:_:)")
        }
    }

    private func string(_ node: ExpressionNode, in builtin: Builtin) throws(ExpressionError) -> String {
        let value = try evaluate(node)
        guard case .string(let s) = value else {
            throw ExpressionError(
                "\(builtin.rawValue)() needs a string, got \(value.typeName) \(JSONWriter.string(value))")
        }
        return s
    }

    private func call(_ builtin: Builtin, _ arguments: [ExpressionNode]) throws(ExpressionError) -> JSONValue {
        switch builtin {
        case .not:
            let value = try evaluate(arguments[0])
            guard case .bool(let b) = value else {
                throw ExpressionError("not() needs a boolean, got \(value.typeName) \(JSONWriter.string(value))")
            }
            return .bool(!b)
        case .stringLength:
            return .number(Double(try string(arguments[0], in: builtin).count))
        case .upperCase:
            return .string(try string(arguments[0], in: builtin).uppercased())
        case .lowerCase:
            return .string(try string(arguments[0], in: builtin).lowercased())
        case .contains:
            let haystack = try evaluate(arguments[0])
            if case .array(let items) = haystack { return .bool(items.contains(try evaluate(arguments[1]))) }
            guard case .string(let text) = haystack else {
                throw ExpressionError("contains() needs a string or a list, got \(haystack.typeName)")
            }
            return .bool(text.contains(try string(arguments[1], in: builtin)))
        case .startsWith:
            return .bool(try string(arguments[0], in: builtin).hasPrefix(try string(arguments[1], in: builtin)))
        case .endsWith:
            return .bool(try string(arguments[0], in: builtin).hasSuffix(try string(arguments[1], in: builtin)))
        case .string:
            switch try evaluate(arguments[0]) {
            case .null: return .null
            case .string(let text): return .string(text)
            case .number(let n): return .string(JSONWriter.number(n))
            case .bool(let b): return .string(b ? "true" : "false")
            case let other: return .string(JSONWriter.string(other))
            }
        case .bpmnError:
            return [
                "errorType": "bpmnError", "code": .string(try string(arguments[0], in: builtin)),
                "message": .string(try string(arguments[1], in: builtin)),
            ]
        case .jobError:
            return ["errorType": "jobError", "message": .string(try string(arguments[0], in: builtin))]
        case .decimal:
            let value = try evaluate(arguments[0])
            let scaleValue = try evaluate(arguments[1])
            guard case .number(let n) = value, case .number(let scale) = scaleValue, scale == scale.rounded(),
                abs(scale) <= 15
            else {
                throw ExpressionError(
                    "decimal() needs a number and a whole scale, got \(value.typeName) and \(scaleValue.typeName)")
            }
            let factor = pow(10, scale)
            return .number((n * factor).rounded(.toNearestOrEven) / factor)
        }
    }
}
