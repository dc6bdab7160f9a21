import BPMNLoader
import Foundation

/// Draws a file's BPMNDI as SVG, as BPMN shows it, with what an instance (or a test run) covered.
public enum DiagramSVG {
    /// What to mark: nodes and flows passed, tokens waiting, the node of an incident. Everything
    /// else is drawn dimmed when `dimOthers`.
    public struct Highlight: Sendable {
        public var nodes: Set<String> = []
        public var flows: Set<String> = []
        public var waiting: Set<String> = []
        public var incident: String?
        public var dimOthers = true

        public init(
            nodes: Set<String> = [], flows: Set<String> = [], waiting: Set<String> = [], incident: String? = nil,
            dimOthers: Bool = true
        ) {
            self.nodes = nodes
            self.flows = flows
            self.waiting = waiting
            self.incident = incident
            self.dimOthers = dimOthers
        }
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF: out += " "
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    /// A name broken into lines of at most `width` characters.
    static func lines(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    static func text(_ name: String, centerX: Double, centerY: Double, width: Double, size: Double = 12) -> String {
        let wrapped = lines(name, width: max(6, Int(width / (size * 0.55))))
        let top = centerY - Double(wrapped.count - 1) * size * 0.6
        return wrapped.enumerated().map { index, line in
            "<text x=\"\(number(centerX))\" y=\"\(number(top + Double(index) * size * 1.2))\" font-size=\"\(number(size))\" text-anchor=\"middle\" dominant-baseline=\"middle\">\(escape(line))</text>"
        }.joined()
    }

    static let eventKinds: Set<String> = [
        "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    ]

    /// A short glyph for an event definition.
    static func glyph(_ markers: [String]) -> String? {
        let glyphs: [String: String] = [
            "messageEventDefinition": "✉", "timerEventDefinition": "⏱", "errorEventDefinition": "⚡",
            "signalEventDefinition": "▲", "escalationEventDefinition": "⇑", "terminateEventDefinition": "●",
            "conditionalEventDefinition": "≡", "compensateEventDefinition": "«", "linkEventDefinition": "→",
            "cancelEventDefinition": "✕",
        ]
        return markers.lazy.compactMap { glyphs[$0] }.first
    }

    public static func render(_ diagram: Diagram, highlight: Highlight? = nil) -> String {
        var minX = Double.infinity
        var minY = Double.infinity
        var maxX = -Double.infinity
        var maxY = -Double.infinity
        func extend(_ x: Double, _ y: Double) {
            minX = min(minX, x)
            minY = min(minY, y)
            maxX = max(maxX, x)
            maxY = max(maxY, y)
        }
        for shape in diagram.shapes {
            extend(shape.bounds.x, shape.bounds.y)
            extend(shape.bounds.x + shape.bounds.width, shape.bounds.y + shape.bounds.height)
            if let label = shape.label { extend(label.x + label.width, label.y + label.height) }
        }
        for edge in diagram.edges { for point in edge.points { extend(point.x, point.y) } }
        if !minX.isFinite { (minX, minY, maxX, maxY) = (0, 0, 100, 100) }
        let margin = 20.0
        let width = maxX - minX + 2 * margin
        let height = maxY - minY + 2 * margin
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(number(width))" height="\(number(height))" viewBox="\(number(minX - margin)) \(number(minY - margin)) \(number(width)) \(number(height))" font-family="DejaVu Sans, Arial, sans-serif">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>
            <marker id="arrow-open" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="white" stroke="#333"/></marker></defs>
            <rect x="\(number(minX - margin))" y="\(number(minY - margin))" width="\(number(width))" height="\(number(height))" fill="white"/>

            """
        let passed = "#2e7d32"
        let waitingColor = "#ef6c00"
        let incidentColor = "#c62828"
        func colors(_ id: String) -> (stroke: String, fill: String, width: Double, opacity: Double) {
            guard let highlight else { return ("#222", "white", 1.5, 1) }
            if highlight.incident == id { return (incidentColor, "#ffebee", 3, 1) }
            if highlight.waiting.contains(id) { return (waitingColor, "#fff3e0", 3, 1) }
            if highlight.nodes.contains(id) { return (passed, "#e8f5e9", 2.5, 1) }
            return ("#222", "white", 1.5, highlight.dimOthers ? 0.4 : 1)
        }
        // Pools and lanes first, under everything else.
        let containers = diagram.shapes.filter {
            ["participant", "lane"].contains(diagram.elements[$0.element]?.kind ?? "")
        }
        for shape in containers {
            let b = shape.bounds
            let name = diagram.elements[shape.element]?.name ?? ""
            svg +=
                "<g id=\"\(escape(shape.element))\"><rect x=\"\(number(b.x))\" y=\"\(number(b.y))\" width=\"\(number(b.width))\" height=\"\(number(b.height))\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\"/>"
            if shape.isHorizontal && !name.isEmpty {
                let cx = b.x + 15
                let cy = b.y + b.height / 2
                svg +=
                    "<text x=\"\(number(cx))\" y=\"\(number(cy))\" font-size=\"12\" text-anchor=\"middle\" dominant-baseline=\"middle\" transform=\"rotate(-90 \(number(cx)) \(number(cy)))\">\(escape(name))</text>"
            } else if !name.isEmpty {
                svg += text(name, centerX: b.x + b.width / 2, centerY: b.y + 15, width: b.width)
            }
            svg += "</g>\n"
        }
        // Sub-processes, then the other shapes (boundary events last, over their activity).
        let others = diagram.shapes.filter {
            !["participant", "lane"].contains(diagram.elements[$0.element]?.kind ?? "")
        }
        let ordered =
            others.filter {
                (diagram.elements[$0.element]?.kind ?? "").hasSuffix("ubProcess")
                    || diagram.elements[$0.element]?.kind == "transaction"
            }
            + others.filter {
                let kind = diagram.elements[$0.element]?.kind ?? ""
                return !(kind.hasSuffix("ubProcess") || kind == "transaction" || kind == "boundaryEvent")
            }
            + others.filter { diagram.elements[$0.element]?.kind == "boundaryEvent" }
        for shape in ordered {
            let element = diagram.elements[shape.element]
            let kind = element?.kind ?? ""
            let b = shape.bounds
            let (stroke, fill, strokeWidth, opacity) = colors(shape.element)
            svg += "<g id=\"\(escape(shape.element))\" opacity=\"\(number(opacity))\">"
            let cx = b.x + b.width / 2
            let cy = b.y + b.height / 2
            var nameInside = false
            if eventKinds.contains(kind) {
                let r = min(b.width, b.height) / 2
                let thick = kind == "endEvent" ? 4.0 : strokeWidth
                let dash =
                    kind == "boundaryEvent" && element?.cancelActivity == false ? " stroke-dasharray=\"4 3\"" : ""
                svg +=
                    "<circle cx=\"\(number(cx))\" cy=\"\(number(cy))\" r=\"\(number(r))\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(number(thick))\"\(dash)/>"
                if kind.hasPrefix("intermediate") || kind == "boundaryEvent" {
                    svg +=
                        "<circle cx=\"\(number(cx))\" cy=\"\(number(cy))\" r=\"\(number(r - 3))\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"1.2\"\(dash)/>"
                }
                if let glyph = glyph(element?.markers ?? []) {
                    let filled = kind == "endEvent" || kind == "intermediateThrowEvent"
                    svg +=
                        "<text x=\"\(number(cx))\" y=\"\(number(cy + 1))\" font-size=\"\(number(r))\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"\(filled ? "#000" : stroke)\">\(glyph)</text>"
                }
            } else if kind.hasSuffix("Gateway") {
                let points = [(cx, b.y), (b.x + b.width, cy), (cx, b.y + b.height), (b.x, cy)].map {
                    "\(number($0.0)),\(number($0.1))"
                }.joined(separator: " ")
                svg +=
                    "<polygon points=\"\(points)\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(number(strokeWidth))\"/>"
                let marker: String? =
                    switch kind {
                    case "exclusiveGateway": "×"
                    case "parallelGateway": "+"
                    case "complexGateway": "✱"
                    case "eventBasedGateway": "⬠"
                    default: nil
                    }
                if kind == "inclusiveGateway" {
                    svg +=
                        "<circle cx=\"\(number(cx))\" cy=\"\(number(cy))\" r=\"\(number(b.width / 4.5))\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"2.5\"/>"
                } else if let marker {
                    svg +=
                        "<text x=\"\(number(cx))\" y=\"\(number(cy + 1))\" font-size=\"\(number(b.height * 0.55))\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"\(stroke)\">\(marker)</text>"
                }
            } else if kind.hasSuffix("ubProcess") || kind == "transaction" || kind.hasSuffix("Task") || kind == "task"
                || kind == "callActivity"
            {
                let dash = element?.triggeredByEvent == true ? " stroke-dasharray=\"5 3\"" : ""
                let border = kind == "callActivity" ? 4.0 : strokeWidth
                svg +=
                    "<rect x=\"\(number(b.x))\" y=\"\(number(b.y))\" width=\"\(number(b.width))\" height=\"\(number(b.height))\" rx=\"10\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(number(border))\"\(dash)/>"
                if kind == "transaction" {
                    svg +=
                        "<rect x=\"\(number(b.x + 3))\" y=\"\(number(b.y + 3))\" width=\"\(number(b.width - 6))\" height=\"\(number(b.height - 6))\" rx=\"8\" fill=\"none\" stroke=\"\(stroke)\"/>"
                }
                let markers = element?.markers ?? []
                let type: String? =
                    if markers.contains("webhook") { "⇄ webhook" } else if markers.contains("email") {
                        "✉ e-mail"
                    } else if markers.contains("notify") { "☎ notify" } else {
                        // Glyphs DejaVu Sans has (no emoji: a browser or rsvg without an emoji font draws boxes).
                        switch kind {
                        case "userTask": "☺"
                        case "serviceTask": "⚙"
                        case "scriptTask": "☰"
                        case "sendTask": "✉"
                        case "receiveTask": "✉"
                        case "manualTask": "✍"
                        case "businessRuleTask": "▦"
                        default: nil
                        }
                    }
                if let type {
                    svg +=
                        "<text x=\"\(number(b.x + 6))\" y=\"\(number(b.y + 13))\" font-size=\"11\" fill=\"\(stroke)\">\(escape(type))</text>"
                }
                if kind.hasSuffix("ubProcess") || kind == "transaction" {
                    if let name = element?.name {
                        svg += text(name, centerX: cx, centerY: b.y + 14, width: b.width - 20)
                    }
                } else {
                    nameInside = true
                    if let name = element?.name {
                        svg += text(name, centerX: cx, centerY: cy + 4, width: b.width - 8, size: 11)
                    }
                }
            } else {
                svg +=
                    "<rect x=\"\(number(b.x))\" y=\"\(number(b.y))\" width=\"\(number(b.width))\" height=\"\(number(b.height))\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"3 3\"/>"
            }
            if !nameInside, !(kind.hasSuffix("ubProcess") || kind == "transaction"), let name = element?.name,
                !name.isEmpty
            {
                let label = shape.label ?? Diagram.Bounds(x: cx - 50, y: b.y + b.height + 4, width: 100, height: 14)
                svg += text(
                    name, centerX: label.x + label.width / 2, centerY: label.y + label.height / 2,
                    width: max(label.width, 60), size: 11)
            }
            svg += "</g>\n"
        }
        for edge in diagram.edges {
            let element = diagram.elements[edge.element]
            let points = edge.points.map { "\(number($0.x)),\(number($0.y))" }.joined(separator: " ")
            let isMessage = element?.kind == "messageFlow"
            let isAssociation =
                element?.kind.hasPrefix("association") == true || element?.kind == "dataInputAssociation"
                || element?.kind == "dataOutputAssociation"
            var stroke = "#222"
            var strokeWidth = 1.5
            var opacity = 1.0
            if let highlight, !isMessage {
                if highlight.flows.contains(edge.element) {
                    stroke = passed
                    strokeWidth = 3
                } else if highlight.dimOthers {
                    opacity = 0.4
                }
            }
            let dash = isMessage ? " stroke-dasharray=\"6 4\"" : isAssociation ? " stroke-dasharray=\"2 3\"" : ""
            let end =
                isAssociation ? "" : isMessage ? " marker-end=\"url(#arrow-open)\"" : " marker-end=\"url(#arrow)\""
            svg +=
                "<g id=\"\(escape(edge.element))\" opacity=\"\(number(opacity))\"><polyline points=\"\(points)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(number(strokeWidth))\"\(dash)\(end)/>"
            let start = edge.points[0]
            let next = edge.points[1]
            let length = max(
                1, ((next.x - start.x) * (next.x - start.x) + (next.y - start.y) * (next.y - start.y)).squareRoot())
            let (dx, dy) = ((next.x - start.x) / length, (next.y - start.y) / length)
            if isMessage {
                svg +=
                    "<circle cx=\"\(number(start.x))\" cy=\"\(number(start.y))\" r=\"3.5\" fill=\"white\" stroke=\"#333\"/>"
            } else if element?.isDefault == true {
                // A slash across the flow near its source.
                let (mx, my) = (start.x + dx * 10, start.y + dy * 10)
                svg +=
                    "<line x1=\"\(number(mx - dy * 6 - dx * 4))\" y1=\"\(number(my + dx * 6 - dy * 4))\" x2=\"\(number(mx + dy * 6 + dx * 4))\" y2=\"\(number(my - dx * 6 + dy * 4))\" stroke=\"\(stroke)\" stroke-width=\"1.5\"/>"
            } else if element?.isConditional == true,
                !(element?.source.flatMap { diagram.elements[$0]?.kind }?.hasSuffix("Gateway") ?? false)
            {
                // (A conditional flow out of an activity; out of a gateway it has no marker.)
                // A small diamond at the source.
                let (ax, ay) = (start.x + dx * 8, start.y + dy * 8)
                let (bx, by) = (start.x + dx * 16, start.y + dy * 16)
                let diamond = [
                    (start.x, start.y), (ax - dy * 4, ay + dx * 4), (bx, by), (ax + dy * 4, ay - dx * 4),
                ].map { "\(number($0.0)),\(number($0.1))" }.joined(separator: " ")
                svg += "<polygon points=\"\(diamond)\" fill=\"white\" stroke=\"\(stroke)\"/>"
            }
            if let name = element?.name, !name.isEmpty {
                let label =
                    edge.label
                    ?? Diagram.Bounds(
                        x: (edge.points[0].x + edge.points[1].x) / 2 - 30,
                        y: (edge.points[0].y + edge.points[1].y) / 2 - 16,
                        width: 60, height: 14)
                svg += text(
                    name, centerX: label.x + label.width / 2, centerY: label.y + label.height / 2,
                    width: max(label.width, 40), size: 11)
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }
}
