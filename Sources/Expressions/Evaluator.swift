import Values
import Foundation

/// Evaluates expression trees. Every failure is an error, never a silent `false`: an unknown
/// variable, a missing field, a type mismatch, a division by zero.
struct Evaluator {
    let context: JSONObject

    func evaluate(_ node: ExpressionNode) throws(ExpressionError) -> JSONValue {
        switch node {
        case .literal(let value):
            return value
        case .variable(let path):
            guard var value = context[path[0]] else { throw ExpressionError("unknown variable '\(path[0])'") }
            for (i, field) in path.enumerated().dropFirst() {
                value = try member(value, field, describing: path[..<i].joined(separator: "."))
            }
            return value
        case .member(let base, let field):
            return try member(try evaluate(base), field, describing: "value")
        case .negate(let operand):
            let value = try evaluate(operand)
            guard case .number(let n) = value else { throw ExpressionError("cannot negate \(value.typeName)") }
            return .number(-n)
        case .binary(let op, let lhs, let rhs):
            return try binary(op, lhs, rhs)
        case .call(let builtin, let arguments):
            return try call(builtin, arguments)
        }
    }

    private func member(_ value: JSONValue, _ field: String, describing path: String) throws(ExpressionError) -> JSONValue {
        guard case .object(let object) = value else {
            throw ExpressionError("'\(path)' is \(value.typeName), it has no field '\(field)'")
        }
        guard let next = object[field] else { throw ExpressionError("'\(path)' has no field '\(field)'") }
        return next
    }

    private func boolean(_ node: ExpressionNode, for op: String) throws(ExpressionError) -> Bool {
        let value = try evaluate(node)
        guard case .bool(let b) = value else {
            throw ExpressionError("'\(op)' needs booleans, got \(value.typeName) \(JSONWriter.string(value))")
        }
        return b
    }

    private func binary(_ op: BinaryOperator, _ lhs: ExpressionNode, _ rhs: ExpressionNode) throws(ExpressionError) -> JSONValue {
        switch op {
        case .and:
            return .bool(try boolean(lhs, for: "and") ? try boolean(rhs, for: "and") : false)
        case .or:
            return .bool(try boolean(lhs, for: "or") ? true : try boolean(rhs, for: "or"))
        default:
            break
        }
        let left = try evaluate(lhs)
        let right = try evaluate(rhs)
        switch op {
        case .equal, .notEqual:
            let equal: Bool
            switch (left, right) {
            case (.null, _), (_, .null): equal = left == right
            case (.number, .number), (.string, .string), (.bool, .bool), (.array, .array), (.object, .object):
                equal = left == right
            default:
                throw ExpressionError("cannot compare \(left.typeName) \(JSONWriter.string(left)) with \(right.typeName) \(JSONWriter.string(right))")
            }
            return .bool(op == .equal ? equal : !equal)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: Int
            switch (left, right) {
            case (.number(let a), .number(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
            case (.string(let a), .string(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
            default:
                throw ExpressionError("cannot order \(left.typeName) \(JSONWriter.string(left)) and \(right.typeName) \(JSONWriter.string(right)) with '\(op.rawValue)'")
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
            fatalError("handled above")
        }
    }

    private func string(_ node: ExpressionNode, in builtin: Builtin) throws(ExpressionError) -> String {
        let value = try evaluate(node)
        guard case .string(let s) = value else {
            throw ExpressionError("\(builtin.rawValue)() needs a string, got \(value.typeName) \(JSONWriter.string(value))")
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
        case .decimal:
            let value = try evaluate(arguments[0])
            let scaleValue = try evaluate(arguments[1])
            guard case .number(let n) = value, case .number(let scale) = scaleValue, scale == scale.rounded(), abs(scale) <= 15 else {
                throw ExpressionError("decimal() needs a number and a whole scale, got \(value.typeName) and \(scaleValue.typeName)")
            }
            let factor = pow(10, scale)
            return .number((n * factor).rounded(.toNearestOrEven) / factor)
        }
    }
}
