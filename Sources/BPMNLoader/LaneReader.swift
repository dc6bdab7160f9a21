import Expressions
import ProcessModel
import Values

/// Lanes: which lane holds each node (lanes choose performers).
extension ModelBuilder {
    mutating func scanLaneSet(_ laneSet: XMLElement, into scan: inout ProcessScan) {
        for lane in laneSet.children where lane.isBPMN("lane") {
            let location = index.locate(lane)
            register(id: lane.attribute("id"), location, element: "lane")
            let name = lane.attribute("name")
            scan.lanes.append(Lane(id: lane.attribute("id") ?? "", name: name, location: location))
            for child in lane.children {
                if child.isBPMN("flowNodeRef"), let name {
                    scan.laneOf[stripPrefix(child.text)] = name
                } else if child.isBPMN("childLaneSet") {
                    scanLaneSet(child, into: &scan)
                }
            }
        }
    }
}
