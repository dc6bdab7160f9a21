import BPMNLoader
import Expressions
import Foundation
import Integrations
import Values

/// What one fuzz target does with one input. Each target only parses, validates and evaluates:
/// nothing here runs a process, opens a store or touches the network.
///
/// A target returns normally for every input, whether the input was valid or not; bad input must
/// become an error value. A crash, a trap (`precondition`) or a hang is a finding.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// `BPMNLoader.load(bytes:file:)`: libxml2, the model builder and every validation rule.
    case loader
    /// FEEL conditions in all three spellings (`x`, `=x`, `${x}`), bare text read as FEEL and as
    /// JUEL, and FEEL scripts; whatever parses is also evaluated.
    case feel
    /// ELMA365 templates: parsed, then rendered as a URL and as text.
    case template
    /// The strict JSON parser; whatever parses must write back to JSON that parses to the same value.
    case json

    func run(_ bytes: [UInt8]) {
        switch self {
        case .loader: Self.loader(bytes)
        case .feel: Self.feel(String(decoding: bytes, as: UTF8.self))
        case .template: Self.template(String(decoding: bytes, as: UTF8.self))
        case .json: Self.json(bytes)
        }
    }

    /// Variables the evaluated expressions and rendered templates can read.
    static let context: JSONObject =
        ([
            "amount": 1500, "total": -0.5, "big": 1e300, "name": "Иван", "vip": true, "empty": "",
            "customer": ["tier": "gold", "address": ["city": "Москва"]], "tags": ["a", "b"], "nothing": nil,
            "created": "2024-03-15T10:30:00Z", "base": "https://example.org/api",
        ] as JSONValue).objectValue!

    static let environment = RenderEnvironment(
        now: Date(timeIntervalSince1970: 1_710_498_600), timeZone: TimeZone(identifier: "Europe/Moscow")!,
        environment: ["PROCRUN_SECRET_TOKEN": "p@ss w/rd"])

    static func loader(_ bytes: [UInt8]) {
        for options in [LoadOptions(), LoadOptions(opaqueScripts: true, bareConditions: .juel)] {
            let result = BPMNLoader.load(bytes: bytes, file: "fuzz.bpmn", options: options)
            precondition(result.hasErrors || result.definitions != nil, "no errors, yet no model")
            for diagnostic in result.diagnostics { _ = diagnostic.description }
        }
    }

    static func feel(_ text: String) {
        for bare in [Dialect.feel, .juel] {
            guard let expression = try? FEELExpression(text, bare: bare) else { continue }
            _ = try? expression.evaluate(in: context)
            _ = try? expression.evaluateCondition(in: context)
        }
        if let script = try? FEELScript(text) {
            _ = try? script.run(in: context)
        }
    }

    static func template(_ text: String) {
        guard let template = try? Template(text) else { return }
        _ = template.variables
        for inURL in [false, true] {
            var secrets: [String] = []
            _ = try? RequestBuilder.render(
                template, context: context, environment: environment, secrets: &secrets, inURL: inURL)
        }
    }

    static func json(_ bytes: [UInt8]) {
        guard let value = try? JSONParser.parse(bytes, file: "fuzz.json") else { return }
        for pretty in [false, true] {
            let written = JSONWriter.string(value, pretty: pretty)
            let reread: JSONValue
            do {
                reread = try JSONParser.parse(written, file: "written.json")
            } catch {
                preconditionFailure("JSONWriter wrote JSON that does not parse back: \(error)\n\(written)")
            }
            precondition(reread == value, "JSONWriter changed the value:\n\(written)")
        }
    }
}
