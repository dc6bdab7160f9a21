import Values

/// A file's BPMNDI: where each element is drawn (`LoadOptions.readDiagram`).
public struct Diagram: Sendable {
    public struct Bounds: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var width: Double
        public var height: Double

        public init(x: Double, y: Double, width: Double, height: Double) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
    }

    public struct Shape: Sendable {
        /// The BPMN element's id (`bpmnElement`).
        public var element: String
        public var bounds: Bounds
        public var label: Bounds?
        /// `isHorizontal` of pools and lanes (their label then runs vertically, on the left).
        public var isHorizontal: Bool
    }

    public struct Edge: Sendable {
        public var element: String
        public var points: [(x: Double, y: Double)]
        public var label: Bounds?
    }

    /// What the drawing needs to know of an element besides where it is.
    public struct Element: Sendable {
        /// Its BPMN name without a prefix: `userTask`, `exclusiveGateway`, `lane`, `messageFlow`, …
        public var kind: String
        public var name: String?
        /// Event definitions (`messageEventDefinition`, …) and integration elements (`webhook`, `email`, `notify`).
        public var markers: [String]
        /// A sequence flow that is its source's default, or has a condition.
        public var isDefault: Bool
        public var isConditional: Bool
        /// An event sub-process, a non-interrupting boundary event.
        public var triggeredByEvent: Bool
        public var cancelActivity: Bool
        /// A flow's source element.
        public var source: String?
    }

    public var shapes: [Shape] = []
    public var edges: [Edge] = []
    public var elements: [String: Element] = [:]

    public var isEmpty: Bool { shapes.isEmpty && edges.isEmpty }

    public init() {}
}

enum DiagramNamespaces {
    static let bpmndi = "http://www.omg.org/spec/BPMN/20100524/DI"
    static let dc = "http://www.omg.org/spec/DD/20100524/DC"
    static let di = "http://www.omg.org/spec/DD/20100524/DI"
}

extension Diagram {
    /// The first `BPMNDiagram` of a definitions element (its planes' shapes and edges).
    static func read(_ root: XMLElement) -> Diagram {
        var diagram = Diagram()
        func number(_ element: XMLElement, _ name: String) -> Double { Double(element.attribute(name) ?? "") ?? 0 }
        func bounds(_ element: XMLElement) -> Bounds? {
            guard
                let found = element.children.first(where: {
                    $0.namespace == DiagramNamespaces.dc && $0.localName == "Bounds"
                })
            else { return nil }
            return Bounds(
                x: number(found, "x"), y: number(found, "y"), width: number(found, "width"),
                height: number(found, "height"))
        }
        func label(_ element: XMLElement) -> Bounds? {
            element.children.first { $0.namespace == DiagramNamespaces.bpmndi && $0.localName == "BPMNLabel" }.flatMap(
                bounds)
        }
        var defaults: Set<String> = []
        func collect(_ element: XMLElement) {
            for child in element.children where child.isInBPMN {
                let kind = child.localName
                if let id = child.attribute("id") {
                    var markers: [String] = []
                    for inner in child.children {
                        if inner.isInBPMN && inner.localName.hasSuffix("EventDefinition") {
                            markers.append(inner.localName)
                        } else if inner.isBPMN("extensionElements") {
                            for ext in inner.children where ext.namespace == Namespaces.procrun {
                                markers.append(ext.localName)
                            }
                            for ext in inner.children
                            where ext.namespace == Namespaces.zeebe && ext.localName == "taskDefinition" {
                                markers.append(
                                    ext.attribute("type") == RESTConnectorReader.taskType ? "webhook" : "job")
                            }
                        }
                    }
                    if let flow = child.attribute("default") { defaults.insert(flow) }
                    diagram.elements[id] = Element(
                        kind: kind, name: child.attribute("name"), markers: markers, isDefault: false,
                        isConditional: child.children.contains { $0.isBPMN("conditionExpression") },
                        triggeredByEvent: child.attribute("triggeredByEvent") == "true",
                        cancelActivity: child.attribute("cancelActivity") != "false",
                        source: child.attribute("sourceRef"))
                }
                if ["process", "subProcess", "transaction", "adHocSubProcess", "collaboration", "laneSet", "lane"]
                    .contains(kind) || kind.hasSuffix("Set")
                {
                    collect(child)
                }
            }
        }
        collect(root)
        for flow in defaults { diagram.elements[flow]?.isDefault = true }
        for child in root.children where child.namespace == DiagramNamespaces.bpmndi && child.localName == "BPMNDiagram"
        {
            for plane in child.children
            where plane.namespace == DiagramNamespaces.bpmndi && plane.localName == "BPMNPlane" {
                for item in plane.children where item.namespace == DiagramNamespaces.bpmndi {
                    guard let element = item.attribute("bpmnElement") else { continue }
                    if item.localName == "BPMNShape", let box = bounds(item) {
                        diagram.shapes.append(
                            Shape(
                                element: element, bounds: box, label: label(item),
                                isHorizontal: item.attribute("isHorizontal") != "false"))
                    } else if item.localName == "BPMNEdge" {
                        let points = item.children.filter {
                            $0.namespace == DiagramNamespaces.di && $0.localName == "waypoint"
                        }.map { (x: number($0, "x"), y: number($0, "y")) }
                        if points.count >= 2 {
                            diagram.edges.append(Edge(element: element, points: points, label: label(item)))
                        }
                    }
                }
            }
            break
        }
        return diagram
    }
}
